/**
 * Box post-processing of the DB detector (probability map → text boxes) and the geometry under
 * it: min-area rectangles, reading-frame quads, page turns.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DB_UNCLIP_RATIO, dbPostprocess, detInputSize, unclip } from '../../../main/engine/text-ocr/detect.js';
import {
  canonicalRect,
  convexHull,
  middleWindow,
  minAreaRect,
  quadHeight,
  quadWidth,
  rectToQuad,
  rotatePoint,
  turnQuad,
  unrotatePoint,
  type Point,
  type Quad,
} from '../../../main/engine/text-ocr/geometry.js';

const close = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps;

describe('geometry', () => {
  test('convex hull drops inner and collinear points', () => {
    const hull = convexHull([[0, 0], [2, 0], [4, 0], [4, 3], [0, 3], [2, 1], [1, 2]]);
    assert.equal(hull.length, 4);
  });

  test('minAreaRect of a rotated rectangle is that rectangle', () => {
    const angle = (25 * Math.PI) / 180;
    const r = { cx: 50, cy: 40, along: 60, across: 12, ux: Math.cos(angle), uy: Math.sin(angle) };
    const corners = rectToQuad(r);
    const inner: Point[] = [[50, 40], [55, 42]];
    const found = canonicalRect(minAreaRect([...corners, ...inner]));
    assert.ok(close(found.along, 60) && close(found.across, 12), JSON.stringify(found));
    assert.ok(close(found.cx, 50) && close(found.cy, 40));
    assert.ok(close(Math.atan2(found.uy, found.ux), angle), 'axis along the long side, pointing right');
  });

  test('canonical axis: along the long side, rightwards when nearer horizontal, downwards when nearer vertical', () => {
    const flat = canonicalRect({ cx: 0, cy: 0, along: 5, across: 40, ux: 0, uy: 1 });
    assert.deepEqual([flat.along, flat.across, flat.ux, flat.uy], [40, 5, 1, 0]);
    const tall = canonicalRect({ cx: 0, cy: 0, along: 40, across: 5, ux: 0, uy: -1 });
    assert.deepEqual([tall.ux, tall.uy], [0, 1]);
  });

  test('quads: tl → tr is the reading direction; turning relabels the corners', () => {
    const q = rectToQuad({ cx: 50, cy: 20, along: 80, across: 20, ux: 1, uy: 0 });
    assert.deepEqual(q, [[10, 10], [90, 10], [90, 30], [10, 30]]);
    assert.deepEqual(turnQuad(q, 2), [[90, 30], [10, 30], [10, 10], [90, 10]]);
    assert.deepEqual(turnQuad(q, 4), q);
    assert.equal(quadWidth(q), 80);
    assert.equal(quadHeight(q), 20);
    const mid = middleWindow(q, 2);
    assert.deepEqual(mid, [[30, 10], [70, 10], [70, 30], [30, 30]]);
    assert.deepEqual(middleWindow(q, 10), q);
  });

  test('page turns: a point turned and turned back is where it was', () => {
    const W = 640;
    const H = 480;
    for (const rot of [0, 90, 180, 270] as const) {
      const p: Point = [100, 30];
      const turned = rotatePoint(p, rot, W, H);
      assert.deepEqual(unrotatePoint(turned, rot, W, H), p, `rotation ${rot}`);
    }
    // Turned 90° clockwise, the top-left corner goes to the top-right.
    assert.deepEqual(rotatePoint([0, 0], 90, W, H), [H, 0]);
  });
});

describe('detInputSize (DetResizeForTest, limit_type max)', () => {
  test('never enlarges; sides rounded to multiples of 32, at least 32', () => {
    assert.deepEqual(detInputSize(480, 640), { width: 480, height: 640 });
    assert.deepEqual(detInputSize(1000, 500), { width: 992, height: 512 });
    assert.deepEqual(detInputSize(10, 10), { width: 32, height: 32 });
  });
  test('a larger page is scaled so its longer side is the limit', () => {
    assert.deepEqual(detInputSize(4000, 3000, 1280), { width: 1280, height: 960 });
    assert.deepEqual(detInputSize(3024, 4032, 960), { width: 704, height: 960 });
  });
});

/** A probability map with `value` inside each of the given rotated rectangles (pixel centres), 0 elsewhere. */
function probMap(width: number, height: number, fills: { rect: Parameters<typeof rectToQuad>[0]; value: number }[]): Float32Array {
  const map = new Float32Array(width * height);
  for (const { rect, value } of fills) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = x - rect.cx;
        const dy = y - rect.cy;
        if (Math.abs(dx * rect.ux + dy * rect.uy) <= rect.along / 2 && Math.abs(-dx * rect.uy + dy * rect.ux) <= rect.across / 2) map[y * width + x] = value;
      }
    }
  }
  return map;
}

