#!/usr/bin/env bash
# Runs one fuzz target with libFuzzer through cargo-fuzz on the stable toolchain.
#   fuzz/run.sh TARGET [SECONDS] [more libFuzzer flags...]
# New inputs go to corpus/TARGET (git-ignored); seeds/TARGET is read, never written;
# crashes land in artifacts/TARGET. See README.md.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]}
seconds=${2:-600}
shift $(($# >= 2 ? 2 : 1))
mkdir -p "corpus/$target"
seeds=()
if [ -d "seeds/$target" ]; then seeds=("seeds/$target"); fi
# RUSTC_BOOTSTRAP=1 lets stable rustc accept the nightly-only flags cargo-fuzz passes
# (-Zsanitizer=address and friends). The corpus directory must come first: libFuzzer
# writes new inputs into the first directory it is given.
RUSTC_BOOTSTRAP=1 exec nice -n 10 cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -dict="dicts/$target.dict" -print_final_stats=1 "$@"
