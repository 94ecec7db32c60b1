#!/usr/bin/env bash
# The whole test suite: builds every WebAssembly plugin from source (installing the
# wasm32-wasip2 target if needed), then runs all unit and end-to-end tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/build-plugins.sh
# The plugins' own unit tests, compiled natively.
cargo test --quiet --manifest-path plugins/Cargo.toml --workspace
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
