/**
 * The capture overlay's pure mapping (renderer/lib/capture/overlay-geometry.ts): where the frame is
 * drawn, pointer → image-local point, click vs drag, and drag → physical rectangle through the
 * shared selectionToPhysical, including letterboxing, HiDPI scales, up-left drags and clamping.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clientToImage,
  dragRect,
  dragToPhysical,
  imageDisplay,
  isClick,
  layoutImage,
  refusalMessage,
  wholeImageDrag,
} from '../../../renderer/lib/capture/overlay-geometry.js';

describe('layoutImage', () => {
  test('contain letterboxes a wide image left and right, centred', () => {
    assert.deepEqual(layoutImage({ width: 1000, height: 500 }, { width: 1600, height: 1000 }, 'contain'), { x: 100, y: 0, width: 800, height: 500 });
  });

  test('contain letterboxes a tall image top and bottom', () => {
    assert.deepEqual(layoutImage({ width: 800, height: 800 }, { width: 400, height: 200 }, 'contain'), { x: 0, y: 200, width: 800, height: 400 });
  });

  test('contain scales a small image up, like object-fit: contain', () => {
    assert.deepEqual(layoutImage({ width: 600, height: 300 }, { width: 60, height: 30 }, 'contain'), { x: 0, y: 0, width: 600, height: 300 });
  });

  test('fill covers the whole box even when the aspect differs by a rounding (1366×768 @1.25 → 1708×960)', () => {
    assert.deepEqual(layoutImage({ width: 1366, height: 768 }, { width: 1708, height: 960 }, 'fill'), { x: 0, y: 0, width: 1366, height: 768 });
  });

  test('an image without a size fills the box', () => {
    assert.deepEqual(layoutImage({ width: 10, height: 20 }, { width: 0, height: 0 }, 'contain'), { x: 0, y: 0, width: 10, height: 20 });
  });
});

describe('clientToImage', () => {
  const image = { x: 100, y: 20, width: 800, height: 500 };

  test('subtracts the image origin', () => {
    assert.deepEqual(clientToImage({ x: 150, y: 60 }, image), { x: 50, y: 40 });
  });

  test('clamps a point in the letterbox or past the far edge to the image', () => {
    assert.deepEqual(clientToImage({ x: 40, y: 5 }, image), { x: 0, y: 0 });
    assert.deepEqual(clientToImage({ x: 2000, y: 900 }, image), { x: 800, y: 500 });
  });
});

describe('isClick', () => {
  test('a release within the slop is a click; beyond it on either axis a drag', () => {
    assert.equal(isClick({ start: { x: 10, y: 10 }, end: { x: 10, y: 10 } }), true);
    assert.equal(isClick({ start: { x: 10, y: 10 }, end: { x: 11.5, y: 8.5 } }), true);
    assert.equal(isClick({ start: { x: 10, y: 10 }, end: { x: 12, y: 10 } }), false);
    assert.equal(isClick({ start: { x: 10, y: 10 }, end: { x: 10, y: 40 } }), false);
  });
});

describe('dragToPhysical', () => {
  const natural = { width: 1600, height: 1000 };
  const displayed = { width: 800, height: 500 }; // shown at scale 2 (HiDPI)

  test('imageDisplay puts the bounds at the origin with scale natural / displayed', () => {
    assert.deepEqual(imageDisplay(displayed, natural), { id: 0, bounds: { x: 0, y: 0, width: 800, height: 500 }, scaleFactor: 2 });
  });

  test('a down-right drag at scale 2 doubles every edge', () => {
    assert.deepEqual(dragToPhysical({ start: { x: 50, y: 40 }, end: { x: 250, y: 240 } }, displayed, natural), {
      ok: true,
      rect: { x: 100, y: 80, width: 400, height: 400 },
    });
  });

  test('an up-left drag gives the same rectangle as the down-right one', () => {
    assert.deepEqual(dragToPhysical({ start: { x: 250, y: 240 }, end: { x: 50, y: 40 } }, displayed, natural), {
      ok: true,
      rect: { x: 100, y: 80, width: 400, height: 400 },
    });
  });

  test('fractional edges round outward (start floored, end ceiled)', () => {
    assert.deepEqual(dragToPhysical({ start: { x: 10.3, y: 20.6 }, end: { x: 30.2, y: 40.7 } }, displayed, natural), {
      ok: true,
      rect: { x: 20, y: 41, width: 41, height: 41 },
    });
  });

  test('scale 1.25 (1366 DIP → 1708 px wide) maps the far edge to the last pixel', () => {
    const r = dragToPhysical({ start: { x: 0, y: 0 }, end: { x: 1366, y: 768 } }, { width: 1366, height: 768 }, { width: 1708, height: 960 });
    assert.deepEqual(r, { ok: true, rect: { x: 0, y: 0, width: 1708, height: 960 } });
  });

  test('scale 1.5 with a non-integer product', () => {
    // 101 × 1.5 = 151.5 → floor 151; 203 × 1.5 = 304.5 → ceil 305.
    const r = dragToPhysical({ start: { x: 101, y: 101 }, end: { x: 203, y: 203 } }, { width: 400, height: 300 }, { width: 600, height: 450 });
    assert.deepEqual(r, { ok: true, rect: { x: 151, y: 151, width: 154, height: 154 } });
  });

  test('the whole-image drag selects every pixel', () => {
    assert.deepEqual(dragToPhysical(wholeImageDrag(displayed), displayed, natural), { ok: true, rect: { x: 0, y: 0, width: 1600, height: 1000 } });
  });

  test('a flat drag (no height) is refused as too small, with a message', () => {
    const r = dragToPhysical({ start: { x: 100, y: 100 }, end: { x: 140, y: 100 } }, displayed, natural);
    assert.deepEqual(r, { ok: false, reason: 'too-small' });
    assert.match(refusalMessage('too-small'), /too small/);
  });

  test('at scale 1 a one-pixel-high drag is refused; at scale 2 the same CSS pixel is two pixels and accepted', () => {
    const drag = { start: { x: 10, y: 10 }, end: { x: 50, y: 11 } };
    assert.deepEqual(dragToPhysical(drag, { width: 100, height: 100 }, { width: 100, height: 100 }), { ok: false, reason: 'too-small' });
    assert.deepEqual(dragToPhysical(drag, { width: 100, height: 100 }, { width: 200, height: 200 }), { ok: true, rect: { x: 20, y: 20, width: 80, height: 2 } });
  });

  test('a drag clamped onto the left edge (started and ended in the letterbox) is outside the picture', () => {
    const r = dragToPhysical({ start: { x: 0, y: 10 }, end: { x: 0, y: 200 } }, displayed, natural);
    assert.deepEqual(r, { ok: false, reason: 'outside-display' });
    assert.match(refusalMessage('outside-display'), /outside/);
  });
});

test('dragRect normalizes any direction', () => {
  assert.deepEqual(dragRect({ start: { x: 30, y: 40 }, end: { x: 10, y: 5 } }), { x: 10, y: 5, width: 20, height: 35 });
});
