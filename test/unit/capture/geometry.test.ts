import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MIN_PHYSICAL_SIDE,
  globalToOverlay,
  normalizeDrag,
  overlayToDisplay,
  physicalSize,
  selectionToPhysical,
  splitSelectionAcrossDisplays,
  type Display,
  type Drag,
  type Rect,
} from '../../../main/api/capture-geometry.js';

// Synthetic screenshot: every pixel encodes its own physical coordinates.
// R = x mod 256, G = y mod 256, B = display index, A = (x >> 8) << 4 | (y >> 8).
interface Image { data: Uint8Array; width: number; height: number }

function synthetic(width: number, height: number, index: number): Image {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data[o] = x & 255;
      data[o + 1] = y & 255;
      data[o + 2] = index;
      data[o + 3] = ((x >> 8) << 4) | (y >> 8);
    }
  }
  return { data, width, height };
}

function crop(img: Image, r: Rect): Image {
  assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= img.width && r.y + r.height <= img.height, 'crop inside image');
  const data = new Uint8Array(r.width * r.height * 4);
  for (let y = 0; y < r.height; y++) {
    const src = ((r.y + y) * img.width + r.x) * 4;
    data.set(img.data.subarray(src, src + r.width * 4), y * r.width * 4);
  }
  return { data, width: r.width, height: r.height };
}

function decode(img: Image, x: number, y: number): { x: number; y: number; display: number } {
  const o = (y * img.width + x) * 4;
  const a = img.data[o + 3]!;
  return { x: img.data[o]! + ((a >> 4) << 8), y: img.data[o + 1]! + ((a & 15) << 8), display: img.data[o + 2]! };
}

/** Crop the display's synthetic screenshot and assert the four corners are the expected physical pixels. */
function assertCropCorners(displays: readonly Display[], displayId: number, rect: Rect, expected: Rect): void {
  const index = displays.findIndex((d) => d.id === displayId);
  const size = physicalSize(displays[index]!);
  const c = crop(synthetic(size.width, size.height, index), rect);
  const { x, y, width: w, height: h } = expected;
  assert.deepEqual(decode(c, 0, 0), { x, y, display: index });
  assert.deepEqual(decode(c, c.width - 1, 0), { x: x + w - 1, y, display: index });
  assert.deepEqual(decode(c, 0, c.height - 1), { x, y: y + h - 1, display: index });
  assert.deepEqual(decode(c, c.width - 1, c.height - 1), { x: x + w - 1, y: y + h - 1, display: index });
  assert.equal(c.width, w);
  assert.equal(c.height, h);
}

const drag = (x0: number, y0: number, x1: number, y1: number): Drag => ({ start: { x: x0, y: y0 }, end: { x: x1, y: y1 } });

// Two monitors: primary at scale 1, a retina display left of AND above it (negative origin).
const TWO: Display[] = [
  { id: 1, bounds: { x: 0, y: 0, width: 1920, height: 1080 }, scaleFactor: 1 },
  { id: 2, bounds: { x: -1440, y: -300, width: 1440, height: 900 }, scaleFactor: 2 },
];
// Three monitors: 1.25 primary, 1.5 above it, 1 to the left (negative x).
const THREE: Display[] = [
  { id: 10, bounds: { x: 0, y: 0, width: 1536, height: 864 }, scaleFactor: 1.25 },
  { id: 11, bounds: { x: 0, y: -1080, width: 1920, height: 1080 }, scaleFactor: 1.5 },
  { id: 12, bounds: { x: -1280, y: 0, width: 1280, height: 1024 }, scaleFactor: 1 },
];

test('physicalSize is round(size × scaleFactor) per display', () => {
  assert.deepEqual(physicalSize(TWO[0]!), { width: 1920, height: 1080 });
  assert.deepEqual(physicalSize(TWO[1]!), { width: 2880, height: 1800 });
  assert.deepEqual(physicalSize(THREE[0]!), { width: 1920, height: 1080 });
  assert.deepEqual(physicalSize(THREE[1]!), { width: 2880, height: 1620 });
  assert.deepEqual(physicalSize({ id: 1, bounds: { x: 0, y: 0, width: 1366, height: 768 }, scaleFactor: 1.25 }), { width: 1708, height: 960 });
});

test('overlayToDisplay / globalToOverlay round-trip, negative origins included', () => {
  for (const d of [...TWO, ...THREE]) {
    const g = overlayToDisplay(d, { x: 12.5, y: 7 });
    assert.deepEqual(g, { x: d.bounds.x + 12.5, y: d.bounds.y + 7 });
    assert.deepEqual(globalToOverlay(d, g), { x: 12.5, y: 7 });
  }
  assert.deepEqual(overlayToDisplay(TWO[1]!, { x: 0, y: 0 }), { x: -1440, y: -300 });
});

