/**
 * Formula image pre-processing: degenerate selections are refused with a one-line message;
 * light-on-dark is inverted, tiny images are upscaled, wide formulas are padded square intact.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeImage, type DecodedImage } from '../../../main/media/images/index.js';
import { ImageInputError } from '../../../main/media/images/errors.js';
import { analyseFormulaImage, checkFormulaImage, MAX_ASPECT, MIN_SIDE, prepareFormulaImage } from '../../../main/media/images/formula.js';
import { REAL_DATA_DIR } from '../../fixtures/reference-cases.js';

const printed = (name: string) => path.join(REAL_DATA_DIR, 'printed-math', name);

/** A width×height image of one colour, with optional dark dots at (x, y). */
function solid(width: number, height: number, v: number, dots: [number, number][] = []): DecodedImage {
  const data = Buffer.alloc(width * height * 3, v);
  for (const [x, y] of dots) data.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return { data, width, height, source: { format: 'raw', width, height, frames: 1, frame: 0, hadAlpha: false, orientation: 1, space: 'srgb', depth: 'uchar', bytes: 0 } };
}

const decoded = new Map<string, DecodedImage>();
for (const name of ['pix2text_formula.jpg', 'pix2text_formula4.jpg', 'pix2text_formula5.jpg', 'texify_example_0.png', 'im2latex_31068cb86d.png']) {
  decoded.set(name, await decodeImage(printed(name)));
}

function refused(img: DecodedImage, pattern: RegExp): void {
  assert.throws(
    () => checkFormulaImage(img, 'sel.png'),
    (err: unknown) => err instanceof ImageInputError && err.code === 'degenerate' && !err.message.includes('\n') && /^sel\.png: /.test(err.message) && pattern.test(err.message),
  );
}

describe('checkFormulaImage refuses degenerate selections', () => {
  test('blank white and blank black', () => {
    refused(solid(300, 100, 255), /blank/);
    refused(solid(300, 100, 0), /blank/);
  });
  test('a few stray pixels are still blank; a real stroke is not', () => {
    refused(solid(100, 100, 255, [[5, 5], [50, 50]]), /blank/);
    const stroke: [number, number][] = Array.from({ length: 40 }, (_, i) => [30 + i, 50]);
    assert.doesNotThrow(() => checkFormulaImage(solid(100, 100, 255, stroke), 'sel.png'));
  });
  test('200×1, 1×200 and the smallest sizes', () => {
    refused(solid(200, 1, 255, [[3, 0]]), /200×1 pixels is too small/);
    refused(solid(1, 200, 255), /1×200 pixels is too small/);
    refused(solid(1, 1, 0), /1×1/);
    refused(solid(MIN_SIDE - 1, 50, 255), /too small/);
    // 0×N cannot reach this check: decodeImage never yields an empty image; it is refused all the same.
    refused(solid(0, 10, 255), /0×10 pixels is too small/);
  });
  test(`aspect ratio beyond ${MAX_ASPECT}:1`, () => {
    const dots: [number, number][] = Array.from({ length: 400 }, (_, i) => [i, 4]);
    refused(solid(MAX_ASPECT * 8 + 8, 8, 255, dots), /too thin.*aspect ratio above 50:1/);
    assert.doesNotThrow(() => checkFormulaImage(solid(MAX_ASPECT * 8, 8, 255, dots), 'sel.png'));
  });
  test('every real formula image passes', () => {
    for (const name of ['pix2text_formula.jpg', 'pix2text_formula4.jpg', 'pix2text_formula5.jpg', 'texify_example_0.png', 'im2latex_31068cb86d.png']) {
      assert.doesNotThrow(() => checkFormulaImage(decoded.get(name)!, name), name);
    }
  });
});

describe('prepareFormulaImage', () => {
  test('light-on-dark pix2text_formula.jpg is inverted: the border becomes light, the ink dark', async () => {
    const img = decoded.get('pix2text_formula.jpg')!;
    const before = analyseFormulaImage(img);
    assert.ok(before.lightOnDark && before.borderMean < 0.5);
    const { image, notes } = await prepareFormulaImage(img, { targetSize: 336 });
    assert.ok(notes.some((n) => /inverted/.test(n)), notes.join('; '));
    const after = analyseFormulaImage(image);
    assert.ok(after.borderMean > 0.9, `border ${after.borderMean}`);
    assert.ok(!after.lightOnDark);
    assert.ok(after.inkMean < after.background);
  });

  test('dark-on-light images are not inverted', async () => {
    const { notes } = await prepareFormulaImage(decoded.get('texify_example_0.png')!, { targetSize: 336 });
    assert.ok(!notes.some((n) => /inverted/.test(n)), notes.join('; '));
  });

  test('wide formula4 (975×126) is padded to 975×975 with every row of the formula intact', async () => {
    const src = decoded.get('pix2text_formula4.jpg')!;
    const { image, notes } = await prepareFormulaImage(src, { targetSize: 336 });
    assert.equal(image.width, 975);
    assert.equal(image.height, 975);
    assert.ok(notes.some((n) => /padded 975×126 to 975×975/.test(n)), notes.join('; '));
    // The formula band (inverted, same size) sits in the middle; the padding is the background.
    const top = Math.floor((975 - 126) / 2);
    const band = image.data.subarray(top * 975 * 3, (top + 126) * 975 * 3);
    const inverted = (await prepareFormulaImage(src, { targetSize: 0 })).image;
    assert.ok(band.equals(inverted.data.subarray(top * 975 * 3, (top + 126) * 975 * 3)));
    const bandStats = analyseFormulaImage({ ...image, data: Buffer.from(band), height: 126 });
    assert.ok(bandStats.inkPixels > 1000, 'the ink is inside the band');
    const paddingRows = image.data.subarray(0, top * 975 * 3);
    assert.ok(paddingRows.every((v) => v === paddingRows[0]), 'padding is one colour');
    assert.ok(paddingRows[0]! > 230, 'padding is white after inversion');
  });

  test('the padded formula survives a shortest-edge resize + center crop whole', async () => {
    const { image } = await prepareFormulaImage(decoded.get('pix2text_formula4.jpg')!, { targetSize: 336 });
    // Square in, square out: the center crop of a square keeps every column.
    assert.equal(image.width, image.height);
  });

  test('tiny formula5 (135×81) is upscaled by an integer factor, then padded', async () => {
    const src = decoded.get('pix2text_formula5.jpg')!;
    const { image, notes } = await prepareFormulaImage(src, { targetSize: 336 });
    assert.ok(notes.some((n) => /upscaled 135×81 ×2 to 270×162/.test(n)), notes.join('; '));
    assert.equal(image.width, 270);
    assert.equal(image.height, 270);
    const small = await prepareFormulaImage(src, { targetSize: 112 });
    assert.ok(!small.notes.some((n) => /upscaled/.test(n)), 'not upscaled when already larger than the input');
    assert.equal(small.image.width, 135);
  });

  test('pure: the input buffer is not changed', async () => {
    const src = decoded.get('pix2text_formula.jpg')!;
    const copy = Buffer.from(src.data);
    await prepareFormulaImage(src, { targetSize: 336 });
    assert.ok(src.data.equals(copy));
  });
});
