#!/usr/bin/env bash
# The test command (npm test): typecheck + build, then every *.test.ts with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
npx tsc -p tsconfig.json
node --import tsx --test --test-reporter=spec --test-concurrency=1 test/**/*.test.ts
