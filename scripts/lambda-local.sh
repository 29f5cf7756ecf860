#!/usr/bin/env bash
# Runs examples/lambda under cargo-lambda's local Lambda emulator and invokes it with the
# API Gateway events of examples/lambda/events/, checking every answer.
#
#   scripts/lambda-local.sh            # exit status 0 when every case passed
#
# Needs: a Rust toolchain, python3 with pip (cargo-lambda is installed with
# `pip install cargo-lambda` when missing), openssl. No AWS account: `cargo lambda watch`
# emulates the Lambda runtime API and `cargo lambda invoke` sends it events.
# Environment: LAMBDA_PORT (default 9753), the emulator's port.
set -euo pipefail

cd "$(dirname "$0")/.."
PORT="${LAMBDA_PORT:-9753}"
FUNCTION=tollgate-lambda-router
EVENTS=examples/lambda/events
WORK="$(mktemp -d)"
WATCH_PID=""

cleanup() {
    if [[ -n "$WATCH_PID" ]] && kill -0 "$WATCH_PID" 2>/dev/null; then
        kill "$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/cargo-lambda.sh
source scripts/cargo-lambda.sh

# The function's settings: a Cognito-like issuer, roles in `cognito:groups`, and trust in
# API Gateway's verdict (requests without one are verified with the public key).
export TOLLGATE_ISSUER="https://cognito-idp.us-east-2.amazonaws.com/us-east-2_EXAMPLE"
export TOLLGATE_AUDIENCE="tollgate-lambda-local"
export TOLLGATE_ROLES_CLAIM="cognito:groups"
openssl genpkey -algorithm ed25519 -out "$WORK/key.pem" 2>/dev/null
openssl pkey -in "$WORK/key.pem" -pubout -out "$WORK/key.pub.pem"

echo "== building the function and the token tool"
nice -n 5 cargo build -q -p "$FUNCTION" --bin "$FUNCTION" --example mint_token
mint() { cargo run -q -p "$FUNCTION" --example mint_token -- "$WORK/key.pem" "$@"; }
ALICE="$(mint alice user)"
ADMIN="$(mint admin user admin)"

echo "== starting cargo lambda watch on port $PORT"
# RUST_LOG is left to the function's default (info,tollgate_axum=debug): --env-var splits
# values at commas, and the env file parser refuses an unquoted `=` in a value.
cat >"$WORK/function.env" <<EOF
TOLLGATE_PUBLIC_KEY_FILE=$WORK/key.pub.pem
TOLLGATE_ISSUER=$TOLLGATE_ISSUER
TOLLGATE_AUDIENCE=$TOLLGATE_AUDIENCE
TOLLGATE_ROLES_CLAIM=$TOLLGATE_ROLES_CLAIM
TOLLGATE_TRUST_API_GATEWAY=1
EOF
cargo lambda watch -p "$FUNCTION" --bin "$FUNCTION" --ignore-changes -P "$PORT" \
    --env-file "$WORK/function.env" >"$WORK/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 100); do
    grep -q "starting Runtime server" "$WORK/watch.log" && break
    kill -0 "$WATCH_PID" 2>/dev/null || { cat "$WORK/watch.log"; exit 1; }
    sleep 0.2
done

failures=0
# case <event file> <token or -> <expected status> [text the WWW-Authenticate must contain]
case_() {
    local event="$1" token="$2" expected="$3" challenge="${4:-}"
    local data="$WORK/event.json"
    sed "s|\${TOKEN}|$token|g" "$EVENTS/$event" >"$data"
    local answer
    if ! answer="$(cargo lambda invoke "$FUNCTION" -A 127.0.0.1 -P "$PORT" \
        --data-file "$data" --output-format json 2>&1)"; then
        echo "FAIL $event: invoke failed: $answer"
        failures=$((failures + 1))
        return
    fi
    local got
    got="$(python3 - "$answer" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
headers = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
for k, v in (r.get("multiValueHeaders") or {}).items():
    headers.setdefault(k.lower(), v[0] if v else "")
print(f'{r["statusCode"]}\t{headers.get("www-authenticate", "")}')
PY
)"
    local status="${got%%$'\t'*}" www="${got#*$'\t'}"
    if [[ "$status" == "$expected" && "$www" == *"$challenge"* ]]; then
        echo "ok   $status $event${www:+  (WWW-Authenticate: $www)}"
    else
        echo "FAIL $event: expected $expected${challenge:+ with '$challenge'}, got $status: $answer"
        failures=$((failures + 1))
    fi
}

echo "== verifying in the function (bearer tokens, no authorizer)"
case_ http-api-bearer-me.json "$ALICE" 200
case_ http-api-bearer-me.json "not-a-token" 401 'error="invalid_token"'
case_ rest-api-bearer-admin.json "$ADMIN" 200
case_ rest-api-bearer-admin.json "$ALICE" 403 'error="insufficient_scope"'
echo "== trusting API Gateway's verdict (claims forwarded by its authorizer)"
case_ http-api-jwt-authorizer-admin.json - 200
case_ http-api-jwt-authorizer-user.json - 403 'error="insufficient_scope"'
case_ rest-api-cognito-authorizer-admin.json - 200
case_ rest-api-lambda-authorizer-me.json - 200
case_ http-api-spoofed-context-header.json - 401 'realm="tollgate-lambda"'
echo "== revocation still applies to the gateway's claims"
case_ http-api-jwt-authorizer-logout.json - 204
case_ http-api-jwt-authorizer-admin.json - 401 'error_description="token revoked"'

echo "== a forged request context in a header, through the emulator's function URL"
spoof="$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$PORT/lambda-url/$FUNCTION/admin" \
    -H 'x-amzn-request-context: {"authorizer":{"jwt":{"claims":{"sub":"attacker","cognito:groups":"[admin]"}}}}')"
if [[ "$spoof" == 401 ]]; then
    echo "ok   401 function URL with a forged x-amzn-request-context header"
else
    echo "FAIL function URL with a forged header: expected 401, got $spoof"
    failures=$((failures + 1))
fi

echo "== the function's log"
sed 's/\x1b\[[0-9;]*m//g' "$WORK/watch.log" | grep -oE 'initialised.*|tollgate_axum::.*' | sed 's/^/   /' || true

if ((failures)); then
    echo "== $failures case(s) FAILED"
    exit 1
fi
echo "== all cases passed"
