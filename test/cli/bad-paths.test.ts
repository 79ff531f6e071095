/**
 * Paths and ids a user gets wrong: a data or models folder that cannot be used, an import under
 * a catalog id of another family or an id that is not one, an "image" that is a device, a named
 * pipe, a folder or a file over the size limit: one line and exit 1, not a stack trace or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isOneLineError, runCli, type CliRun } from '../helpers/cli.js';
import { REPO_ROOT, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { DEFAULT_MAX_BYTES } from '../../main/media/images/decode.js';

/** The three commands that read an image from a path: ask, formula OCR and page-text OCR. */
function imageCommands(image: string): string[][] {
  return [
    ['ask', image, 'What is this?', '--model', TINY_MODEL_DIR],
    ['ocr', image, '--model', TINY_MODEL_DIR],
    ['ocr', '--text', image],
  ];
}

/** Run `args` (killed after 30 s: a hang shows as code null) and expect exactly `line` on stderr, exit 1. */
async function expectRefused(args: string[], line: string): Promise<CliRun> {
  const started = Date.now();
  const run = await runCli(args, { timeoutMs: 30_000 });
  assert.notEqual(run.code, null, `omnifusion ${args.join(' ')} hung (killed after ${Date.now() - started} ms)`);
  assert.ok(isOneLineError(run), `expected one line, got code ${run.code}:\n${run.stderr}`);
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.stderr, `omnifusion: ${line}\n`);
  assert.equal(run.stdout, '');
  return run;
}

test('an endless device (/dev/zero) is refused by ask, ocr and ocr --text before it is read', { skip: process.platform === 'win32' && 'no /dev/zero' }, async () => {
  for (const args of imageCommands('/dev/zero')) await expectRefused(args, 'zero: /dev/zero is a character device, not an image file');
});

test('a named pipe with no writer is refused without being opened (opening it would block)', { skip: process.platform === 'win32' && 'no mkfifo' }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-fifo-'));
  try {
    const fifo = path.join(dir, 'photo.png');
    execFileSync('mkfifo', [fifo]);
    for (const args of imageCommands(fifo)) await expectRefused(args, `photo.png: ${fifo} is a named pipe (FIFO), not an image file`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a folder, and a file over the size limit (sparse, so stat says so without a byte read), are refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-big-'));
  try {
    const folder = path.join(dir, 'album.png');
    await mkdir(folder);
    for (const args of imageCommands(folder)) await expectRefused(args, `album.png: ${folder} is a folder, not an image file`);
    const big = path.join(dir, 'scan.png');
    const fh = await open(big, 'w');
    await fh.truncate(DEFAULT_MAX_BYTES + 1);
    await fh.close();
    assert.equal(DEFAULT_MAX_BYTES, 200 * 1024 * 1024);
    for (const args of imageCommands(big)) await expectRefused(args, 'scan.png: 200 MiB exceeds the 200 MiB file-size limit');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

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
