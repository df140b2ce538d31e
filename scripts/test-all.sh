#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the suite needs,
# builds, and runs unit, integration and golden-data tests.
# Golden data is read from ../shared/golden (override with RMQ_GOLDEN_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (rustup toolchain)" >&2
    exit 1
fi

# Two cores: keep memory and scheduler pressure predictable.
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=1

# style gates need these components (a no-op when present)
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
cargo fmt --all --check
cargo clippy --workspace --locked -- -D warnings
cargo build --workspace --all-targets --locked
cargo test --workspace --locked -- --test-threads=2
