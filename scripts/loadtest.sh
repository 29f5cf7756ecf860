#!/usr/bin/env bash
# Load test of issue 6: drives the tollgate-loadtest server (release build, 127.0.0.1 only)
# with wrk and prints requests/s and latency p50/p99 for /noauth, /rs256 and /rs256-cached,
# then the server's resident size (VmRSS) before and after a run of /rs256-cached that
# rotates through LOADTEST_TOKENS distinct valid tokens.
#
#   scripts/loadtest.sh
#
# Environment: LOADTEST_DURATION (s, per route; default 10), LOADTEST_MEM_DURATION (s, the
# memory run; default 60), LOADTEST_TOKENS (default 100000). Bounded: every wrk run has a
# fixed duration, and the server is killed on exit.
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

WORK="$(mktemp -d)"
SERVER_PID=""
WRK_PID=""
cleanup() {
    [[ -z "$WRK_PID" ]] || kill "$WRK_PID" 2>/dev/null || true
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

LOADTEST_ADDR=127.0.0.1:0 "$BIN" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$WORK/server.out" 2>/dev/null && break
    sleep 0.1
done
URL="$(sed -n 's/^listening on //p' "$WORK/server.out")"
[[ -n "$URL" ]] || { echo "server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
echo "server: $URL (pid $SERVER_PID)"

rss() { awk '/^VmRSS/ {print $2 " " $3}' "/proc/$SERVER_PID/status"; }
hwm() { awk '/^VmHWM/ {print $2 " " $3}' "/proc/$SERVER_PID/status"; }

TOKEN="$("$BIN" --mint 1)"

# Prints one line: route, requests/s, p50, p99 (from wrk --latency).
summary() {
    awk -v route="$1" '
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /^Requests\/sec:/ { rps = $2 }
        /requests in/ { total = $1 }
        /Non-2xx/ { non2xx = $NF }
        END { printf "%-14s %10s req/s  p50 %8s  p99 %8s  (%s requests, non-2xx: %s)\n",
              route, rps, p50, p99, total, non2xx == "" ? 0 : non2xx }'
}

echo
echo "wrk -t2 -c32 -d${DURATION}s --latency"
for route in /noauth /rs256 /rs256-cached; do
    headers=()
    [[ "$route" == /noauth ]] || headers=(-H "Authorization: Bearer $TOKEN")
    wrk -t2 -c32 -d"${DURATION}s" --latency "${headers[@]}" "$URL$route" >"$WORK/wrk.out"
    summary "$route" <"$WORK/wrk.out"
done

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
    wrk -t2 -c32 -d"${MEM_DURATION}s" --latency -s "$WORK/rotate.lua" "$URL/rs256-cached" \
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
