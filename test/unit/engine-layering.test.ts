/**
 * The engine's layering, checked on the sources: main/engine imports nothing of main/core, and the
 * neutral rooms under it (main/media, main/base) import neither. (No import cycle and no file over
 * 700 lines anywhere: test/unit/house.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf, resolveRelative } from '../helpers/source-imports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (f: string): string => path.relative(ROOT, f).split(path.sep).join('/');

/** Source files (.ts, .svelte) under a folder of the repository (none when it is missing), absolute paths. */
function sources(folder: string): string[] {
  if (!existsSync(path.join(ROOT, folder))) return [];
  return (readdirSync(path.join(ROOT, folder), { recursive: true }) as string[])
    .filter((f) => /\.(ts|svelte)$/.test(f) && !f.endsWith('.d.ts') && !f.split(path.sep).includes('node_modules'))
    .map((f) => path.join(ROOT, folder, f));
}

test('main/engine imports nothing of main/core; main/media and main/base import neither', () => {
  const offenders: string[] = [];
  const below = (file: string, banned: string[]): void => {
    for (const spec of importsOf(file)) {
      const target = spec.startsWith('.') ? resolveRelative(file, spec) : undefined;
      if (target && banned.some((dir) => rel(target).startsWith(dir))) offenders.push(`${rel(file)} imports ${rel(target)}`);
    }
  };
  for (const file of sources('main/engine')) below(file, ['main/core/']);
  for (const file of [...sources('main/media'), ...sources('main/base')]) below(file, ['main/core/', 'main/engine/', 'main/app/', 'main/cli/', 'main/server/']);
  assert.deepEqual(offenders, []);
});
