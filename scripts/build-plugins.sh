#!/usr/bin/env bash
# Build every guest plugin (WebAssembly components, target wasm32-wasip2) and
# copy the components to dist/ folders:
#
#   plugins/*           -> plugins/dist/<name>.wasm          (shipped defaults)
#   tests/plugins/*     -> tests/plugins/dist/<name>.wasm    (host test probes)
#                          + version-echo-1.wasm / version-echo-2.wasm
#   examples/plugins/*  -> examples/plugins/dist/<name>.wasm (documentation)
#   examples/plugins/*-js, *-py -> examples/plugins/dist/<name>.wasm
#                          (JavaScript and Python, only with --all:
#                          scripts/build-plugins-js-py.sh, which needs Node.js and
#                          downloads componentize-js/-py; the test suite passes --all)
#
# Idempotent: cargo skips what is up to date, files are only copied when they
# changed, and the version-echo variants are rebuilt only when their inputs
# changed.
#
# Environment:
#   CARGO_TARGET_DIR  shared build folder (default: <repo>/target/wasm)
#   CARGO             cargo binary (default: cargo)
set -euo pipefail

ALL=false
for arg in "$@"; do
    case "$arg" in
    --all) ALL=true ;;
    *) echo "usage: $0 [--all]" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET=wasm32-wasip2
CARGO="${CARGO:-cargo}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/wasm}"
OUT="$CARGO_TARGET_DIR/$TARGET/release"

log() { printf '==> %s\n' "$*" >&2; }

ensure_target() {
    if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
        return
    fi
    log "installing the Rust target $TARGET"
    if ! rustup target add "$TARGET"; then
        cat >&2 <<EOF
error: could not install the Rust target $TARGET.
  Plugins are WebAssembly components built with Rust >= 1.82 for $TARGET.
  Install it by hand with:   rustup target add $TARGET
  (see https://doc.rust-lang.org/rustc/platform-support/wasm32-wasip2.html
   and sdk/README.md). Without rustup, use a Rust toolchain that ships the
  $TARGET standard library.
EOF
        exit 1
    fi
}

# install_wasm SRC DEST: copy when the content differs (keeps mtimes stable).
install_wasm() {
    local src="$1" dest="$2"
    if [[ ! -f "$src" ]]; then
        echo "error: expected build output $src is missing" >&2
        exit 1
    fi
    # A component starts with "\0asm" and the component-model version 0d 00 01 00.
    if [[ "$(head -c 8 "$src" | od -An -tx1 | tr -d ' \n')" != "0061736d0d000100" ]]; then
        echo "error: $src is not a WebAssembly component" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$dest")"
    if ! cmp -s "$src" "$dest"; then
        cp "$src" "$dest"
        log "updated ${dest#"$ROOT"/}"
    fi
}

# build MANIFEST [cargo args...]: release build for the wasm target.
build() {
    local manifest="$1"
    shift
    "$CARGO" build --release --target "$TARGET" --manifest-path "$manifest" "$@"
}

# wasm_name CRATE: the artifact file name cargo gives a cdylib crate.
wasm_name() { printf '%s.wasm' "${1//-/_}"; }

# members DIR: the crate folders of a workspace (sub-folders with a Cargo.toml).
members() {
    local dir="$1" d
    for d in "$dir"/*/; do
        if [[ -f "$d/Cargo.toml" ]]; then basename "$d"; fi
    done
}

ensure_target

# 1. The shipped plugins (one workspace).
log "plugins/"
build "$ROOT/plugins/Cargo.toml" --workspace
for crate in $(members "$ROOT/plugins"); do
    install_wasm "$OUT/$(wasm_name "$crate")" "$ROOT/plugins/dist/$crate.wasm"
done

# 2. The host's test plugins (one workspace); version-echo is built below.
log "tests/plugins/"
build "$ROOT/tests/plugins/Cargo.toml" --workspace --exclude version-echo
for crate in $(members "$ROOT/tests/plugins"); do
    [[ "$crate" == version-echo ]] && continue
    install_wasm "$OUT/$(wasm_name "$crate")" "$ROOT/tests/plugins/dist/$crate.wasm"
done

# version-echo: one build per AUTBOT_TEST_VERSION (option_env! is baked in at
# compile time). Each variant replaces the previous one in the target folder,
# so skip the builds when the copies are newer than every input.
TP="$ROOT/tests/plugins"
stamp="$TP/dist/.version-echo.stamp"
if [[ -f "$stamp" && -f "$TP/dist/version-echo-1.wasm" && -f "$TP/dist/version-echo-2.wasm" && -f "$TP/dist/version-echo.wasm" ]] &&
    [[ -z "$(find "$TP/version-echo" "$TP/Cargo.toml" "$TP/Cargo.lock" "$ROOT/sdk/src" "$ROOT/sdk/Cargo.toml" "$ROOT/wit" "${BASH_SOURCE[0]}" -newer "$stamp" -print -quit 2>/dev/null)" ]]; then
    log "version-echo variants are up to date"
else
    for v in 1 2; do
        log "version-echo (AUTBOT_TEST_VERSION=$v)"
        AUTBOT_TEST_VERSION="$v" build "$TP/Cargo.toml" -p version-echo
        install_wasm "$OUT/$(wasm_name version-echo)" "$TP/dist/version-echo-$v.wasm"
    done
    # The default build (AUTBOT_TEST_VERSION unset) is version 1.
    install_wasm "$TP/dist/version-echo-1.wasm" "$TP/dist/version-echo.wasm"
    touch "$stamp"
fi

# 3. The examples: standalone crates, built one by one.
log "examples/plugins/"
for crate in $(members "$ROOT/examples/plugins"); do
    build "$ROOT/examples/plugins/$crate/Cargo.toml"
    install_wasm "$OUT/$(wasm_name "$crate")" "$ROOT/examples/plugins/dist/$crate.wasm"
done

# 4. The JavaScript/TypeScript and Python examples (examples/plugins/*-js, *-py), with
#    componentize-js and componentize-py, installed pinned on first use.
if $ALL; then
    "$ROOT/scripts/build-plugins-js-py.sh"
else
    log "examples/plugins/*-js, *-py skipped (pass --all to build them)"
fi

log "done: components in plugins/dist, tests/plugins/dist, examples/plugins/dist"
