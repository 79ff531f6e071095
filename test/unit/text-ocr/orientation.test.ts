/**
 * Whole-page rotation: the sideways vote, the confidence choice, and the engine on a rendered
 * page turned by 0°, 90°, 180° and 270° (reported rotation, text, and boxes in the input's frame).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { canonicalRect, type RotatedRect } from '../../../main/engine/text-ocr/geometry.js';
import { isSideways, meanConfidence, preferTurned, sampleLongest, FLIP_MARGIN } from '../../../main/engine/text-ocr/orientation.js';
import { recognizePageText, sharedTextOcrEngine, type PageText } from '../../../main/engine/text-ocr/index.js';
import { PROSE, paragraph, renderPage } from './pages.js';

const horizontal = (len: number, thick = 20): RotatedRect => canonicalRect({ cx: 0, cy: 0, along: len, across: thick, ux: 1, uy: 0 });
const vertical = (len: number, thick = 20): RotatedRect => canonicalRect({ cx: 0, cy: 0, along: len, across: thick, ux: 0, uy: 1 });

describe('isSideways', () => {
  test('mostly vertical lines: sideways; mostly horizontal: not', () => {
    assert.equal(isSideways([vertical(400), vertical(380), vertical(200), horizontal(100)]), true);
    assert.equal(isSideways([horizontal(400), horizontal(380), vertical(300)]), false);
  });
  test('the vote is by length: one long line outweighs several short ones', () => {
    assert.equal(isSideways([horizontal(900), vertical(100), vertical(100), vertical(100)]), false);
  });
  test('boxes that are not clearly elongated (single characters, digits like "1") do not vote', () => {
    assert.equal(isSideways([vertical(30, 20), vertical(35, 20), vertical(36, 20), horizontal(60)]), false);
    assert.equal(isSideways([]), false);
  });
});

describe('choosing between two readings', () => {
  test('the turned reading wins only by more than the margin', () => {
    assert.equal(preferTurned([0.9, 0.9], [0.6, 0.7]), false);
    assert.equal(preferTurned([0.6, 0.7], [0.95, 0.97]), true);
    assert.equal(preferTurned([0.8], [0.8 + FLIP_MARGIN / 2]), false, 'a near tie keeps the page as it is');
    assert.equal(preferTurned([0.8], [0.8 + FLIP_MARGIN / 2], 0), true, 'margin 0: strictly better wins');
    assert.equal(preferTurned([], []), false);
  });
  test('the sample is the longest accepted lines, longest first', () => {
    const rects = [horizontal(100), vertical(500), horizontal(300), horizontal(200)];
    assert.deepEqual(
      sampleLongest(rects, (r) => r.ux > 0.5, 2),
      [2, 3],
    );
    assert.equal(meanConfidence([0.5, 1]), 0.75);
  });
});

describe('recognizePageText corrects a turned page', () => {
  let pages: Map<number, { page: PageText; width: number; height: number }>;
  before(async () => {
    await sharedTextOcrEngine();
    pages = new Map();
    for (const turn of [0, 90, 180, 270] as const) {
      const png = await renderPage(1000, 520, paragraph(PROSE, 40, 60, 28, 70), turn);
      const page = await recognizePageText(png);
      pages.set(turn, { page, width: turn % 180 ? 520 : 1000, height: turn % 180 ? 1000 : 520 });
    }
  });

  for (const [turn, expected] of [
    [0, 0],
    [90, 270],
    [180, 180],
    [270, 90],
  ] as const) {
    test(`page turned ${turn}° clockwise: rotation ${expected}, text read upright, boxes in the input's frame`, () => {
      const { page, width, height } = pages.get(turn)!;
      assert.equal(page.rotation, expected);
      assert.equal(page.width, width);
      assert.equal(page.height, height);
      assert.match(page.text, /quick brown fox jumps over the lazy dog/);
      assert.match(page.text, /^Reading the text of a page/);
      assert.match(page.text, /sample page\.?$/);
      // The first line starts at the page's top-left corner, wherever the turn put that corner.
      const [tlx, tly] = page.blocks[0]!.lines[0]!.box[0];
      const corner = { 0: [0, 0], 90: [width, 0], 180: [width, height], 270: [0, height] }[turn];
      assert.ok(Math.abs(tlx - corner[0]!) < width / 4 && Math.abs(tly - corner[1]!) < height / 4, `first line starts at ${tlx},${tly}`);
      for (const block of page.blocks) {
        for (const line of block.lines) {
          assert.ok(line.confidence > 0.8, `${line.text}: ${line.confidence}`);
          for (const [x, y] of line.box) assert.ok(x >= 0 && x <= width && y >= 0 && y <= height);
        }
      }
    });
  }
});
