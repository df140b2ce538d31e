#!/usr/bin/env bash
# Starts the seed's example cluster locally: two name servers and the broker sets of one of the
# shipped layouts (default conf/2m-2s-async: broker-a + broker-a-s, broker-b + broker-b-s), every
# daemon bound to 127.0.0.1 on free ports, stores in a temp dir; prints `mqadmin clusterList`.
# Ctrl-C (or the end of the script with --once) stops everything and removes the temp dir.
#
#   scripts/start-cluster.sh [2m-2s-async|2m-2s-sync|2m-noslave] [--once]
#
# Each broker runs from its shipped .properties file as is, with these lines appended:
# listenPort (its VIP port listenPort-2 and HA port listenPort+1 are free too), namesrvAddr (both
# name servers), brokerIP1/brokerIP2/bindAddress 127.0.0.1, storePathRootDir/storePathCommitLog, and
# mappedFileSizeCommitLog (128 MiB here instead of Java's 1 GiB, so four stores fit a laptop).
# Environment: RMQ_BIN_DIR (use these binaries, skip the build), RMQ_CLUSTER_DIR (where stores,
# configs and logs go), RMQ_CLUSTER_KEEP=1 (keep that dir), RMQ_COMMITLOG_FILE_SIZE (bytes).
set -euo pipefail
cd "$(dirname "$0")/.."

layout=2m-2s-async
once=0
for arg in "$@"; do
    case "$arg" in
        --once) once=1 ;;
        2m-2s-async | 2m-2s-sync | 2m-noslave) layout=$arg ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done
conf_dir=conf/$layout

if [[ -n "${RMQ_BIN_DIR:-}" ]]; then
    bin=$RMQ_BIN_DIR
else
    cargo build --release --locked -p rmq-namesrv -p rmq-broker -p rmq-admin
    bin=${CARGO_TARGET_DIR:-$PWD/target}/release
fi
for b in mqnamesrv mqbroker mqadmin; do
    [[ -x "$bin/$b" ]] || { echo "no $bin/$b" >&2; exit 1; }
done
export ROCKETMQ_HOME="${ROCKETMQ_HOME:-$PWD}"

keep=${RMQ_CLUSTER_KEEP:-0}
if [[ -n "${RMQ_CLUSTER_DIR:-}" ]]; then
    dir=$RMQ_CLUSTER_DIR
    mkdir -p "$dir"
else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/rmq-cluster.XXXXXX")
fi

pids=()
cleanup() {
    local i
    # slaves, then masters, then the name servers: the reverse of the start order
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ "$keep" == 1 ]]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port is taken when something accepts a connection on 127.0.0.1.
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Masters first (a slave learns its master from its first registration), then slaves.
brokers=()
for f in "$conf_dir"/*.properties; do [[ "$f" == *-s.properties ]] || brokers+=("$f"); done
for f in "$conf_dir"/*.properties; do [[ "$f" == *-s.properties ]] && brokers+=("$f"); done

# Ports: base, base+1 for the name servers; broker i listens on base+10(i+1)+2 (VIP -2, HA +1).
ports_free() {
    local b=$1 i p
    busy "$b" && return 1
    busy $((b + 1)) && return 1
    for i in "${!brokers[@]}"; do
        p=$((b + 10 * (i + 1) + 2))
        for q in $((p - 2)) "$p" $((p + 1)); do busy "$q" && return 1; done
    done
    return 0
}
base=
for _ in $(seq 1 50); do
    b=$((20000 + (RANDOM % 3800) * 10))
    if ports_free "$b"; then base=$b; break; fi
done
[[ -n "$base" ]] || { echo "no free port range found" >&2; exit 1; }

wait_listening() { # port pid log
    local t=0
    until busy "$1"; do
        if ! kill -0 "$2" 2>/dev/null; then echo "daemon on port $1 exited; log $3:" >&2; tail -20 "$3" >&2; exit 1; fi
        ((t++ < 300)) || { echo "nothing listens on $1 after 30 s; log $3" >&2; exit 1; }
        sleep 0.1
    done
}

ns=()
for i in 0 1; do
    port=$((base + i))
    mkdir -p "$dir/namesrv$i"
    printf 'listenPort=%s\nbindAddress=127.0.0.1\nkvConfigPath=%s\n' "$port" "$dir/namesrv$i/kvConfig.json" \
        >"$dir/namesrv$i.properties"
    "$bin/mqnamesrv" -c "$dir/namesrv$i.properties" >"$dir/namesrv$i.log" 2>&1 &
    pids+=($!)
    wait_listening "$port" "$!" "$dir/namesrv$i.log"
    ns+=("127.0.0.1:$port")
done
ns_list=$(IFS=';'; echo "${ns[*]}")

commitlog_size=${RMQ_COMMITLOG_FILE_SIZE:-134217728}
for i in "${!brokers[@]}"; do
    f=${brokers[$i]}
    name=$(basename "$f" .properties)
    port=$((base + 10 * (i + 1) + 2))
    store=$dir/$name
    {
        cat "$f"
        printf '\n# start-cluster.sh: local ports, addresses and store\n'
        printf 'listenPort=%s\nnamesrvAddr=%s\n' "$port" "$ns_list"
        printf 'brokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\nbindAddress=127.0.0.1\n'
        printf 'storePathRootDir=%s\nstorePathCommitLog=%s\n' "$store" "$store/commitlog"
        printf 'mappedFileSizeCommitLog=%s\n' "$commitlog_size"
    } >"$dir/$name.properties"
    "$bin/mqbroker" -c "$dir/$name.properties" >"$dir/$name.log" 2>&1 &
    pids+=($!)
    wait_listening "$port" "$!" "$dir/$name.log"
    echo "$name: 127.0.0.1:$port (VIP $((port - 2)), HA $((port + 1))), log $dir/$name.log"
done

# every broker registers with both name servers at start; wait until clusterList shows them all
want=$((${#brokers[@]} + 1))
for _ in $(seq 1 150); do
    out=$("$bin/mqadmin" clusterList -n "${ns[0]}" 2>/dev/null || true)
    [[ $(printf '%s\n' "$out" | grep -c .) -ge $want ]] && break
    sleep 0.2
done
echo
echo "name servers: $ns_list"
echo "\$ mqadmin clusterList -n ${ns[0]}"
"$bin/mqadmin" clusterList -n "${ns[0]}"
if [[ "$once" == 1 ]]; then
    exit 0
fi
echo
echo "running (stores and logs in $dir); Ctrl-C stops everything"
wait
