#!/usr/bin/env bash
# The main job on a plain clone: `bash scripts/demo.sh [IMAGE] [QUESTION]`.
# 1. install and build (scripts/setup.sh);
# 2. draw the sample page, a short receipt (scripts/sample-page.mjs), unless IMAGE is given;
# 3. read its text with the built-in OCR models (omnifusion ocr --text: shipped, no download);
# 4. get the catalog's default model: the installed copy, else `models pull` (progress bar on a
#    terminal) when the Hub answers within 5 s; else, with the reason in one line, the tiny test
#    model (random weights: its answer is gibberish by design, it shows the pipeline runs);
# 5. ask QUESTION (default "What is the total?") about the page, streaming the answer.
# Environment: OMNIFUSION_MODELS_DIR (where models go), OMNIFUSION_HUB_URL, HF_TOKEN, as for the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
omnifusion() { node bin/omnifusion.js "$@"; }

step "1/5 Installing and building (bash scripts/setup.sh)"
bash scripts/setup.sh

QUESTION="${2:-What is the total?}"
if [ $# -ge 1 ]; then
  IMAGE="$1"
  step "2/5 Using your image: $IMAGE"
else
  IMAGE=.cache/demo/sample-receipt.png
  mkdir -p "$(dirname "$IMAGE")"
  step "2/5 Drawing the sample page: $IMAGE (scripts/sample-page.mjs)"
  node scripts/sample-page.mjs "$IMAGE" >/dev/null
fi

step "3/5 Reading the page's text with the built-in OCR (omnifusion ocr --text; no model download)"
omnifusion ocr --text "$IMAGE"

step "4/5 Getting a model"
# The catalog's default for this machine, and whether it is installed: "<id> <installed|missing>".
DEFAULT=$(omnifusion models list --json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const v = JSON.parse(s);
    const m = v.models.find((x) => x.id === v.default.id);
    console.log(v.default.id, m && m.installed ? "installed" : "missing");
  });')
read -r MODEL_ID MODEL_STATE <<<"$DEFAULT"
TINY=test/fixtures/models/omnifusion-tiny
MODEL=""
fallback() {
  echo "note: $1; answering with the tiny test model instead (random weights: the answer is gibberish by design)"
  MODEL="$TINY"
}
if [ "$MODEL_STATE" = installed ]; then
  echo "$MODEL_ID is installed"
  MODEL="$MODEL_ID"
else
  HUB="${OMNIFUSION_HUB_URL:-https://huggingface.co}"
  # A quick look first, so that an offline machine does not wait through the pull's retries.
  if PROBLEM=$(node -e '
      fetch(process.argv[1], { method: "HEAD", signal: AbortSignal.timeout(5000) }).then(
        () => process.exit(0),
        (e) => { console.log(e.name === "TimeoutError" ? "no answer within 5 s" : (e.cause && (e.cause.code || e.cause.message)) || e.message); process.exit(1); });
    ' "$HUB"); then
    echo "downloading $MODEL_ID, the catalog's default for this machine (omnifusion models pull $MODEL_ID; Ctrl+C stops, the same command resumes)"
    if omnifusion models pull "$MODEL_ID"; then
      MODEL="$MODEL_ID"
    else
      fallback "the download of $MODEL_ID did not finish (the line above says why)"
    fi
  else
    fallback "$HUB cannot be reached ($PROBLEM), so $MODEL_ID cannot be downloaded"
  fi
fi

step "5/5 Asking \"$QUESTION\" ($MODEL)"
if [ "$MODEL" = "$TINY" ]; then
  omnifusion ask "$IMAGE" "$QUESTION" --model "$MODEL" --max-new-tokens 24
else
  omnifusion ask "$IMAGE" "$QUESTION" --model "$MODEL" --max-new-tokens 128
fi
