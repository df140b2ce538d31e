#!/usr/bin/env bash
# Builds the daemons and starts a local cluster on defaults, bound to 127.0.0.1:
# the name server on 9876 (conf/local/namesrv.properties). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p rmq-namesrv -p rmq-admin
export ROCKETMQ_HOME="${ROCKETMQ_HOME:-$PWD}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait; }
trap cleanup EXIT INT TERM
./target/release/mqnamesrv -c conf/local/namesrv.properties &
pids+=($!)
echo "name server: 127.0.0.1:9876  (try: ./target/release/mqadmin clusterList -n 127.0.0.1:9876)"
wait
