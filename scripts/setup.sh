#!/usr/bin/env bash
# Install what the project needs. Electron's binary and onnxruntime's CUDA libraries are not
# needed by the CLI or the tests, so their downloads are skipped unless asked for
# (ELECTRON_SKIP_BINARY_DOWNLOAD=0 / ONNXRUNTIME_NODE_INSTALL=cuda12); `npm start` fetches Electron when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export ELECTRON_SKIP_BINARY_DOWNLOAD="${ELECTRON_SKIP_BINARY_DOWNLOAD:-1}"
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # Python/PyTorch for the preprocessing-reference test and fixture rebuilds (Debian's own python3).
  if ! /usr/bin/python3 -c 'import torch, onnx, PIL' 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-onnx python3-pil >/dev/null
  fi
fi
npm ci --no-audit --no-fund
npm run build
