/**
 * `omnifusion ask --ocr-tokens`: each image's text is read first (in the engine process) and goes
 * into the prompt where the model's manifest says; --json shows it. A package whose manifest has
 * no prompt.ocr_text refuses the flag with one line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { loadReference } from '../helpers/reference.js';
import { isOneLineError, runCli } from '../helpers/cli.js';

const RECEIPT = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');
const NO_REAL_DATA = !existsSync(REAL_DATA_DIR) && `the real test data folder is absent (${REAL_DATA_DIR})`;

interface AskJson {
  answer: string;
  token_ids: number[];
  prompt_length: number;
  ocr_text?: string[];
  ocr?: { position: string; tokens: number; truncated: boolean } | null;
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-ask-ocr-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('omnifusion ask --ocr-tokens', { skip: NO_REAL_DATA }, () => {
  test('a real receipt: exit 0, --json shows the text read, and the prompt grew by it', async () => {
    const run = await runCli(['ask', RECEIPT, 'What is the total?', '--model', TINY_MODEL_DIR, '--ocr-tokens', '--json', '--greedy', '--max-new-tokens', '4']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const out = JSON.parse(run.stdout) as AskJson;
    assert.equal(out.ocr_text?.length, 1);
    assert.match(out.ocr_text![0]!, /CASH 200,000/);
    assert.match(out.ocr_text![0]!, /CHANGE 28,400/);
    assert.equal(out.ocr?.position, 'after_question');
    assert.equal(out.ocr?.truncated, false);
    assert.ok(out.ocr!.tokens > 20, `${out.ocr!.tokens} OCR tokens`);
    // The same question without OCR text is the reference case receipt-total.
    const plain = loadReference().cases.find((c) => c.name === 'receipt-total')!;
    assert.ok(out.prompt_length > plain.inputs_embeds_length + out.ocr!.tokens, `prompt ${out.prompt_length} tokens`);
    assert.equal(out.token_ids.length, 4);

    // The engine's text OCR is the one `ocr --text` prints.
    const page = await runCli(['ocr', '--text', '--json', RECEIPT]);
    assert.equal(page.code, 0, page.stderr);
    assert.equal((JSON.parse(page.stdout) as { text: string }).text, out.ocr_text![0]);
  });

  test('without the flag, --json has no ocr_text', async () => {
    const run = await runCli(['ask', RECEIPT, 'What is the total?', '--model', TINY_MODEL_DIR, '--json', '--greedy', '--max-new-tokens', '1']);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as AskJson;
    assert.equal(out.ocr_text, undefined);
    assert.equal(out.ocr, undefined);
  });

  test('a model package without prompt.ocr_text refuses --ocr-tokens with one line (exit 1)', async () => {
    const model = path.join(tmp, 'no-ocr-model');
    await cp(TINY_MODEL_DIR, model, { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(model, 'manifest.json'), 'utf8'));
    delete manifest.prompt.ocr_text;
    await writeFile(path.join(model, 'manifest.json'), JSON.stringify(manifest));
    const run = await runCli(['ask', RECEIPT, 'What is the total?', '--model', model, '--ocr-tokens']);
    assert.ok(isOneLineError(run), `code ${run.code}: ${run.stderr}`);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /takes no OCR text: its manifest has no prompt\.ocr_text .*drop --ocr-tokens/);
  });
});
