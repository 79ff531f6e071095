/**
 * `omnifusion ocr --text`: page text with no model folder. The real 90°-rotated page is read
 * upright; a 12-megapixel photo, a CMYK JPEG and a 1-bit TIFF are accepted; bad input and bad
 * flag combinations end with one line and the CLI's exit codes (1 bad input, 2 usage).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { pageSvg, paragraph, PROSE } from '../unit/text-ocr/pages.js';

const ROTATED_PAGE = path.join(REAL_DATA_DIR, 'documents/tesseract_phototest-rotated-L.png');
const NO_REAL_DATA = !existsSync(REAL_DATA_DIR) && `the real test data folder is absent (${REAL_DATA_DIR})`;

interface TextJson {
  text: string;
  rotation: number;
  width: number;
  height: number;
  blocks: { box: number[][]; lines: { text: string; box: number[][]; confidence: number }[] }[];
  timings: Record<'decode_ms' | 'detect_ms' | 'recognize_ms' | 'total_ms', number>;
}

/** BitsPerSample (tag 258) of the first image of a little-endian TIFF. */
function tiffBitsPerSample(tiff: Buffer): number | undefined {
  assert.equal(tiff.toString('latin1', 0, 2), 'II', 'little-endian TIFF');
  const ifd = tiff.readUInt32LE(4);
  const entries = tiff.readUInt16LE(ifd);
  for (let i = 0; i < entries; i++) {
    const at = ifd + 2 + i * 12;
    if (tiff.readUInt16LE(at) === 258) return tiff.readUInt16LE(at + 8);
  }
  return undefined;
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-ocr-text-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** `ocr --text --json` that must succeed with nothing on stderr; no model folder anywhere. */
async function readJson(file: string): Promise<TextJson> {
  const run = await runCli(['ocr', '--text', '--json', file], { timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  return JSON.parse(run.stdout) as TextJson;
}

describe('omnifusion ocr --text', () => {
  test('the real page turned 90° is read upright, line by line', { skip: NO_REAL_DATA }, async () => {
    const out = await readJson(ROTATED_PAGE);
    assert.equal(out.rotation, 90);
    assert.deepEqual([out.width, out.height], [480, 640]);
    const lines = out.blocks.flatMap((b) => b.lines.map((l) => l.text));
    // Words of testing/phototest.txt (the transcription in SOURCES.md), in reading order.
    assert.equal(lines[0], 'This is a lot of 12 point text to test the');
    assert.equal(lines[1], 'ocr code and see if it works on all types');
    assert.ok(lines.includes('The quick brown dog jumped over the'), lines.join(' | '));
    assert.match(out.text, /lazy fox\. The quick brown dog jumped/);
    for (const b of out.blocks) for (const l of b.lines) assert.equal(l.box.length, 4);
    assert.ok(out.timings.total_ms >= out.timings.detect_ms);
  });

  test('a 12-megapixel photo (4000×3000 JPEG) is accepted and read', async () => {
    const file = path.join(tmp, 'photo-12mp.jpg');
    const svg = pageSvg(4000, 3000, paragraph(PROSE.slice(0, 4), 300, 700, 110, 260));
    await sharp(svg).flatten({ background: '#f4f1ea' }).jpeg({ quality: 85 }).toFile(file);
    const out = await readJson(file);
    assert.deepEqual([out.width, out.height], [4000, 3000]);
    assert.match(out.text, /quick brown fox jumps over the lazy dog/);
  });

  test('a CMYK JPEG is accepted and read (plain text output)', async () => {
    const file = path.join(tmp, 'page-cmyk.jpg');
    await sharp(pageSvg(1000, 300, paragraph(PROSE.slice(1, 3), 40, 80, 34, 80)))
      .flatten({ background: '#fff' })
      .toColourspace('cmyk')
      .jpeg()
      .toFile(file);
    assert.equal((await sharp(file).metadata()).space, 'cmyk');
    const run = await runCli(['ocr', '--text', file], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^The quick brown fox jumps over the lazy dog\.?\n/);
    assert.match(run.stdout, /Every line has a box and a confidence/);
  });

  test('a 1-bit TIFF is accepted and read', async () => {
    const file = path.join(tmp, 'page-1bit.tif');
    await sharp(pageSvg(1000, 300, paragraph(PROSE.slice(4, 6), 40, 80, 34, 80)))
      .flatten({ background: '#fff' })
      .threshold(128)
      .toColourspace('b-w')
      .tiff({ bitdepth: 1, compression: 'ccittfax4' })
      .toFile(file);
    assert.equal(tiffBitsPerSample(await readFile(file)), 1);
    const out = await readJson(file);
    assert.match(out.text, /Numbers like 2024 and 3\.14 are read/);
    assert.match(out.text, /This is the last line of the sample page/);
  });
});

describe('omnifusion ocr --text refuses bad input with one line', () => {
  test('a missing file: exit 1', async () => {
    const run = await runCli(['ocr', '--text', path.join(tmp, 'missing.png')]);
    assert.ok(isOneLineError(run), run.stderr);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^omnifusion: missing\.png: file not found/);
    assert.equal(run.stdout, '');
  });

  test('a file that is not an image: exit 1', async () => {
    const file = path.join(tmp, 'notes.png');
    await writeFile(file, 'these are notes, not pixels\n');
    const run = await runCli(['ocr', '--text', '--json', file]);
    assert.ok(isOneLineError(run), run.stderr);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^omnifusion: notes\.png: not an image/);
    assert.equal(run.stdout, '');
  });

  test('formula-only flags with --text, and --json without it: exit 2', async () => {
    const withFormat = await runCli(['ocr', '--text', '--format', 'mathml', path.join(tmp, 'x.png')]);
    assert.ok(isOneLineError(withFormat), withFormat.stderr);
    assert.equal(withFormat.code, 2);
    assert.match(withFormat.stderr, /--format is for formula OCR/);
    const withModel = await runCli(['ocr', '--text', '--model', tmp, path.join(tmp, 'x.png')]);
    assert.equal(withModel.code, 2);
    assert.match(withModel.stderr, /--model is for formula OCR/);
    const jsonOnly = await runCli(['ocr', '--json', path.join(tmp, 'x.png')]);
    assert.ok(isOneLineError(jsonOnly), jsonOnly.stderr);
    assert.equal(jsonOnly.code, 2);
    assert.match(jsonOnly.stderr, /--json goes with --text/);
  });
});
