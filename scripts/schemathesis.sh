#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API (issue 11, "Gates that keep it fixed").
#
# Starts the real server on loopback with the annotated defaults (autbot.toml: the
# extractive model, the default embedder, the three default plugins, the data/ corpus),
# then runs schemathesis against its own /openapi.json. Checks:
#   not_a_server_error           no 5xx for any generated request
#   status_code_conformance      every status is one the schema documents
#   content_type_conformance     every response has a documented content type
#   response_schema_conformance  every JSON body matches its documented schema
#   positive_data_acceptance     no schema-valid request is rejected
# so the schema has to state what the server enforces (lengths, required fields).
#
# Usage: scripts/schemathesis.sh [extra schemathesis options]
# Environment:
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 50)
#   SCHEMATHESIS_MAX_TIME      time budget of the run, seconds (default 60)
#   SCHEMATHESIS_VENV          where schemathesis is installed (default target/schemathesis-venv)
#   SCHEMATHESIS_SEED          the run's seed (each run prints its own), to reproduce it
# Needs python3 with the venv module and PyPI; the binary is built if needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=$(realpath -m "${SCHEMATHESIS_VENV:-target/schemathesis-venv}")
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-50}
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-60}
ADMIN_KEY="schemathesis-admin-key-$$-$RANDOM"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    echo "schemathesis: installing $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

[ -n "${AUTBOT_BIN:-}" ] || cargo build --quiet -p autbot --bin autbot
BIN=${AUTBOT_BIN:-target/debug/autbot}

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The annotated defaults, on a free loopback port, with everything it writes in $work.
# Rate limiting is off (it would answer 429 to a fuzzer; it has its own tests); an admin
# key is set so that the admin operations are exercised too.
env AUTBOT_SERVER__HOST=127.0.0.1 \
    AUTBOT_SERVER__PORT=0 \
    AUTBOT_INDEX__DIR="$work/index" \
    AUTBOT_INDEX__CACHE_DIR=target/schemathesis-embed-cache \
    AUTBOT_PLUGINS__CACHE_DIR="$work/plugin-cache" \
    AUTBOT_PLUGINS__WATCH=false \
    AUTBOT_RATE_LIMIT__ENABLED=false \
    AUTBOT_SECURITY__ADMIN_API_KEYS="[\"$ADMIN_KEY\"]" \
    "$BIN" --config autbot.toml serve >"$work/server.log" 2>&1 &
server_pid=$!

addr=
for _ in $(seq 1 300); do
    addr=$(grep -o '"message":"listening"[^}]*"addr":"[^"]*"' "$work/server.log" 2>/dev/null |
        head -n1 | sed 's/.*"addr":"\([^"]*\)"/\1/') || true
    [ -n "$addr" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "schemathesis: the server exited; its log:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.2
done
if [ -z "$addr" ]; then
    echo "schemathesis: the server did not start listening; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
base="http://$addr"
# The first start embeds the corpus (a minute in a debug build with the neural model;
# the embeddings are cached in target/ for the next run).
ready=
for _ in $(seq 1 1500); do
    if curl -fs "$base/ready" >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.2
done
if [ -z "$ready" ]; then
    echo "schemathesis: the server did not become ready; its log:" >&2
    tail -n 50 "$work/server.log" >&2
    exit 1
fi
echo "schemathesis: server at $base, ready after $SECONDS s"

status=0
# Run from $work: schemathesis keeps a cache (.schemathesis/) in its working directory.
(cd "$work" && "$VENV/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --workers 1 \
    --request-timeout 30 \
    --header "X-API-Key: $ADMIN_KEY" \
    --generation-database none \
    ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
    --no-color \
    "$@") || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "schemathesis: the server died during the run; its log:" >&2
    tail -n 50 "$work/server.log" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "schemathesis: failed (exit $status); the server's last log lines:" >&2
    tail -n 30 "$work/server.log" >&2
fi
exit "$status"
