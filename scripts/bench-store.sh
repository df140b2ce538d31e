#!/usr/bin/env bash
# Store benchmarks, one command (not in CI: they write ~2 GiB and want an idle machine):
#  1. append 1 KiB messages with ASYNC_FLUSH vs a raw sequential write of the same bytes
#     to the same disk, same run (bar: ratio >= 0.6);
#  2. rmq-migrate verify over a 1 GiB commitlog in page cache vs `cat FILE > /dev/null`
#     of the same file (bar: ratio >= 0.8).
# Each prints both throughputs and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --locked -p rmq-store --bench append
cargo bench --locked -p rmq-migrate --bench verify