describe('dbPostprocess (DBPostProcess.boxes_from_bitmap)', () => {
  test('a text kernel becomes its min-area box grown by area × 1.5 / perimeter on each side', () => {
    // Kernel: pixels x 20..119, y 40..51 → centres span 99 × 11.
    const map = probMap(200, 100, [{ rect: { cx: 69.5, cy: 45.5, along: 99, across: 11, ux: 1, uy: 0 }, value: 0.9 }]);
    const boxes = dbPostprocess(map, 200, 100, 200, 100);
    assert.equal(boxes.length, 1);
    const d = (99 * 11 * DB_UNCLIP_RATIO) / (2 * (99 + 11));
    const b = boxes[0]!;
    assert.ok(close(b.rect.along, 99 + 2 * d, 1e-4) && close(b.rect.across, 11 + 2 * d, 1e-4), JSON.stringify(b.rect));
    assert.ok(close(b.score, 0.9, 1e-6));
    assert.ok(close(b.quad[0][0], 20 - d, 1e-4) && close(b.quad[0][1], 40 - d, 1e-4), JSON.stringify(b.quad));
  });

  test('boxes are scaled from the map to the image and clipped to it', () => {
    const map = probMap(100, 50, [{ rect: { cx: 50, cy: 5, along: 60, across: 6, ux: 1, uy: 0 }, value: 0.95 }]);
    const [b] = dbPostprocess(map, 100, 50, 400, 200);
    assert.ok(b);
    assert.ok(close(b.rect.cx, 200, 1e-3), `cx ${b.rect.cx}`);
    for (const [x, y] of b.quad) assert.ok(x >= 0 && x <= 400 && y >= 0 && y <= 200, `${x},${y} inside`);
    assert.ok(close(b.quad[0][1], 0, 1e-9), 'the top edge is clipped at 0');
  });

  test('weak regions (mean probability under box_thresh 0.6) and specks (side under 3) are dropped', () => {
    const map = probMap(200, 100, [
      { rect: { cx: 60, cy: 20, along: 80, across: 10, ux: 1, uy: 0 }, value: 0.5 },
      { rect: { cx: 150, cy: 80, along: 2, across: 2, ux: 1, uy: 0 }, value: 0.99 },
      { rect: { cx: 60, cy: 70, along: 80, across: 10, ux: 1, uy: 0 }, value: 0.8 },
    ]);
    const boxes = dbPostprocess(map, 200, 100, 200, 100);
    assert.equal(boxes.length, 1);
    assert.ok(close(boxes[0]!.rect.cy, 70, 1e-3));
  });

  test('a slanted line gives a rotated box along it; a vertical one a box whose axis points down', () => {
    const angle = (20 * Math.PI) / 180;
    const map = probMap(300, 300, [
      { rect: { cx: 100, cy: 80, along: 120, across: 10, ux: Math.cos(angle), uy: Math.sin(angle) }, value: 0.9 },
      { rect: { cx: 250, cy: 170, along: 100, across: 8, ux: 0, uy: 1 }, value: 0.9 },
    ]);
    const boxes = dbPostprocess(map, 300, 300, 300, 300).sort((a, b) => a.rect.cx - b.rect.cx);
    assert.equal(boxes.length, 2);
    const slanted = boxes[0]!.rect;
    assert.ok(Math.abs(Math.atan2(slanted.uy, slanted.ux) - angle) < (2 * Math.PI) / 180, `angle ${(Math.atan2(slanted.uy, slanted.ux) * 180) / Math.PI}`);
    const vertical = boxes[1]!;
    assert.ok(close(vertical.rect.ux, 0, 1e-6) && close(vertical.rect.uy, 1, 1e-6));
    const q: Quad = vertical.quad;
    assert.ok(q[1][1] > q[0][1], 'reading frame runs downward');
  });

  test('unclip of a degenerate rectangle is itself', () => {
    assert.deepEqual(unclip({ cx: 1, cy: 1, along: 0, across: 0, ux: 1, uy: 0 }, 1.5), { cx: 1, cy: 1, along: 0, across: 0, ux: 1, uy: 0 });
  });
});
