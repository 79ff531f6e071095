#!/usr/bin/env bash
# The main job on a fresh clone: set up, then ask the tiny OmniFusion model about a real receipt photo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
IMAGE="${1:-../shared/testdata/real/documents/cord_receipt_00004_reencoded.jpg}"
QUESTION="${2:-What is the total?}"
node bin/omnifusion.js ask "$IMAGE" "$QUESTION" --model test/fixtures/models/omnifusion-tiny --max-new-tokens 24
