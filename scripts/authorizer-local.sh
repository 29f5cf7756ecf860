#!/usr/bin/env bash
# Runs the API Gateway authorizer (package tollgate-authorizer) under cargo-lambda's local
# Lambda emulator, with revocations in a Redis of its own, and invokes it with the
# authorizer events of crates/tollgate-lambda/events/, checking every answer: Allow, Deny
# for a missing role, Unauthorized for a bad token, and a token revoked by another process
# (the `tollgate revoke` CLI, through the same Redis) refused on the next invocation.
#
#   scripts/authorizer-local.sh        # exit status 0 when every case passed
#
# Needs: a Rust toolchain, python3 with pip (cargo-lambda is installed with
# `pip install cargo-lambda` when missing), redis-server on PATH. No AWS account.
# Environment: LAMBDA_PORT (default 9754), the emulator's port; AUTHORIZER_RELEASE=1 builds
# and runs the function in release mode (as deployed; for the timings printed at the end).
set -euo pipefail

cd "$(dirname "$0")/.."
PORT="${LAMBDA_PORT:-9754}"
FUNCTION=tollgate-authorizer
EVENTS=crates/tollgate-lambda/events
WORK="$(mktemp -d)"
WATCH_PID=""
REDIS_PID=""

cleanup() {
    for pid in "$WATCH_PID" "$REDIS_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/cargo-lambda.sh
source scripts/cargo-lambda.sh
command -v redis-server >/dev/null || { echo "redis-server is not on PATH (apt-get install redis-server)" >&2; exit 1; }

# A Redis of this run's own, on a free loopback port.
REDIS_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done
export TOLLGATE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"

ISSUER="https://idp.example"
AUDIENCE="orders-api"
PROFILE=()
[[ "${AUTHORIZER_RELEASE:-0}" == 1 ]] && PROFILE=(--release)
echo "== building the function and the CLI ${PROFILE[*]}"
nice -n 5 cargo build -q -p "$FUNCTION" -p tollgate-cli
[[ ${#PROFILE[@]} -gt 0 ]] && nice -n 5 cargo build -q --release -p "$FUNCTION"
TOLLGATE=target/debug/tollgate
"$TOLLGATE" keygen --alg EdDSA --kid demo-1 --out "$WORK/keys" >/dev/null
mint() { "$TOLLGATE" mint --key "$WORK/keys/demo-1.private.pem" --iss "$ISSUER" --aud "$AUDIENCE" "$@"; }
ALICE="$(mint --sub alice --role user --scope orders.read)"
ADMIN="$(mint --sub root --role admin)"

echo "== starting cargo lambda watch on port $PORT (Redis on $REDIS_PORT)"
cat >"$WORK/function.env" <<EOF
TOLLGATE_ISSUER=$ISSUER
TOLLGATE_AUDIENCE=$AUDIENCE
TOLLGATE_PUBLIC_KEY_FILE=$WORK/keys/demo-1.public.pem
REDIS_URL=$TOLLGATE_REDIS_URL
TOLLGATE_ROUTES="GET /admin=role:admin; ANY /orders/*=scope:orders.read"
TOLLGATE_TOKEN_QUERY=access_token
EOF
cargo lambda watch "${PROFILE[@]}" -p "$FUNCTION" --bin "$FUNCTION" --ignore-changes -P "$PORT" \
    --env-file "$WORK/function.env" >"$WORK/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 600); do
    grep -q "starting Runtime server" "$WORK/watch.log" && break
    kill -0 "$WATCH_PID" 2>/dev/null || { cat "$WORK/watch.log"; exit 1; }
    sleep 0.1
done

failures=0
STAGE="arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod"

# The verdict of one invocation, as API Gateway reads it for `route` (METHOD/path):
# allow, deny, unauthorized, or error: <message>.
verdict() {
    local event="$1" token="$2" route="$3" data="$WORK/event.json" answer
    python3 - "$EVENTS/$event" "$token" "$STAGE/$route" >"$data" <<'PY'
import json, sys
event = json.loads(open(sys.argv[1]).read().replace("${TOKEN}", sys.argv[2]))
arn = sys.argv[3]
if "routeArn" in event:
    event["routeArn"] = arn
elif event.get("type") == "TOKEN" or not arn.endswith("$connect"):
    event["methodArn"] = arn
print(json.dumps(event))
PY
    if answer="$(cargo lambda invoke "$FUNCTION" -A 127.0.0.1 -P "$PORT" \
        --data-file "$data" --output-format json 2>&1)"; then
        python3 - "$answer" "$STAGE/$route" <<'PY'
import json, re, sys
answer, arn = json.loads(sys.argv[1]), sys.argv[2]
if "isAuthorized" in answer:
    print("allow" if answer["isAuthorized"] else "deny")
    sys.exit()
def matches(pattern):
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), arn) is not None
statements = answer["policyDocument"]["Statement"]
def any_of(effect):
    return any(s["Effect"] == effect and any(matches(r) for r in s["Resource"]) for s in statements)
print("deny" if any_of("Deny") or not any_of("Allow") else "allow")
PY
    elif [[ "$answer" == *Unauthorized* ]]; then
        echo unauthorized
    else
        echo "error: $answer"
    fi
}

case_() {
    local expected="$1" event="$2" token="$3" route="$4" what="$5" got
    got="$(verdict "$event" "$token" "$route")"
    if [[ "$got" == "$expected" ]]; then
        echo "ok   $expected  $event $route  ($what)"
    else
        echo "FAIL $event $route ($what): expected $expected, got $got"
        failures=$((failures + 1))
    fi
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
echo "== every event kind, a valid token"
started=$(now_ms)
case_ allow rest-api-token.json "$ALICE" GET/me "REST TOKEN"
FIRST_MS=$(( $(now_ms) - started ))
started=$(now_ms)
case_ allow rest-api-token.json "$ALICE" GET/me "REST TOKEN, warm"
WARM_MS=$(( $(now_ms) - started ))
case_ allow rest-api-request.json "$ALICE" GET/me "REST REQUEST"
case_ allow http-api-v1-request.json "$ALICE" GET/me "HTTP API 1.0"
case_ allow http-api-v2-request.json "$ALICE" GET/me "HTTP API 2.0, IAM policy"
case_ allow websocket-connect.json "$ALICE" '$connect' "WebSocket \$connect, token in the query"
echo "== route rules"
case_ deny rest-api-token.json "$ALICE" GET/admin "alice lacks the admin role"
case_ allow rest-api-token.json "$ADMIN" GET/admin "root has it"
case_ allow rest-api-token.json "$ALICE" POST/orders/7 "alice has orders.read"
case_ deny rest-api-token.json "$ADMIN" POST/orders/7 "root lacks orders.read"
echo "== bad tokens"
case_ unauthorized rest-api-token.json "not-a-token" GET/me "malformed"
if [[ "${ALICE: -1}" == A ]]; then TAMPERED="${ALICE%?}B"; else TAMPERED="${ALICE%?}A"; fi
case_ unauthorized rest-api-token.json "$TAMPERED" GET/me "tampered signature"
case_ unauthorized http-api-v2-request.json "" GET/me "no token"

echo "== revoked by another process: tollgate revoke --sub alice, through the shared Redis"
"$TOLLGATE" revoke --iss "$ISSUER" --sub alice >/dev/null
# The revocation reaches the function by Redis' push; poll until it is honoured, at most 5 s
# (the function's bound on a cached "not revoked").
started=$(date +%s%N)
got=""
for _ in $(seq 1 50); do
    got="$(verdict rest-api-token.json "$ALICE" GET/me)"
    [[ "$got" == unauthorized ]] && break
    sleep 0.1
done
ms=$(( ($(date +%s%N) - started) / 1000000 ))
if [[ "$got" == unauthorized ]]; then
    echo "ok   unauthorized  alice's token after tollgate revoke (honoured within $ms ms)"
else
    echo "FAIL alice's token after tollgate revoke: expected unauthorized, got $got"
    failures=$((failures + 1))
fi
case_ allow rest-api-token.json "$ADMIN" GET/admin "other users are unaffected"

echo "== timings (wall time of one check: cargo lambda invoke, the answer's evaluation)"
echo "   first invocation (the emulator starts the function: exec, init, answer): $FIRST_MS ms"
echo "   the same invocation, warm: $WARM_MS ms"
echo "== the function's log"
sed 's/\x1b\[[0-9;]*m//g' "$WORK/watch.log" | grep -oE 'initialised.*' | sed 's/^/   /' || true

if ((failures)); then
    echo "== $failures case(s) FAILED"
    exit 1
fi
echo "== all cases passed"