// Same overlay selection (10,20)→(110,70) DIP at each scale factor; start floored, end ceiled.
const SCALE_TABLE: { scale: number; sel: Drag; expected: Rect }[] = [
  { scale: 1, sel: drag(10, 20, 110, 70), expected: { x: 10, y: 20, width: 100, height: 50 } },
  { scale: 1.25, sel: drag(10, 20, 110, 70), expected: { x: 12, y: 25, width: 126, height: 63 } }, // 12.5→12, 137.5→138, 87.5→88
  { scale: 1.5, sel: drag(10, 20, 110, 70), expected: { x: 15, y: 30, width: 150, height: 75 } },
  { scale: 2, sel: drag(10, 20, 110, 70), expected: { x: 20, y: 40, width: 200, height: 100 } },
  { scale: 2, sel: drag(10.3, 20.6, 110.2, 70.1), expected: { x: 20, y: 41, width: 201, height: 100 } }, // 20.6→20, 41.2→41, 220.4→221, 140.2→141
  { scale: 1.25, sel: drag(0, 0, 1536, 864), expected: { x: 0, y: 0, width: 1920, height: 1080 } },
];

for (const { scale, sel, expected } of SCALE_TABLE) {
  test(`selectionToPhysical at scale ${scale}: (${sel.start.x},${sel.start.y})→(${sel.end.x},${sel.end.y}) crops exactly ${JSON.stringify(expected)}`, () => {
    const displays: Display[] = [{ id: 7, bounds: { x: -500, y: -200, width: 1536, height: 864 }, scaleFactor: scale }];
    const r = selectionToPhysical(displays[0]!, sel);
    assert.ok(r.ok);
    assert.deepEqual(r.rect, expected);
    assertCropCorners(displays, 7, r.rect, expected);
  });
}

test('drag direction does not matter (all four corners as start)', () => {
  const d = THREE[1]!; // 1.5
  const expected = { x: 15, y: 30, width: 150, height: 75 };
  for (const sel of [drag(10, 20, 110, 70), drag(110, 70, 10, 20), drag(110, 20, 10, 70), drag(10, 70, 110, 20)]) {
    const r = selectionToPhysical(d, sel);
    assert.ok(r.ok);
    assert.deepEqual(r.rect, expected);
  }
  assert.deepEqual(normalizeDrag(drag(5, 9, -3, 1)), { x: -3, y: 1, width: 8, height: 8 });
  // A Rect with negative size is normalized the same way.
  const r = selectionToPhysical(d, { x: 110, y: 70, width: -100, height: -50 });
  assert.ok(r.ok);
  assert.deepEqual(r.rect, expected);
});

test('selection is clamped to the display and whole-display selection maps edge to edge', () => {
  const d = TWO[1]!;
  const r = selectionToPhysical(d, drag(-50, -50, 2000, 2000));
  assert.ok(r.ok);
  assert.deepEqual(r.rect, { x: 0, y: 0, width: 2880, height: 1800 });
  assertCropCorners(TWO, 2, r.rect, r.rect);
  // 1366 × 1.25 = 1707.5 → 1708: the per-axis scale uses the captured image size.
  const odd: Display = { id: 3, bounds: { x: 0, y: 0, width: 1366, height: 768 }, scaleFactor: 1.25 };
  const full = selectionToPhysical(odd, drag(0, 0, 1366, 768));
  assert.ok(full.ok);
  assert.deepEqual(full.rect, { x: 0, y: 0, width: 1708, height: 960 });
  // An explicit captured size overrides physicalSize.
  const custom = selectionToPhysical(odd, drag(0, 0, 683, 384), { width: 1366, height: 768 });
  assert.ok(custom.ok);
  assert.deepEqual(custom.rect, { x: 0, y: 0, width: 683, height: 384 });
});

test('float noise never adds a pixel (50 × 1.1 = 55.00000000000001 → 55)', () => {
  const d: Display = { id: 4, bounds: { x: 0, y: 0, width: 1000, height: 1000 }, scaleFactor: 1.1 };
  const r = selectionToPhysical(d, drag(0, 0, 50, 50));
  assert.ok(r.ok);
  assert.deepEqual(r.rect, { x: 0, y: 0, width: 55, height: 55 });
});

