/**
 * The engine's house rules, checked on the sources: no import cycle in main/ or renderer/ (type-only
 * imports count); main/engine imports nothing of main/core, and the neutral rooms under it
 * (main/media, main/base) import neither; no file of main/engine is over 700 lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCycles, importGraph, importsOf, resolveRelative } from '../helpers/imports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rel = (f: string): string => path.relative(ROOT, f).split(path.sep).join('/');

/** Source files (.ts, .svelte) under a folder of the repository (none when it is missing), absolute paths. */
function sources(folder: string): string[] {
  if (!existsSync(path.join(ROOT, folder))) return [];
  return (readdirSync(path.join(ROOT, folder), { recursive: true }) as string[])
    .filter((f) => /\.(ts|svelte)$/.test(f) && !f.endsWith('.d.ts') && !f.split(path.sep).includes('node_modules'))
    .map((f) => path.join(ROOT, folder, f));
}

test('the import graph reader sees type-only imports and re-exports', () => {
  const pipeline = path.join(ROOT, 'main/engine/pipeline.ts');
  const targets = importsOf(pipeline).map((s) => resolveRelative(pipeline, s)).filter(Boolean).map((f) => rel(f!));
  assert.ok(targets.includes('main/engine/protocol.ts'), targets.join(', ')); // `import type { … } from './protocol.js'`
  assert.ok(targets.includes('main/engine/stages/errors.ts'), targets.join(', ')); // `export { BadRequestError } from …`
  const ring = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(importCycles(ring), [['a', 'b', 'c']]);
});

test('main/ and renderer/ have no import cycle (type-only imports count)', () => {
  const files = [...sources('main'), ...sources('renderer')];
  assert.ok(files.length > 100, `only ${files.length} source files found`);
  const cycles = importCycles(importGraph(files)).map((group) => group.map(rel).join(' ↔ '));
  assert.deepEqual(cycles, []);
});

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

test('no file of main/engine is over 700 lines', () => {
  const long = sources('main/engine')
    .map((f) => [rel(f), readFileSync(f, 'utf8').replace(/\n$/, '').split('\n').length] as const)
    .filter(([, lines]) => lines > 700);
  assert.deepEqual(long, []);
});
