/**
 * The small-text machinery without the models: the det-input border (when it is added, its
 * colour, boxes mapped back through it, rejected components reported), the evidence of small
 * text, the plan of the second pass (scale, bands, budgets) and the merge of its boxes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DET_BORDER, DET_MEAN, DET_STD, borderColour, dbPostprocess, detPreprocess, edgeContent, type DetectedBox, type RejectedComponent } from '../../../main/engine/text-ocr/detect.js';
import { canonicalRect, rectToQuad } from '../../../main/engine/text-ocr/geometry.js';
import {
  BAND_MAX_PIXELS,
  SMALL_TEXT_MAX_SCALE,
  SMALL_TEXT_PIXEL_BUDGET,
  SMALL_TEXT_TARGET,
  mergeSmallText,
  planSmallText,
  smallTextEvidence,
  type SmallTextPlan,
} from '../../../main/engine/text-ocr/small-text.js';

/** A white RGB raster with black rectangles [x0, y0, x1, y1) on it. */
function page(width: number, height: number, rects: [number, number, number, number][] = []) {
  const data = new Uint8Array(width * height * 3).fill(255);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) data.fill(0, (y * width + x0) * 3, (y * width + x1) * 3);
  return { data, width, height };
}

function box(cx: number, cy: number, along: number, across: number): DetectedBox {
  const rect = canonicalRect({ cx, cy, along, across, ux: 1, uy: 0 });
  return { rect, quad: rectToQuad(rect), score: 0.9 };
}

describe('det input border (detPreprocess, edgeContent)', () => {
  test('a page with clear margins gets no border; text touching an edge gets DET_BORDER in the page colour', async () => {
    const clear = await detPreprocess(page(320, 96, [[40, 40, 280, 56]]), { scale: 1 });
    assert.deepEqual([clear.border, clear.width, clear.height], [0, 320, 96]);
    const touching = await detPreprocess(page(320, 96, [[0, 2, 280, 18]]), { scale: 1 });
    assert.deepEqual([touching.border, touching.width, touching.height, touching.innerWidth], [DET_BORDER, 320 + 2 * DET_BORDER, 96 + 2 * DET_BORDER, 320]);
    // The corner of the border is white, normalised as the graph wants it (channel 0 is blue).
    assert.ok(Math.abs(touching.data[0]! - (1 - DET_MEAN[0]) / DET_STD[0]) < 1e-5);
    // The picture sits inside the border: its black pixel at (0, 2) is at (32, 34).
    assert.ok(Math.abs(touching.data[(2 + DET_BORDER) * touching.width + DET_BORDER]! - (0 - DET_MEAN[0]) / DET_STD[0]) < 1e-5);
  });

  test('border colour is the median of the outer ring; a dark screenshot counts light text near its edge', () => {
    const dark = page(60, 40);
    dark.data.fill(20);
    assert.deepEqual(borderColour(dark.data, 60, 40), [20, 20, 20]);
    assert.equal(edgeContent(dark.data, 60, 40, [20, 20, 20]), false);
    for (let x = 10; x < 30; x++) dark.data.fill(230, (3 * 60 + x) * 3, (3 * 60 + x) * 3 + 3);
    assert.equal(edgeContent(dark.data, 60, 40, [20, 20, 20]), true);
  });

  test('dbPostprocess maps boxes back through the border and reports what it rejects', () => {
    // A 40×8 blob of probability 0.9 at (42..82, 40..48) of a 128×96 map with a 32 px border
    // over a 64×32 picture; a faint 30×6 stroke (score 0.4) and a one-pixel speck.
    const [mapW, mapH, border] = [128, 96, 32];
    const prob = new Float32Array(mapW * mapH);
    const fill = (x0: number, y0: number, x1: number, y1: number, p: number) => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) prob[y * mapW + x] = p;
    };
    fill(42, 40, 82, 48, 0.9);
    fill(40, 50, 70, 56, 0.4);
    fill(90, 60, 91, 61, 0.9);
    const rejected: RejectedComponent[] = [];
    const boxes = dbPostprocess(prob, mapW, mapH, 640, 320, {}, border, rejected);
    assert.equal(boxes.length, 1);
    const [b] = boxes;
    // Map x 42..81 (pixel centres) → picture (x - 32) × 10; unclipped by 1.5 × area / perimeter.
    assert.ok(Math.abs(b!.rect.cx - (61.5 - border) * 10) < 1e-6 && Math.abs(b!.rect.cy - (43.5 - border) * 10) < 1e-6, JSON.stringify(b!.rect));
    assert.equal(rejected.length, 2);
    const faint = rejected.find((r) => r.pixels === 180)!;
    assert.ok(Math.abs(faint.score - 0.4) < 1e-6);
    assert.ok(faint.mapLength > 3 * faint.mapHeight, 'a stroke is line-like');
    // Kernel 29 × 5 (pixel centres) unclipped by 29 × 5 × 1.5 / 68 = 3.2 on each side, then
    // (map - 32) × 10 into the picture.
    assert.ok(Math.abs(faint.mapHeight - (5 + 2 * ((29 * 5 * 1.5) / 68))) < 1e-6, String(faint.mapHeight));
    assert.deepEqual(faint.bounds.map(Math.round), [48, 148, 402, 262]);
    assert.equal(rejected.find((r) => r.pixels === 1)!.mapHeight, 0);
  });
});