test('degenerate selections are refused with a typed result', () => {
  const d2 = TWO[1]!; // scale 2
  assert.deepEqual(selectionToPhysical(d2, drag(100, 100, 100, 100)), { ok: false, reason: 'too-small' });
  assert.deepEqual(selectionToPhysical(d2, drag(100, 100, 100.5, 300)), { ok: false, reason: 'too-small' }); // 1 px wide
  assert.deepEqual(selectionToPhysical(TWO[0]!, drag(100, 100, 300, 101)), { ok: false, reason: 'too-small' }); // 1 px high
  const ok = selectionToPhysical(d2, drag(100, 100, 101, 101)); // exactly MIN_PHYSICAL_SIDE
  assert.ok(ok.ok);
  assert.equal(ok.rect.width, MIN_PHYSICAL_SIDE);
  assert.deepEqual(selectionToPhysical(d2, drag(-300, -300, -10, -10)), { ok: false, reason: 'outside-display' });
  assert.deepEqual(selectionToPhysical(d2, drag(1500, 10, 1600, 100)), { ok: false, reason: 'outside-display' });
  assert.deepEqual(splitSelectionAcrossDisplays([], drag(0, 0, 10, 10)), { ok: false, reason: 'no-display' });
  assert.deepEqual(splitSelectionAcrossDisplays(TWO, drag(5, 5, 5.5, 300)), { ok: false, reason: 'too-small' });
});

test('overlay selection on each display of a 3-monitor layout → split → exact crop', () => {
  const cases: { id: number; sel: Drag; expected: Rect }[] = [
    { id: 10, sel: drag(100, 80, 20, 40), expected: { x: 25, y: 50, width: 100, height: 50 } }, // 1.25, dragged up-left
    { id: 11, sel: drag(1, 3, 101, 53), expected: { x: 1, y: 4, width: 151, height: 76 } }, // 1.5: 1.5→1, 4.5→4, 151.5→152, 79.5→80
    { id: 12, sel: drag(1200, 900, 1279, 1023), expected: { x: 1200, y: 900, width: 79, height: 123 } }, // 1, negative-x display
  ];
  for (const { id, sel, expected } of cases) {
    const d = THREE.find((x) => x.id === id)!;
    const global = { start: overlayToDisplay(d, sel.start), end: overlayToDisplay(d, sel.end) };
    const r = splitSelectionAcrossDisplays(THREE, global);
    assert.ok(r.ok, `display ${id}`);
    assert.equal(r.clipped, false);
    assert.equal(r.parts.length, 1);
    assert.equal(r.parts[0]!.displayId, id);
    assert.deepEqual(r.parts[0]!.physical, expected);
    assertCropCorners(THREE, id, r.parts[0]!.physical, expected);
  }
});

test('crossing policy: the display under the drag START wins and the selection is clamped to it', () => {
  // Start on the left/above retina display, end on the primary.
  const a = splitSelectionAcrossDisplays(TWO, drag(-100, 100, 200, 300));
  assert.ok(a.ok);
  assert.equal(a.clipped, true);
  assert.equal(a.parts[0]!.displayId, 2);
  // local x 1340..1440 (clamped), y 400..600 → ×2
  const ea = { x: 2680, y: 800, width: 200, height: 400 };
  assert.deepEqual(a.parts[0]!.physical, ea);
  assertCropCorners(TWO, 2, a.parts[0]!.physical, ea);
  // Same rectangle, dragged the other way: starts on the primary, so the primary wins.
  const b = splitSelectionAcrossDisplays(TWO, drag(200, 300, -100, 100));
  assert.ok(b.ok);
  assert.equal(b.clipped, true);
  assert.equal(b.parts[0]!.displayId, 1);
  const eb = { x: 0, y: 100, width: 200, height: 200 };
  assert.deepEqual(b.parts[0]!.physical, eb);
  assertCropCorners(TWO, 1, b.parts[0]!.physical, eb);
  // Three monitors: start on the 1.5 display above, end on the 1.25 primary below.
  const c = splitSelectionAcrossDisplays(THREE, drag(100, -40, 300, 200));
  assert.ok(c.ok);
  assert.equal(c.parts[0]!.displayId, 11);
  const ec = { x: 150, y: 1560, width: 300, height: 60 }; // local y 1040..1080 → 1560..1620
  assert.deepEqual(c.parts[0]!.physical, ec);
  assertCropCorners(THREE, 11, c.parts[0]!.physical, ec);
});

test('crossing policy: a start point in a gap between displays falls back to the largest overlap', () => {
  // Gap: x < 0 and y < 0 is outside every THREE display (left one starts at y=0, top one at x=0).
  const r = splitSelectionAcrossDisplays(THREE, drag(-100, -50, 60, 400));
  assert.ok(r.ok);
  assert.equal(r.clipped, true);
  // Overlaps: primary 60×400=24000, top 60×50=3000, left 100×400=40000 → left display (id 12).
  assert.equal(r.parts[0]!.displayId, 12);
  assert.deepEqual(r.parts[0]!.physical, { x: 1180, y: 0, width: 100, height: 400 });
  assert.deepEqual(splitSelectionAcrossDisplays(THREE, drag(-500, -500, -400, -400)), { ok: false, reason: 'outside-display' });
});
