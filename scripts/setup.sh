#!/usr/bin/env bash
# Install what the project needs, then build. Downloads of prebuilt binaries that the CLI and the
# tests do not need are made optional: Electron's binary is fetched after `npm ci` and a failure
# (no internet) is only a note; onnxruntime-node's CUDA 12 libraries are skipped unless asked for
# (ONNXRUNTIME_NODE_INSTALL=cuda12). Plain `npm ci` works too where those downloads succeed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # Python/PyTorch for the preprocessing-reference test and fixture rebuilds (Debian's own python3).
  # Chromium for the end-to-end tests of the chat window (driven by playwright-core).
  missing=()
  /usr/bin/python3 -c 'import torch, onnx, PIL' 2>/dev/null || missing+=(python3-torch python3-onnx python3-pil)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
ELECTRON_SKIP_BINARY_DOWNLOAD=1 ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}" npm ci --no-audit --no-fund
if [ "${ELECTRON_SKIP_BINARY_DOWNLOAD:-0}" != 1 ] && ! node node_modules/electron/install.js >/dev/null 2>&1; then
  echo "note: Electron's binary could not be downloaded (offline?); the CLI and tests do not need it; when online run: node node_modules/electron/install.js"
fi
npm run build
