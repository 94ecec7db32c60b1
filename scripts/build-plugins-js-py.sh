#!/usr/bin/env bash
# Build the JavaScript/TypeScript and Python example plugins (examples/plugins/*-js and
# examples/plugins/*-py) into WebAssembly components in examples/plugins/dist/, after
# running their unit tests against the SDKs' fake hosts. Called by scripts/build-plugins.sh.
#
# The build tools are installed pinned, from their registries, on first use:
#   sdk/js:      npm ci (package-lock.json: @bytecodealliance/componentize-js, jco, rolldown)
#   sdk/python:  componentize-py (requirements.txt) in sdk/python/.venv
# Idempotent: a plugin whose bundle/sources, world and tool version are unchanged is not
# rebuilt (its last component is kept in <plugin>/build/), and dist files are only
# replaced when they changed.
#
# Needs Node.js >= 20.6 with npm, and Python >= 3.11 with venv and pip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="$ROOT/examples/plugins/dist"
JS_TOOL="$ROOT/sdk/js/tools/autbot-plugin.mjs"
PY_TOOL="$ROOT/sdk/python/tools/autbot_plugin.py"

log() { printf '==> %s\n' "$*" >&2; }

# quiet CMD...: runs CMD with its output shown only if it fails.
quiet() {
    local out status=0
    out=$(mktemp)
    "$@" >"$out" 2>&1 || status=$?
    if [[ $status -ne 0 ]]; then
        cat "$out" >&2
        rm -f "$out"
        echo "error: failed (exit $status): $*" >&2
        exit "$status"
    fi
    rm -f "$out"
}

js=() py=()
for dir in "$ROOT"/examples/plugins/*/; do
    dir="${dir%/}"
    if [[ -f "$dir/package.json" ]]; then js+=("$dir"); fi
    if [[ -f "$dir/pyproject.toml" ]]; then py+=("$dir"); fi
done

if [[ ${#js[@]} -gt 0 ]]; then
    if ! command -v node >/dev/null || ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 6) ? 0 : 1)'; then
        echo "error: the JavaScript plugins need Node.js 20.6 or later with npm" >&2
        exit 1
    fi
    log "examples/plugins/*-js (componentize-js)"
    node "$JS_TOOL" install
    for dir in "${js[@]}"; do
        if [[ -d "$dir/test" ]]; then quiet node "$JS_TOOL" test "$dir"; fi
        node "$JS_TOOL" build "$dir" --out "$DIST" >/dev/null
    done
fi

if [[ ${#py[@]} -gt 0 ]]; then
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "error: the Python plugins need Python 3.11 or later (python3) with venv and pip" >&2
        exit 1
    fi
    log "examples/plugins/*-py (componentize-py)"
    python3 "$PY_TOOL" install
    for dir in "${py[@]}"; do
        if [[ -d "$dir/tests" ]]; then quiet python3 "$PY_TOOL" test "$dir"; fi
        python3 "$PY_TOOL" build "$dir" --out "$DIST" >/dev/null
    done
fi
