/**
 * `omnifusion ocr`: every real formula image is read (the tiny model's LaTeX is gibberish, so only
 * the shape of the output is checked); degenerate images are refused before the engine starts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { cleanLatex, validateLatex } from '../../main/core/ocr.js';

const FOLDERS = ['printed-math', 'handwritten-math'];
const images = FOLDERS.flatMap((f) =>
  readdirSync(path.join(REAL_DATA_DIR, f))
    .filter((n) => !n.endsWith('.md'))
    .sort()
    .map((n) => path.join(REAL_DATA_DIR, f, n)),
);

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-ocr-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('omnifusion ocr reads every real formula image', () => {
  test('the shared sets have their 15 images', () => {
    assert.ok(images.length >= 15, `found ${images.length}`);
  });
  for (const image of images) {
    test(path.relative(REAL_DATA_DIR, image), async (t) => {
      const run = await runCli(['ocr', image, '--model', TINY_MODEL_DIR, '--format', 'json', '--max-new-tokens', '8']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      const out = JSON.parse(run.stdout) as { latex: unknown; valid: unknown; error?: unknown; timings: Record<string, number>; notes: unknown };
      assert.equal(typeof out.latex, 'string');
      assert.equal(typeof out.valid, 'boolean');
      if (!out.valid) assert.equal(typeof out.error, 'string');
      assert.equal(typeof out.timings.total_ms, 'number');
      assert.ok(Array.isArray(out.notes));
      t.diagnostic(`${JSON.stringify(out.latex)} valid=${out.valid} notes=${JSON.stringify(out.notes)}`);
    });
  }
});

describe('degenerate images are refused with one line, before any model is started', () => {
  // The model folder does not exist: had the engine been started, the error would be about it.
  const noModel = () => path.join(tmp, 'no-such-model');

  async function expectImageRefused(file: string, pattern: RegExp): Promise<void> {
    const run = await runCli(['ocr', file, '--model', noModel()]);
    assert.ok(isOneLineError(run), `expected a one-line error, got code ${run.code}:\n${run.stderr}`);
    assert.equal(run.code, 1);
    assert.match(run.stderr, pattern);
    assert.doesNotMatch(run.stderr, /model/);
    assert.equal(run.stdout, '');
  }

  test('a blank white image', async () => {
    const file = path.join(tmp, 'blank.png');
    await sharp({ create: { width: 400, height: 120, channels: 3, background: '#ffffff' } }).png().toFile(file);
    await expectImageRefused(file, /^omnifusion: blank\.png: the image is blank/);
  });

  test('a blank black image', async () => {
    const file = path.join(tmp, 'black.jpg');
    await sharp({ create: { width: 400, height: 120, channels: 3, background: '#000000' } }).jpeg().toFile(file);
    await expectImageRefused(file, /^omnifusion: black\.jpg: the image is blank/);
  });

  test('a 200×1 image', async () => {
    const file = path.join(tmp, 'line.png');
    const data = Buffer.alloc(200 * 3, 255);
    data.fill(0, 0, 60);
    await sharp(data, { raw: { width: 200, height: 1, channels: 3 } }).png().toFile(file);
    await expectImageRefused(file, /^omnifusion: line\.png: 200×1 pixels is too small to hold a formula/);
  });

  test('the same checks pass a real image on to the model (which then fails on the missing folder)', async () => {
    const run = await runCli(['ocr', path.join(REAL_DATA_DIR, 'printed-math/pix2text_formula5.jpg'), '--model', noModel()]);
    assert.ok(isOneLineError(run), run.stderr);
    assert.match(run.stderr, /model folder not found/);
  });

  test('usage mistakes exit 2', async () => {
    const image = path.join(REAL_DATA_DIR, 'printed-math/pix2text_formula5.jpg');
    const bad = await runCli(['ocr', image, '--model', TINY_MODEL_DIR, '--format', 'html']);
    assert.ok(isOneLineError(bad), bad.stderr);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format/);
  });
});

describe('output formats', () => {
  const image = path.join(REAL_DATA_DIR, 'printed-math/pix2text_formula.jpg');
  const ocr = async (format: string): Promise<string> => {
    const run = await runCli(['ocr', image, '--model', TINY_MODEL_DIR, '--format', format, '--max-new-tokens', '8']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.ok(run.stdout.endsWith('\n'));
    return run.stdout.slice(0, -1);
  };

  test('latex, inline, display and mathml of the same (greedy) answer differ only by wrapping', async () => {
    const latex = await ocr('latex');
    assert.equal(await ocr('inline'), `$${latex}$`);
    assert.equal(await ocr('display'), `$$${latex}$$`);
    const mathml = await ocr('mathml');
    assert.match(mathml, /^(<span class="katex">)?<math/);
    const json = JSON.parse(await ocr('json')) as { latex: string };
    assert.equal(json.latex, latex);
  });

  test('latex is the default format', async () => {
    const run = await runCli(['ocr', image, '--model', TINY_MODEL_DIR, '--max-new-tokens', '8']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.slice(0, -1), await ocr('latex'));
  });
});

describe('cleaning and checking the answer', () => {
  test('delimiters and fences are stripped', () => {
    assert.equal(cleanLatex('  $x^2$ '), 'x^2');
    assert.equal(cleanLatex('$$\\frac{a}{b}$$'), '\\frac{a}{b}');
    assert.equal(cleanLatex('\\[ a+b \\]'), 'a+b');
    assert.equal(cleanLatex('\\(a\\)'), 'a');
    assert.equal(cleanLatex('```latex\n$$E=mc^2$$\n```'), 'E=mc^2');
    assert.equal(cleanLatex('a $b$ c'), 'a $b$ c');
    assert.equal(cleanLatex('$a$ + $b$'), '$a$ + $b$');
  });
  test('validity is KaTeX parsing', () => {
    assert.deepEqual(validateLatex('\\frac{1}{2}'), { valid: true });
    const bad = validateLatex('\\frac{1}{');
    assert.equal(bad.valid, false);
    assert.match(bad.error!, /KaTeX parse error/);
  });
});
