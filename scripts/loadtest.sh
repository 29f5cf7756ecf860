#!/usr/bin/env bash
# The load test: drives the tollgate-loadtest server (release build, 127.0.0.1 only)
# with wrk and prints requests/s and latency p50/p99 for /noauth, /rs256 and /rs256-cached,
# then /rs256 of jwt-authorizer-server (jwt-authorizer 0.15 on axum 0.7, from the separate
# benches/peers workspace; same key, rules and token) and the ratios tollgate /rs256 ÷
# jwt-authorizer /rs256 and /rs256-cached ÷ /noauth; then the tollgate server's resident size
# (VmRSS) before and after a run of /rs256-cached that rotates through LOADTEST_TOKENS
# distinct valid tokens.
#
#   scripts/loadtest.sh
#
# Environment: LOADTEST_DURATION (s, per route; default 10), LOADTEST_MEM_DURATION (s, the
# memory run; default 60), LOADTEST_TOKENS (default 100000), LOADTEST_ROUNDS (back-to-back
# pairs per ratio; default 3), LOADTEST_SKIP_MEMORY=1 (stop after the ratios: no minting, no
# memory run), LOADTEST_PIN=0 (do not pin; see below).
#
# Pinning (default when `taskset` exists and there are at least two CPUs): the servers run on
# CPU 0 and wrk (one thread) on CPU 1, so that a server's requests/s measure its own cost per
# request on one core instead of how the scheduler shares two cores between it and wrk (which
# made back-to-back runs differ by up to 20 %). Without pinning: `wrk -t2`, unpinned. Bounded: every wrk run has a fixed duration,
# and both servers are killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${LOADTEST_DURATION:-10}"
MEM_DURATION="${LOADTEST_MEM_DURATION:-60}"
TOKENS="${LOADTEST_TOKENS:-100000}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found; installing it from the OS packages" >&2
    apt-get install -y wrk >&2
fi

cargo build --release -q -p tollgate-loadtest
BIN=target/release/tollgate-loadtest
# jwt-authorizer needs axum 0.7: its server lives in the separate benches/peers workspace.
cargo build --release -q --manifest-path benches/peers/Cargo.toml -p tollgate-peers-axum07 \
    --bin jwt-authorizer-server
PEER_BIN=benches/peers/target/release/jwt-authorizer-server

SERVER_ON=()
WRK=(wrk -t2)
if [[ "${LOADTEST_PIN:-1}" != 0 ]] && command -v taskset >/dev/null 2>&1 && (($(nproc) >= 2)); then
    SERVER_ON=(taskset -c 0)
    WRK=(taskset -c 1 wrk -t1)
fi

