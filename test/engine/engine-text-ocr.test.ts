/**
 * Page text OCR through the real engine process (EngineHost.recognizeText): it works with no VLM
 * loaded, takes paths and bytes, maps bad input to one-line EngineErrors while the process keeps
 * serving, can be cancelled, and runs beside a generation instead of waiting for it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EngineError, EngineHost } from '../../main/engine/host.js';
import type { RecognizeTextResult } from '../../main/engine/protocol.js';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

const ROTATED_PAGE = path.join(REAL_DATA_DIR, 'documents/tesseract_phototest-rotated-L.png');
const NO_REAL_DATA = !existsSync(REAL_DATA_DIR) && `the real test data folder is absent (${REAL_DATA_DIR})`;

async function engineError(p: Promise<unknown>): Promise<EngineError> {
  const err = await p.then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof EngineError, String(err));
  assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
  return err;
}

describe('EngineHost.recognizeText (engine process)', { skip: NO_REAL_DATA }, () => {
  let host: EngineHost;
  let tmp: string;
  let first: RecognizeTextResult;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-engine-ocr-'));
    host = new EngineHost();
  });
  after(async () => {
    await host.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('reads a real page with no VLM loaded: upright text, lines with boxes and confidences, timings', async () => {
    first = await host.recognizeText({ path: ROTATED_PAGE }).result;
    assert.equal(first.rotation, 90);
    assert.deepEqual([first.width, first.height], [480, 640]);
    const lines = first.blocks.flatMap((b) => b.lines);
    assert.equal(lines[0]?.text, 'This is a lot of 12 point text to test the');
    assert.match(first.text, /lazy fox\. The quick brown dog jumped/);
    for (const line of lines) {
      assert.equal(line.box.length, 4);
      for (const [x, y] of line.box) assert.ok(x >= 0 && x <= 480 && y >= 0 && y <= 640, `corner ${x},${y} inside the image`);
      assert.ok(line.confidence >= 0.5 && line.confidence <= 1, `confidence ${line.confidence}`);
    }
    for (const key of ['queued_ms', 'load_ms', 'decode_ms', 'detect_ms', 'recognize_ms', 'total_ms'] as const) {
      assert.ok(Number.isFinite(first.timings[key]) && first.timings[key] >= 0, key);
    }
    assert.ok(first.timings.total_ms >= first.timings.detect_ms);
  });

  test('bytes (a paste) read the same as the file', async () => {
    const bytes = new Uint8Array(await readFile(ROTATED_PAGE));
    const again = await host.recognizeText({ bytes, name: 'clipboard.png' }, { detect_rotation: true }).result;
    assert.equal(again.text, first.text);
    assert.deepEqual(again.blocks, first.blocks);
  });

  test('bad input: bad_image / bad_request with one line, and the same process keeps serving', async () => {
    const pid = host.pid;
    const empty = path.join(tmp, 'empty.png');
    await writeFile(empty, '');
    const notImage = await engineError(host.recognizeText({ bytes: new TextEncoder().encode('not pixels'), name: 'notes.png' }).result);
    assert.equal(notImage.code, 'bad_image');
    assert.match(notImage.message, /notes\.png/);
    assert.equal((await engineError(host.recognizeText({ path: empty }).result)).code, 'bad_image');
    assert.equal((await engineError(host.recognizeText({ path: path.join(tmp, 'missing.png') }).result)).code, 'bad_image');
    const badOption = await engineError(host.recognizeText({ path: ROTATED_PAGE }, { min_confidence: 2 }).result);
    assert.equal(badOption.code, 'bad_request');
    assert.match(badOption.message, /min_confidence must be a number from 0 to 1/);
    assert.equal((await host.recognizeText({ path: ROTATED_PAGE }).result).text, first.text);
    assert.equal(host.pid, pid, 'same engine process');
  });

  test('cancel ends the request with EngineError cancelled', async () => {
    const handle = host.recognizeText({ path: ROTATED_PAGE });
    handle.cancel();
    assert.equal((await engineError(handle.result)).code, 'cancelled');
  });

  test('a page is read while a generation runs, without waiting for it (own queue)', async () => {
    await host.load(TINY_MODEL_DIR, 'cpu');
    let tokens = 0;
    let finished = false;
    // No EOS, no n-gram blocking: runs until cancelled (or 4000 tokens).
    const generation = host.generate(
      { images: [], question: 'Tell a long story.', generation: { do_sample: false, num_beams: 1, max_new_tokens: 4000, no_repeat_ngram_size: 0, bad_words_ids: [], eos_token_id: [] } },
      () => {
        tokens++;
      },
    );
    void generation.result.finally(() => {
      finished = true;
    });
    while (tokens < 5 && !finished) await new Promise((r) => setTimeout(r, 5));
    const before = tokens;
    const page = await host.recognizeText({ path: ROTATED_PAGE }).result;
    const during = tokens - before;
    assert.equal(finished, false, 'the generation is still running when the page text arrives');
    assert.equal(page.text, first.text);
    assert.ok(during > 0, 'tokens kept streaming while the page was read');
    generation.cancel();
    const result = await generation.result;
    assert.equal(result.finish_reason, 'cancelled');
  });
});
