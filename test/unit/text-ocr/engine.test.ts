/**
 * The page-text engine end to end on rendered pages: two columns in reading order, lines with
 * boxes and confidences, a blank page, decoded input, shared sessions, a missing model folder.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeImage } from '../../../main/media/images/decode.js';
import { TextOcrCancelledError, TextOcrModelError, recognizePageText, sharedTextOcrEngine } from '../../../main/engine/text-ocr/index.js';
import { TextOcrEngine } from '../../../main/engine/text-ocr/engine.js';
import { paragraph, renderPage } from './pages.js';

const LEFT = ['Left column starts here and', 'it goes on for a few lines', 'until the end of the left side.'];
const RIGHT = ['Right column begins on top', 'and is read after the left', 'column has been read entirely.'];

describe('recognizePageText', () => {
  test('a two-column page is read column by column, each line with a box and a confidence', async () => {
    const png = await renderPage(1200, 400, [...paragraph(LEFT, 40, 80, 30, 45), ...paragraph(RIGHT, 640, 80, 30, 45)]);
    const page = await recognizePageText(png);
    assert.equal(page.rotation, 0);
    const lines = page.blocks.flatMap((b) => b.lines);
    assert.equal(lines.length, 6, page.text);
    const text = page.text.replace(/\s+/g, ' ');
    assert.ok(text.indexOf('left side') < text.indexOf('Right column'), text);
    assert.match(text, /Left column starts here/);
    for (const line of lines.slice(0, 3)) assert.ok(line.box[1][0] < 620, `${line.text} lies in the left half`);
    for (const line of lines.slice(3)) assert.ok(line.box[0][0] > 600, `${line.text} lies in the right half`);
    for (const line of lines) assert.ok(line.confidence > 0.8 && line.confidence <= 1);
    for (const key of ['decodeMs', 'detectMs', 'recognizeMs', 'totalMs'] as const) assert.equal(typeof page.timings[key], 'number');
  });

  test('a blank page has no text', async () => {
    const page = await recognizePageText(await renderPage(600, 400, []));
    assert.equal(page.text, '');
    assert.deepEqual(page.blocks, []);
  });

  test('takes a decoded image as well (no decode time)', async () => {
    const decoded = await decodeImage(await renderPage(700, 120, [{ x: 20, y: 70, text: 'Decoded once, read here.', size: 36 }]));
    const page = await recognizePageText(decoded);
    assert.match(page.text, /Decoded once, read here/);
    assert.equal(page.timings.decodeMs, 0);
  });

  test('an aborted signal stops reading at the next graph run', async () => {
    const decoded = await decodeImage(await renderPage(700, 120, [{ x: 20, y: 70, text: 'Stopped before recognition.', size: 36 }]));
    const engine = await sharedTextOcrEngine();
    const abort = new AbortController();
    // read() checks the signal before detection (not yet aborted), then before recognition.
    const reading = engine.read(decoded, { signal: abort.signal });
    abort.abort();
    await assert.rejects(reading, TextOcrCancelledError);
    await assert.rejects(recognizePageText(decoded, { signal: abort.signal }), TextOcrCancelledError);
  });

  test('sessions are created once per process and shared', async () => {
    assert.equal(await sharedTextOcrEngine(), await sharedTextOcrEngine());
  });

  test('a model folder without the models is a one-line TextOcrModelError', async () => {
    const dir = path.join(os.tmpdir(), 'omnifusion-no-text-models');
    await assert.rejects(TextOcrEngine.create({ modelDir: dir }), (err: unknown) => {
      assert.ok(err instanceof TextOcrModelError);
      assert.match(err.message, /model file missing: .*ch_PP-OCRv4_det_infer\.onnx/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
});