WORK="$(mktemp -d)"
SERVER_PID=""
PEER_PID=""
WRK_PID=""
# Kills the process whose id is in the variable named $1 (if any) and clears the variable.
stop() {
    local pid="${!1}"
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    printf -v "$1" '%s' ""
}
cleanup() {
    [[ -z "$WRK_PID" ]] || kill "$WRK_PID" 2>/dev/null || true
    stop SERVER_PID
    stop PEER_PID
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Starts server binary $2 on 127.0.0.1:0 (output in $WORK/$1.out and .err), stores its pid in
# the variable named $3 and its `http://ADDR` in the variable named $4.
start_server() {
    LOADTEST_ADDR=127.0.0.1:0 "${SERVER_ON[@]}" "$2" >"$WORK/$1.out" 2>"$WORK/$1.err" &
    printf -v "$3" '%s' "$!"
    for _ in $(seq 100); do
        grep -q '^listening on ' "$WORK/$1.out" 2>/dev/null && break
        sleep 0.1
    done
    printf -v "$4" '%s' "$(sed -n 's/^listening on //p' "$WORK/$1.out")"
    [[ -n "${!4}" ]] || { echo "$1 did not start" >&2; cat "$WORK/$1.err" >&2; exit 1; }
    echo "$1: ${!4} (pid ${!3})"
}

start_server server "$BIN" SERVER_PID URL
start_server jwt-authorizer-server "$PEER_BIN" PEER_PID PEER_URL

rss() { awk '/^VmRSS/ {print $2 " " $3}' "/proc/$SERVER_PID/status"; }
hwm() { awk '/^VmHWM/ {print $2 " " $3}' "/proc/$SERVER_PID/status"; }

TOKEN="$("$BIN" --mint 1)"

# The jwt-authorizer server must accept tollgate's token (same key, iss, aud) and refuse a
# request without one, or its numbers would not measure the same work.
status() { curl -s -D "$WORK/curl.headers" -o "$WORK/curl.out" -w '%{http_code}' "$@"; }
code="$(status -H "Authorization: Bearer $TOKEN" "$PEER_URL/rs256")"
if [[ "$code" != 200 ]]; then
    echo "jwt-authorizer-server refused the tollgate-loadtest token on /rs256: HTTP $code" >&2
    cat "$WORK/curl.headers" "$WORK/curl.out" >&2; echo >&2
    exit 1
fi
code="$(status "$PEER_URL/rs256")"
[[ "$code" == 401 ]] || { echo "jwt-authorizer-server /rs256 without a token: HTTP $code, expected 401" >&2; exit 1; }

# Prints one line: route, requests/s, p50, p99 (from wrk --latency).
summary() {
    awk -v route="$1" '
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /^Requests\/sec:/ { rps = $2 }
        /requests in/ { total = $1 }
        /Non-2xx/ { non2xx = $NF }
        END { printf "%-21s %10s req/s  p50 %8s  p99 %8s  (%s requests, non-2xx: %s)\n",
              route, rps, p50, p99, total, non2xx == "" ? 0 : non2xx }'
}

# Requests/s of the last wrk run.
rps() { awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.out"; }
# $1 ÷ $2, two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "${WRK[*]} -c32 -d${DURATION}s --latency${SERVER_ON[*]:+ (servers: ${SERVER_ON[*]})}"
for route in /noauth /rs256 /rs256-cached; do
    headers=()
    [[ "$route" == /noauth ]] || headers=(-H "Authorization: Bearer $TOKEN")
    "${WRK[@]}" -c32 -d"${DURATION}s" --latency "${headers[@]}" "$URL$route" >"$WORK/wrk.out"
    summary "$route" <"$WORK/wrk.out"
done
"${WRK[@]}" -c32 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$PEER_URL/rs256" \
    >"$WORK/wrk.out"
summary "jwt-authorizer /rs256" <"$WORK/wrk.out"

# The ratios, side by side: wrk shares the two cores with the servers and the machine's
# speed drifts over a run, so each ratio is taken from back-to-back runs of its two routes,
# ROUNDS times (alternating which goes first), and the median is reported.
ROUNDS="${LOADTEST_ROUNDS:-3}"
# Requests/s of `wrk -d DURATION` on $1 with the token when $2 is "auth".
measure() {
    local headers=()
    [[ "$2" != auth ]] || headers=(-H "Authorization: Bearer $TOKEN")
    "${WRK[@]}" -c32 -d"${DURATION}s" "${headers[@]}" "$1" >"$WORK/wrk.out"
    rps
}
# Prints the ratios of ROUNDS back-to-back pairs ($1 auth? $2 url) ÷ ($3 auth? $4 url) and
# their median.
pairs() {
    local label="$1"; shift
    local ratios=()
    for round in $(seq "$ROUNDS"); do
        local a b
        if ((round % 2)); then
            a="$(measure "$2" "$1")"; b="$(measure "$4" "$3")"
        else
            b="$(measure "$4" "$3")"; a="$(measure "$2" "$1")"
        fi
        ratios+=("$(ratio "$a" "$b")")
        echo "  round $round: $a ÷ $b req/s = ${ratios[-1]}"
    done
    echo "$label: median $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")"
}
echo
echo "side by side, ${ROUNDS} rounds of back-to-back ${DURATION}s runs:"
pairs "tollgate /rs256 ÷ jwt-authorizer /rs256" auth "$URL/rs256" auth "$PEER_URL/rs256"
pairs "tollgate /rs256-cached ÷ /noauth" auth "$URL/rs256-cached" none "$URL/noauth"
# Not needed any more: the memory run below measures the tollgate server alone.
stop PEER_PID

if [[ "${LOADTEST_SKIP_MEMORY:-0}" == 1 ]]; then
    echo
    echo "memory: skipped (LOADTEST_SKIP_MEMORY=1)"
    exit 0
fi

echo
echo "memory: minting $TOKENS tokens"
start=$(date +%s)
"$BIN" --mint "$TOKENS" >"$WORK/tokens.txt"
echo "minted $(wc -l <"$WORK/tokens.txt") tokens in $(( $(date +%s) - start )) s"

cat >"$WORK/rotate.lua" <<'LUA'
-- Every wrk thread walks the token file from its own offset, one token per request.
local threads = 0
setup = function(thread)
    thread:set("id", threads)
    threads = threads + 1
end
local tokens = {}
local n, next_index
init = function()
    for line in io.lines(os.getenv("LOADTEST_TOKEN_FILE")) do tokens[#tokens + 1] = line end
    n = #tokens
    next_index = (id * math.floor(n / 2)) % n
end
request = function()
    next_index = next_index % n + 1
    return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[next_index] })
end
LUA

before_rss="$(rss)"; before_hwm="$(hwm)"
echo "VmRSS before: $before_rss (VmHWM $before_hwm)"
LOADTEST_TOKEN_FILE="$WORK/tokens.txt" \
    "${WRK[@]}" -c32 -d"${MEM_DURATION}s" --latency -s "$WORK/rotate.lua" "$URL/rs256-cached" \
    >"$WORK/wrk.out" &
WRK_PID=$!
# VmRSS every 10 s during the run: a plateau means the resident size is bounded.
samples=()
elapsed=0
while kill -0 "$WRK_PID" 2>/dev/null; do
    sleep 1
    elapsed=$((elapsed + 1))
    if ((elapsed % 10 == 0)) && kill -0 "$WRK_PID" 2>/dev/null; then
        samples+=("${elapsed}s: $(rss)")
    fi
done
wait "$WRK_PID"
summary "/rs256-cached (rotating $TOKENS tokens)" <"$WORK/wrk.out"
printf 'VmRSS during: %s\n' "$(IFS=,; echo "${samples[*]}" | sed 's/,/, /g')"
echo "VmRSS after:  $(rss) (VmHWM $(hwm))"
