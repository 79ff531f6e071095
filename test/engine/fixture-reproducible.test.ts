/**
 * The committed tiny models and references are what `npm run fixtures` builds: rebuild them into
 * a scratch folder (exporter → engine preprocessing/tokenization or decoding → PyTorch reference)
 * and compare every model file's sha256 and every case's expected tokens with the committed ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, TINY_MODEL_DIR, TINY_REFERENCE_DIR } from '../fixtures/reference-cases.js';
import { CHAT_FIXTURES } from '../fixtures/family-cases.js';

/** sha256 of every file under `dir`, by relative path. */
async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = createHash('sha256').update(await readFile(full)).digest('hex');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

test('npm run fixtures reproduces the committed tiny models and references', async () => {
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

    // Idefics3 and LLaVA: an onnx-community folder has no manifest, so every file is hashed.
    const chat = (ref: { cases: { name: string; pixel_values_sha256: string; input_ids: number[]; expected_token_ids: number[] }[] }) =>
      ref.cases.map((c) => [c.name, c.pixel_values_sha256, c.input_ids, c.expected_token_ids]);
    for (const { modelDir: model, referenceDir: refDir } of Object.values(CHAT_FIXTURES)) {
      const name = path.basename(model);
      assert.deepEqual(await hashTree(path.join(out, name)), await hashTree(model), `${name}: same files, same sha256`);
      const committedChat = JSON.parse(await readFile(path.join(refDir, 'reference.json'), 'utf8'));
      const rebuiltChat = JSON.parse(await readFile(path.join(out, path.basename(refDir), 'reference.json'), 'utf8'));
      assert.deepEqual(chat(rebuiltChat), chat(committedChat), `${name}: same prompts, pixels and tokens`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
