/**
 * `omnifusion models import` of an onnx-community folder of the user's own (e.g. from
 * `huggingface-cli download`): no manifest, catalog entry or installed.json vouches for it, so it
 * is accepted when the engine reads it as a model, only the chosen onnx variant is copied, its
 * files are hashed into installed.json, and the installed copy answers like the original.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REAL_DATA_DIR, REPO_ROOT } from '../fixtures/reference-cases.js';
import { isOneLineError, runCli } from '../helpers/cli.js';

const IDEFICS3 = path.join(REPO_ROOT, 'test/fixtures/models/idefics3-tiny');
const RECEIPT = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');
const GRAPHS = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];

describe('models import of an onnx-community folder without checksums', () => {
  let root: string;
  let src: string;
  let modelsDir: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-import-own-'));
    // Upper case in the name: the id is the folder name in lower case.
    src = path.join(root, 'SmolTiny');
    await cp(IDEFICS3, src, { recursive: true });
    // A second variant beside the fp32 graphs, and a file a download tool leaves behind.
    for (const g of GRAPHS) await copyFile(path.join(src, 'onnx', `${g}.onnx`), path.join(src, 'onnx', `${g}_int8.onnx`));
    await writeFile(path.join(src, '.gitattributes'), '*.onnx filter=lfs\n');
    modelsDir = path.join(root, 'models');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const ask = (model: string) => runCli(['ask', RECEIPT, 'What is the total?', '--model', model, '--greedy', '--json', '--max-new-tokens', '5']);
  const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

  test('imports under the folder name, copies the default variant only, hashes every file, and answers like the original', async () => {
    const run = await runCli(['models', 'import', src, '--models-dir', modelsDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported .* as smoltiny in .* \(no checksums to check against: the folder loads as a model and its files were hashed for later checks\)\n$/);
    const dest = path.join(modelsDir, 'smoltiny');
    assert.deepEqual((await readdir(path.join(dest, 'onnx'))).sort(), GRAPHS.map((g) => `${g}.onnx`).sort());
    assert.equal((await readdir(dest)).includes('.gitattributes'), false);
    const marker = JSON.parse(await readFile(path.join(dest, 'installed.json'), 'utf8')) as { source: { checkedAgainst: string }; files: Record<string, { sha256: string }> };
    assert.equal(marker.source.checkedAgainst, 'loaded');
    for (const [file, { sha256 }] of Object.entries(marker.files)) assert.equal(sha256, await sha(path.join(src, file)), file);
    assert.ok('tokenizer_config.json' in marker.files && 'onnx/decoder_model_merged.onnx' in marker.files);
    const [original, installed] = [await ask(IDEFICS3), await ask(dest)];
    assert.equal(installed.code, 0, installed.stderr);
    assert.deepEqual(JSON.parse(installed.stdout).token_ids, JSON.parse(original.stdout).token_ids);
    const verify = await runCli(['models', 'verify', dest]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('--dtype int8 copies the int8 variant only', async () => {
    const run = await runCli(['models', 'import', src, '--id', 'smol-int8', '--dtype', 'int8', '--models-dir', modelsDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(path.join(modelsDir, 'smol-int8', 'onnx'))).sort(), GRAPHS.map((g) => `${g}_int8.onnx`).sort());
  });

  test('a folder the engine cannot read as a model is refused in one line and nothing is installed', async () => {
    const broken = path.join(root, 'broken');
    await cp(IDEFICS3, broken, { recursive: true });
    await unlink(path.join(broken, 'onnx', 'decoder_model_merged.onnx'));
    const run = await runCli(['models', 'import', broken, '--models-dir', modelsDir]);
    assert.ok(isOneLineError(run), run.stderr);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /decoder_model_merged.*; not imported\n$/);
    assert.equal((await readdir(modelsDir)).includes('broken'), false);
  });
});
