/**
 * The image viewer's text layer geometry (renderer/lib/text-layer.ts): letterboxing, image px →
 * layer px, a line's quad → its span's box (position, size, rotation, font size) for upright,
 * turned (90°, 180°, 270°), skewed and tilted lines, and the CSS it becomes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TextQuad } from '../../../main/api/contract.js';
import { FONT_SIZE_RATIO, contentRect, fitScaleX, layerScale, lineBox, lineStyle, pointAlong, type LineBox } from '../../../renderer/lib/text-layer.js';

const close = (actual: number, expected: number, eps = 1e-6, what = ''): void => {
  assert.ok(Math.abs(actual - expected) <= eps, `${what} ${actual} ≠ ${expected}`);
};

function assertBox(actual: LineBox | null, expected: Omit<LineBox, 'fontSize'>, eps = 1e-6): void {
  assert.ok(actual, 'a box');
  for (const k of ['left', 'top', 'width', 'height', 'angle'] as const) close(actual[k], expected[k], eps, k);
  close(actual.fontSize, expected.height * FONT_SIZE_RATIO, eps, 'fontSize');
}

/** The quad of an axis-aligned rectangle, corners in reading order for a line read left to right. */
function rectQuad(x: number, y: number, w: number, h: number): TextQuad {
  return [
    [x, y],
    [x + w, y],
    [x + w, y + h],
    [x, y + h],
  ];
}

/** Rotate a point about the origin, clockwise on screen (y down) by `deg`. */
function rot([x, y]: [number, number], deg: number): [number, number] {
  const a = (deg * Math.PI) / 180;
  return [x * Math.cos(a) - y * Math.sin(a), x * Math.sin(a) + y * Math.cos(a)];
}

describe('contentRect (object-fit: contain)', () => {
  test('a wide picture in a tall box is letterboxed top and bottom', () => {
    assert.deepEqual(contentRect({ width: 400, height: 600 }, { width: 800, height: 400 }), { x: 0, y: 200, width: 400, height: 200 });
  });

  test('a tall picture in a wide box is letterboxed left and right', () => {
    assert.deepEqual(contentRect({ width: 1000, height: 500 }, { width: 480, height: 640 }), { x: 312.5, y: 0, width: 375, height: 500 });
  });

  test('an element sized to the picture has no letterbox', () => {
    assert.deepEqual(contentRect({ width: 240, height: 320 }, { width: 480, height: 640 }), { x: 0, y: 0, width: 240, height: 320 });
  });

  test('a small picture is scaled up, like object-fit: contain', () => {
    assert.deepEqual(contentRect({ width: 600, height: 300 }, { width: 60, height: 30 }), { x: 0, y: 0, width: 600, height: 300 });
  });

  test('nothing known yet (zero sizes): the whole box, never negative', () => {
    assert.deepEqual(contentRect({ width: 300, height: 200 }, { width: 0, height: 0 }), { x: 0, y: 0, width: 300, height: 200 });
    assert.deepEqual(contentRect({ width: -1, height: 0 }, { width: 10, height: 10 }), { x: 0, y: 0, width: 0, height: 0 });
  });
});

describe('layerScale', () => {
  test('per axis, from the boxes frame to the displayed picture', () => {
    assert.deepEqual(layerScale({ width: 480, height: 640 }, { width: 240, height: 320 }), { x: 0.5, y: 0.5 });
    assert.deepEqual(layerScale({ width: 1000, height: 500 }, { width: 1001, height: 500 }), { x: 1.001, y: 1 });
  });

  test('no frame (a failed or pending reading): zero, so no line is laid out', () => {
    assert.deepEqual(layerScale({ width: 0, height: 0 }, { width: 240, height: 320 }), { x: 0, y: 0 });
    assert.equal(lineBox(rectQuad(10, 10, 100, 20), layerScale({ width: 0, height: 0 }, { width: 10, height: 10 })), null);
  });
});

