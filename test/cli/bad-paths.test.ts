/**
 * Paths and ids a user gets wrong: a data or models folder that cannot be used, an import under
 * a catalog id of another family or an id that is not one: one line and exit 1, not a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../fixtures/reference-cases.js';

test('a file where a folder should be: serve --data-dir and OMNIFUSION_MODELS_DIR', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-bad-paths-'));
  try {
    const file = path.join(dir, 'notes.txt');
    await writeFile(file, 'not a folder');
    const serve = await runCli(['serve', '--data-dir', file, '--port', '0']);
    assert.equal(serve.code, 1);
    assert.equal(serve.stderr, `omnifusion: cannot use ${file}: a file is in the way of the folder\n`);
    const list = await runCli(['models', 'list'], { env: { OMNIFUSION_MODELS_DIR: file } });
    assert.equal(list.code, 1);
    assert.equal(list.stderr, `omnifusion: cannot use ${file}: a part of the path is a file, not a folder\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('models import: a package under a catalog id of another family, or an invalid --id, is refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-bad-import-'));
  try {
    const tiny = path.join(REPO_ROOT, 'test/fixtures/models/omnifusion-tiny');
    const wrongFamily = await runCli(['models', 'import', tiny, '--id', 'smolvlm-500m-instruct', '--models-dir', dir]);
    assert.equal(wrongFamily.code, 1);
    assert.equal(wrongFamily.stderr, `omnifusion: ${tiny} holds a model of family "omnifusion", but "smolvlm-500m-instruct" in the catalog is family "idefics3"; import it under another id\n`);
    const badId = await runCli(['models', 'import', tiny, '--id', '../evil', '--models-dir', dir]);
    assert.equal(badId.code, 1);
    assert.match(badId.stderr, /^omnifusion: --id "\.\.\/evil" is not a valid model id/);
    const list = await runCli(['models', 'list', '--json', '--models-dir', dir]);
    const models = (JSON.parse(list.stdout) as { models: Array<{ id: string; installed: boolean }> }).models;
    assert.ok(models.length > 0);
    assert.deepEqual(models.filter((m) => m.installed).map((m) => m.id), [], 'nothing was installed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
