#!/usr/bin/env bash
# Cold start as a process, side by side: exec → init → one answer → exit, for tollgate's
# authorizer (crates/tollgate-lambda/examples/cold_start.rs, release) and a Node authorizer
# on aws-jwt-verify (cold_start.mjs), alternating runs, N rounds (default 30). Prints the
# median and mean wall time of each and their ratio.
#
#   bash benches/peers/aws-jwt-verify/cold_start.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROUNDS="${1:-30}"
cargo build -q --release -p tollgate-lambda --example cold_start
[[ -d benches/peers/aws-jwt-verify/node_modules ]] || npm install -s --prefix benches/peers/aws-jwt-verify
python3 - "$ROUNDS" <<'PY'
import statistics, subprocess, sys, time
rounds = int(sys.argv[1])
commands = {
    "tollgate (Rust, release)": ["target/release/examples/cold_start"],
    "aws-jwt-verify (Node " + subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() + ")":
        ["node", "benches/peers/aws-jwt-verify/cold_start.mjs"],
}
times = {name: [] for name in commands}
for _ in range(rounds):
    for name, command in commands.items():
        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        times[name].append((time.perf_counter() - started) * 1000)
        if '"principalId":"alice"' not in out.replace(" ", ""):
            sys.exit(f"{name} did not allow alice: {out}")
for name, ms in times.items():
    print(f"{name}: median {statistics.median(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms, {rounds} runs")
rust, node = (statistics.median(ms) for ms in times.values())
print(f"ratio (median): {rust / node:.3f}")
PY
