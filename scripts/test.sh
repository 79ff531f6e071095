#!/usr/bin/env bash
# The test command (npm test): typecheck and build (main, preload, renderer), then every
# *.test.ts with node's test runner. End-to-end tests drive Debian's chromium (scripts/setup.sh
# installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
npx tsc -p renderer/tsconfig.json
npx tsc -p main/app/tsconfig.preload.json
npm run --silent build
node --import tsx --test --test-reporter=spec --test-concurrency=1 test/**/*.test.ts