describe('lineBox', () => {
  const one = { x: 1, y: 1 };

  test('an upright line keeps its rectangle, unrotated', () => {
    assertBox(lineBox(rectQuad(40, 30, 200, 24), one), { left: 40, top: 30, width: 200, height: 24, angle: 0 });
  });

  test('the quad is scaled into layer px (letterboxed viewer at half size)', () => {
    const scale = layerScale({ width: 480, height: 640 }, contentRect({ width: 240, height: 320 }, { width: 480, height: 640 }));
    assertBox(lineBox(rectQuad(40, 30, 200, 24), scale), { left: 20, top: 15, width: 100, height: 12, angle: 0 });
  });

  test('a page turned 90° counter-clockwise: lines read upwards, rotated -90° about their top-left', () => {
    // tesseract_phototest-rotated-L.png: a line starts at the bottom and runs up; its top is on the left.
    const quad: TextQuad = [
      [90, 600],
      [90, 100],
      [120, 100],
      [120, 600],
    ];
    const b = lineBox(quad, one)!;
    assertBox(b, { left: 90, top: 600, width: 500, height: 30, angle: -90 });
    // Rotating the span's own corners about its top-left gives the quad back.
    const corners: [number, number][] = [
      [0, 0],
      [b.width, 0],
      [b.width, b.height],
      [0, b.height],
    ];
    corners.forEach((c, i) => {
      const [x, y] = rot(c, b.angle);
      close(b.left + x, quad[i]![0], 1e-6, `corner ${i} x`);
      close(b.top + y, quad[i]![1], 1e-6, `corner ${i} y`);
    });
  });

  test('a page turned 90° clockwise: lines read downwards, +90°', () => {
    const quad: TextQuad = [
      [400, 50],
      [400, 450],
      [370, 450],
      [370, 50],
    ];
    assertBox(lineBox(quad, one), { left: 400, top: 50, width: 400, height: 30, angle: 90 });
  });

  test('an upside-down page: 180°, starting at the bottom right', () => {
    const quad: TextQuad = [
      [300, 200],
      [100, 200],
      [100, 180],
      [300, 180],
    ];
    assertBox(lineBox(quad, one), { left: 300, top: 200, width: 200, height: 20, angle: 180 });
  });

  test('a tilted line (a photographed page): its angle, length and height', () => {
    const [w, h, deg] = [300, 20, 7];
    const o: [number, number] = [50, 80];
    const corners: [number, number][] = [
      [0, 0],
      [w, 0],
      [w, h],
      [0, h],
    ];
    const quad = corners.map((c) => {
      const [x, y] = rot(c, deg);
      return [o[0] + x, o[1] + y];
    }) as TextQuad;
    assertBox(lineBox(quad, one), { left: 50, top: 80, width: 300, height: 20, angle: 7 }, 1e-9);
  });

  test('a slightly perspective quad: mean edges, centred on the quad', () => {
    // Top edge 200 long, bottom edge 210, 22 apart: a 205 × 22 box about the centre.
    const quad: TextQuad = [
      [100, 100],
      [300, 100],
      [305, 122],
      [95, 122],
    ];
    const b = lineBox(quad, one)!;
    close(b.width, 205, 1e-9, 'width');
    close(b.height, 22, 1e-9, 'height');
    close(b.angle, 0, 1e-9, 'angle');
    close(b.left + b.width / 2, 200, 1e-9, 'centre x');
    close(b.top + b.height / 2, 111, 1e-9, 'centre y');
  });

  test('non-uniform scale (a 1 px rounding) scales each axis', () => {
    const b = lineBox(rectQuad(0, 0, 100, 10), { x: 1.01, y: 1 })!;
    close(b.width, 101, 1e-9);
    close(b.height, 10, 1e-9);
  });

  test('degenerate quads are skipped', () => {
    assert.equal(
      lineBox(
        [
          [5, 5],
          [5, 5],
          [5, 5],
          [5, 5],
        ],
        one,
      ),
      null,
    );
    assert.equal(lineBox(rectQuad(0, 0, 100, 0.2), one), null, 'no height');
    assert.equal(lineBox(rectQuad(0, 0, 100, 10), { x: Number.NaN, y: 1 }), null);
  });
});

describe('fitScaleX', () => {
  test('stretches the measured text to the box width', () => {
    assert.equal(fitScaleX(200, 160), 1.25);
    assert.equal(fitScaleX(100, 200), 0.5);
  });

  test('nothing measured: no stretch', () => {
    assert.equal(fitScaleX(200, 0), 1);
    assert.equal(fitScaleX(0, 50), 1);
    assert.equal(fitScaleX(200, Number.NaN), 1);
  });
});

describe('lineStyle', () => {
  test('an upright, unstretched line: position, height and font only', () => {
    const b = lineBox(rectQuad(40, 30, 200, 25), { x: 1, y: 1 })!;
    assert.equal(lineStyle(b), 'left: 40px; top: 30px; height: 25px; line-height: 25px; font-size: 20px');
  });

  test('a turned, stretched line: rotate first in the list (applied last), then scaleX', () => {
    const b: LineBox = { left: 90.123, top: 600, width: 500, height: 30, angle: -90, fontSize: 24 };
    assert.equal(lineStyle(b, 1.23456), 'left: 90.12px; top: 600px; height: 30px; line-height: 30px; font-size: 24px; transform: rotate(-90deg) scaleX(1.2346)');
  });
});

describe('pointAlong', () => {
  test('start and end of an upright line at mid-height', () => {
    const b = lineBox(rectQuad(40, 30, 200, 20), { x: 1, y: 1 })!;
    assert.deepEqual(pointAlong(b, 0), { x: 40, y: 40 });
    assert.deepEqual(pointAlong(b, 1), { x: 240, y: 40 });
    assert.deepEqual(pointAlong(b, 0, 5), { x: 45, y: 40 });
  });

  test('a line turned -90° runs upwards from its bottom', () => {
    const b: LineBox = { left: 90, top: 600, width: 500, height: 30, angle: -90, fontSize: 24 };
    const start = pointAlong(b, 0);
    const end = pointAlong(b, 1);
    close(start.x, 105, 1e-9);
    close(start.y, 600, 1e-9);
    close(end.x, 105, 1e-9);
    close(end.y, 100, 1e-9);
  });
});
