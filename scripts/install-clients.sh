#!/usr/bin/env bash
# Installs the third-party RocketMQ clients that compat-tests/tests/clients.rs drives against our
# name server and broker, idempotently, into a cache directory outside the work tree:
#
#   cpp050  PyPI rocketmq-client-python==0.5.0rc2 (Apache RocketMQ C++ client 2.0.x, bundled librocketmq.so)
#   cpp044  PyPI rocketmq==0.4.4                  (Apache RocketMQ C++ client 1.2.x, bundled librocketmq.so)
#   node    npm  ali-ons@3.12.0                   (pure JavaScript)
#   rust    crates.io rocketmq-client-rust =1.0.0 (driver compat-tests/clients/rust, own workspace)
#
# Cache: $RMQ_COMPAT_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/rmq-compat. Every step is skipped
# when its stamp file says it is already done, so a second run costs about a second (the Rust
# driver is rebuilt only when its sources changed).
#
# Environment:
#   RMQ_COMPAT_CLIENTS=0            install nothing, print nothing, exit 0 (the test then skips)
#   RMQ_COMPAT_CLIENTS=cpp050,node  install only these (default: all)
#
# stdout: a manifest, one KEY=VALUE per line (also written to $CACHE/clients.env), for the test:
#   RMQ_CLIENT_CPP050_PYTHON, RMQ_CLIENT_CPP044_PYTHON  venv interpreters for compat-tests/clients/python/driver.py
#   RMQ_CLIENT_NODE, RMQ_CLIENT_NODE_PATH              node and the node_modules for compat-tests/clients/node/driver.js
#   RMQ_CLIENT_RUST_BIN                                the built Rust driver (rust-bin/<source hash>/)
# A client that failed to install is left out of the manifest and reported on stderr; the script
# then exits 1 (after installing the others).
# Logs go to stderr. (Inside the install_* functions, called as `f || failed+=(...)`, `set -e` is
# off: every step that can fail says `|| return 1`.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CLIENTS_DIR=$ROOT/compat-tests/clients

want=${RMQ_COMPAT_CLIENTS:-all}
if [[ "$want" == "0" || "$want" == "none" ]]; then
    echo "install-clients: RMQ_COMPAT_CLIENTS=$want, nothing installed" >&2
    exit 0
fi
wants() { [[ "$want" == "all" || "$want" == "1" || ",$want," == *",$1,"* ]]; }

CACHE=${RMQ_COMPAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rmq-compat}
mkdir -p "$CACHE"
log() { echo "install-clients: $*" >&2; }
manifest=()
failed=()

# One lock: two concurrent runs (e.g. two test binaries) must not install into the same venv.
exec 9>"$CACHE/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

stamp_ok() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

# ---- Python wheels (manylinux1 x86_64, bundle librocketmq.so), one venv each ----
install_wheel() {
    local key=$1 spec=$2
    local venv=$CACHE/py-$key stamp=$CACHE/py-$key/.rmq-stamp
    local py=${PYTHON:-python3}
    local want_stamp="$spec $($py -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if ! stamp_ok "$stamp" "$want_stamp" || [[ ! -x $venv/bin/python ]]; then
        log "installing $spec into $venv"
        rm -rf "$venv"
        "$py" -m venv "$venv" >&2 || return 1
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet --no-deps --only-binary=:all: "$spec" >&2 || return 1
        echo "$want_stamp" >"$stamp"
    fi
    # The wrapper loads the bundled librocketmq.so on import: a broken wheel fails here.
    "$venv/bin/python" -c 'import rocketmq.client, rocketmq.ffi' >&2 || return 1
    manifest+=("RMQ_CLIENT_${key^^}_PYTHON=$venv/bin/python")
}
if wants cpp050; then install_wheel cpp050 "rocketmq-client-python==0.5.0rc2" || failed+=(cpp050); fi
if wants cpp044; then install_wheel cpp044 "rocketmq==0.4.4" || failed+=(cpp044); fi

# ---- ali-ons (npm), exact versions from the committed package-lock.json ----
install_node() {
    local dir=$CACHE/node stamp=$CACHE/node/.rmq-stamp
    command -v node >/dev/null && command -v npm >/dev/null || { log "node/npm not found"; return 1; }
    local want_stamp
    want_stamp="$(cat "$CLIENTS_DIR/node/package.json" "$CLIENTS_DIR/node/package-lock.json" | sha256sum | cut -c1-16) $(node --version)"
    if ! stamp_ok "$stamp" "$want_stamp" || [[ ! -d $dir/node_modules/ali-ons ]]; then
        log "installing ali-ons into $dir"
        rm -rf "$dir" && mkdir -p "$dir"
        cp "$CLIENTS_DIR/node/package.json" "$CLIENTS_DIR/node/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --omit=dev --loglevel=error >&2) || return 1
        echo "$want_stamp" >"$stamp"
    fi
    NODE_PATH=$dir/node_modules node -e 'require("ali-ons")' >&2 || return 1
    manifest+=("RMQ_CLIENT_NODE=$(command -v node)" "RMQ_CLIENT_NODE_PATH=$dir/node_modules")
}
if wants node; then install_node || failed+=(node); fi

# ---- rocketmq-client-rust driver: own workspace and lockfile, target dir in the cache ----
# The built binary is copied (debug info stripped) to rust-bin/<hash of the driver's sources>/, and
# that copy is what the manifest names: two checkouts with different driver sources (a CI clone
# next to a work tree) share the target dir but never run each other's driver. The 3 most
# recently used copies are kept.
install_rust() {
    local target=$CACHE/rust-target hash bin
    hash=$(cd "$CLIENTS_DIR/rust" && { find src -name '*.rs' | LC_ALL=C sort; cat Cargo.toml Cargo.lock;
        find src -name '*.rs' | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16)
    bin=$CACHE/rust-bin/$hash/rmq-client-rust-driver
    if [[ ! -x $bin ]]; then
        log "building the rocketmq-client-rust driver (target dir $target; first build takes minutes)"
        # The hash goes into the driver crate's compiler arguments: cargo's mtime check alone
        # would take another clone's newer build of the same package for fresh.
        CARGO_TARGET_DIR=$target cargo rustc --locked --quiet --bin rmq-client-rust-driver \
            --manifest-path "$CLIENTS_DIR/rust/Cargo.toml" -- --cfg "rmq_driver_src=\"$hash\"" >&2 || return 1
        mkdir -p "$CACHE/rust-bin/$hash" || return 1
        if command -v strip >/dev/null 2>&1; then
            strip --strip-debug -o "$bin.tmp" "$target/debug/rmq-client-rust-driver" || return 1
        else
            cp "$target/debug/rmq-client-rust-driver" "$bin.tmp" || return 1
        fi
        mv -f "$bin.tmp" "$bin" || return 1
    fi
    touch "$CACHE/rust-bin/$hash"
    # shellcheck disable=SC2012
    ls -1t "$CACHE/rust-bin" | tail -n +4 | while read -r old; do rm -rf "${CACHE:?}/rust-bin/$old"; done
    manifest+=("RMQ_CLIENT_RUST_BIN=$bin")
}
if wants rust; then install_rust || failed+=(rust); fi

printf '%s\n' "${manifest[@]}" | tee "$CACHE/clients.env"
if ((${#failed[@]})); then
    log "FAILED: ${failed[*]}"
    exit 1
fi
