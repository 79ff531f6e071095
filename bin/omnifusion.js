#!/usr/bin/env node
// Launcher: runs the compiled CLI (npm run build writes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../dist/main/cli/index.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('omnifusion: not built yet; run `bash scripts/setup.sh` (or `npm ci && npm run build`) in the project folder\n');
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
