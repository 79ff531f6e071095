/**
 * The committed tiny model and its reference are what `npm run fixtures` builds: rebuild both into
 * a scratch folder (exporter → engine preprocessing/tokenization → PyTorch reference) and compare
 * every package file's sha256 and every case's expected tokens with the committed ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, TINY_MODEL_DIR, TINY_REFERENCE_DIR } from '../fixtures/reference-cases.js';

test('npm run fixtures reproduces the committed tiny model and reference', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-fixtures-'));
  try {
    execFileSync('bash', ['scripts/build-fixtures.sh'], { cwd: REPO_ROOT, env: { ...process.env, FIXTURES_OUT: out }, stdio: 'pipe' });
    const committed = JSON.parse(await readFile(path.join(TINY_MODEL_DIR, 'manifest.json'), 'utf8'));
    const rebuilt = JSON.parse(await readFile(path.join(out, 'omnifusion-tiny/manifest.json'), 'utf8'));
    assert.deepEqual(rebuilt.files, committed.files, 'same files with the same sha256');
    const tokens = (ref: { cases: { name: string; expected_token_ids: number[] }[] }) => ref.cases.map((c) => [c.name, c.expected_token_ids]);
    const committedRef = JSON.parse(await readFile(path.join(TINY_REFERENCE_DIR, 'reference.json'), 'utf8'));
    const rebuiltRef = JSON.parse(await readFile(path.join(out, 'omnifusion-tiny-reference/reference.json'), 'utf8'));
    assert.deepEqual(tokens(rebuiltRef), tokens(committedRef));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