describe('smallTextEvidence', () => {
  test('small boxes, line-like small fragments and blobs count; large boxes and specks do not', () => {
    const boxes = [box(100, 50, 300, 40), box(100, 150, 300, 20)];
    const rejected: RejectedComponent[] = [
      { bounds: [0, 300, 100, 310], mapHeight: 5, mapLength: 40, pixels: 90, score: 0.5 }, // fragment of a small line
      { bounds: [0, 400, 10, 410], mapHeight: 5, mapLength: 7, pixels: 14, score: 0.5 }, // speck, about as long as high
      { bounds: [0, 500, 2, 501], mapHeight: 0, mapLength: 2, pixels: 2, score: 0.9 }, // one pixel row
      { bounds: [0, 600, 300, 900], mapHeight: 120, mapLength: 180, pixels: 5000, score: 0.55 }, // lines run together
      { bounds: [0, 1000, 300, 1030], mapHeight: 30, mapLength: 300, pixels: 5000, score: 0.55 }, // a faint large line
    ];
    const evidence = smallTextEvidence(boxes, rejected, 0.5);
    // At scale 0.5 the boxes are 20 and 10 map pixels high: only the second is small.
    assert.deepEqual(evidence, [
      { y0: 140, y1: 160, mapHeight: 10 },
      { y0: 300, y1: 310, mapHeight: 5 },
      { y0: 600, y1: 900 },
    ]);
  });
});

describe('planSmallText', () => {
  const pixelsOf = (plan: SmallTextPlan, width: number) => plan.bands.map((b) => width * plan.scale * (b.y1 - b.y0) * plan.scale);

  test('no evidence on a page with boxes: no second pass', () => {
    assert.equal(planSmallText([], 1000, 1000, 1, {}, 5), undefined);
  });

  test('the scale brings the median small height to SMALL_TEXT_TARGET, capped at SMALL_TEXT_MAX_SCALE', () => {
    const a4 = planSmallText([{ y0: 1000, y1: 1030, mapHeight: 8 }], 2480, 3508, 0.363)!;
    assert.ok(Math.abs(a4.scale - (0.363 * SMALL_TEXT_TARGET) / 8) < 1e-9);
    const tiny = planSmallText([{ y0: 10, y1: 14, mapHeight: 3 }], 300, 200, 1)!;
    assert.equal(tiny.scale, SMALL_TEXT_MAX_SCALE);
    // One band: the evidence, its reach (48 first-pass map pixels) and the overlap (48 / 3), inside the page.
    assert.deepEqual([tiny.bands.length, tiny.bands[0]!.y0, tiny.bands[0]!.y1, tiny.bands[0]!.core1], [1, 0, 14 + 48 + 16, 14 + 48]);
  });

  test('a gain under 1.25 is not worth a pass', () => {
    assert.equal(planSmallText([{ y0: 100, y1: 115, mapHeight: 15 }], 1000, 1000, 1, { maxScale: 1.2 }), undefined);
  });

  test('evidence all over a huge page: the scale is lowered to the pixel budget, bands cut to BAND_MAX_PIXELS', () => {
    const evidence = Array.from({ length: 60 }, (_, i) => ({ y0: i * 100, y1: i * 100 + 10, mapHeight: 3 }));
    const plan = planSmallText(evidence, 4000, 6000, 0.2133)!;
    assert.ok(plan.scale < (0.2133 * SMALL_TEXT_TARGET) / 3, `scale ${plan.scale} lowered`);
    const pixels = pixelsOf(plan, 4000);
    assert.ok(pixels.reduce((a, b) => a + b, 0) <= SMALL_TEXT_PIXEL_BUDGET, `${pixels.reduce((a, b) => a + b, 0)} within the budget`);
    for (const p of pixels) assert.ok(p <= BAND_MAX_PIXELS * 1.01, `band of ${p} pixels`); // rows rounded out to whole pixels
    // Every piece of evidence lies in some band's core.
    for (const e of evidence) assert.ok(plan.bands.some((b) => b.core0 <= e.y0 && e.y1 <= b.core1), `evidence at ${e.y0}`);
  });

  test('nothing found on a small picture: the whole of it once more; on a big one: no pass', () => {
    const chart = planSmallText([], 300, 220, 0.99, {}, 0)!;
    assert.deepEqual(chart, { scale: SMALL_TEXT_MAX_SCALE, bands: [{ y0: 0, y1: 220, core0: 0, core1: 220 }] });
    assert.equal(planSmallText([], 2480, 3508, 0.363, {}, 0), undefined);
  });
});

describe('mergeSmallText', () => {
  const plan: SmallTextPlan = { scale: 2, bands: [{ y0: 100, y1: 300, core0: 130, core1: 270 }] };

  test('second-pass boxes replace the first-pass boxes they overlap inside the core', () => {
    const blob = box(200, 200, 300, 60); // three small lines run together
    const lines = [box(200, 180, 280, 14), box(200, 200, 280, 14), box(200, 220, 280, 14)];
    const outside = box(200, 50, 300, 30);
    const merged = mergeSmallText([blob, outside], plan, [lines], 1000);
    assert.deepEqual(merged, [outside, ...lines]);
  });

  test('a first-pass box the second pass missed is kept; second-pass boxes outside the core or cut by the band are dropped', () => {
    const missed = box(500, 200, 100, 20);
    const cut = box(200, 140, 100, 80); // reaches past y0 = 100
    const below = box(200, 280, 100, 10); // centre under the core
    const kept = box(200, 200, 100, 10);
    assert.deepEqual(mergeSmallText([missed], plan, [[cut, below, kept]], 1000), [missed, kept]);
  });
});
