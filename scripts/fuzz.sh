#!/usr/bin/env bash
# Runs a cargo-fuzz target for a fixed time (default 600 s) and prints libFuzzer's stats.
# Not part of CI (long run). Usage: scripts/fuzz.sh <target> [seconds]
# The machine has only a stable toolchain; RUSTC_BOOTSTRAP lets cargo-fuzz use the
# sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target=${1:?target name, e.g. frame_decode or fastjson_parse}
secs=${2:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/"$target"
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" corpus/"$target" -- -max_total_time="$secs" -print_final_stats=1
