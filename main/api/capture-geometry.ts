// Pure crop geometry for the screenshot hotkey (no Electron imports).
//
// Coordinate spaces:
// - global DIP: Electron's `screen` space; each display's `bounds` lives here and
//   may have negative origins (a display left of or above the primary).
// - overlay DIP: local to the overlay window covering exactly one display,
//   (0,0) = the display's top-left corner.
// - physical pixels: the display's screenshot, captured at size × scaleFactor.
//
// Rounding policy (selectionToPhysical): the start edge is floored and the end
// edge is ceiled, so every physical pixel that the selection touches is kept
// ("round outward"; no selected pixel is lost). The DIP→pixel multiply is
// snapped to the nearest integer when within 1e-6 px of it, so float noise such
// as 0.1 × 3 = 0.30000000000000004 never adds or drops a pixel.

export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Display {
  id: number;
  /** DIP, global space. */
  bounds: Rect;
  scaleFactor: number;
}

/** A drag as the user made it: start and end may be in any order (up-left drags). */
export interface Drag {
  start: Point;
  end: Point;
}

export interface Size {
  width: number;
  height: number;
}

/** Smallest accepted crop side, in physical pixels. */
export const MIN_PHYSICAL_SIDE = 2;

export type CropRefusal = 'too-small' | 'outside-display' | 'no-display';

export type CropResult = { ok: true; rect: Rect } | { ok: false; reason: CropRefusal };

export interface CropPart {
  displayId: number;
  /** In that display's screenshot pixels. */
  physical: Rect;
}

export type SplitResult =
  | { ok: true; parts: CropPart[]; /** true when the drag left the chosen display and was clamped */ clipped: boolean }
  | { ok: false; reason: CropRefusal };

const SNAP_EPS = 1e-6;

function snap(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) < SNAP_EPS ? r : v;
}

/** Expected screenshot size of a display: round(width × scale) × round(height × scale). */
export function physicalSize(display: Display): Size {
  return {
    width: Math.round(display.bounds.width * display.scaleFactor),
    height: Math.round(display.bounds.height * display.scaleFactor),
  };
}

/** Overlay-local DIP point → global DIP point (the overlay covers the display's bounds exactly). */
export function overlayToDisplay(display: Display, pointInOverlay: Point): Point {
  return { x: display.bounds.x + pointInOverlay.x, y: display.bounds.y + pointInOverlay.y };
}

/** Global DIP point → overlay-local DIP point of `display`. */
export function globalToOverlay(display: Display, pointGlobal: Point): Point {
  return { x: pointGlobal.x - display.bounds.x, y: pointGlobal.y - display.bounds.y };
}

/** Drag (any direction) → rectangle with non-negative width and height. */
export function normalizeDrag(drag: Drag): Rect {
  const x = Math.min(drag.start.x, drag.end.x);
  const y = Math.min(drag.start.y, drag.end.y);
  return { x, y, width: Math.abs(drag.end.x - drag.start.x), height: Math.abs(drag.end.y - drag.start.y) };
}

export function containsPoint(r: Rect, p: Point): boolean {
  return p.x >= r.x && p.x < r.x + r.width && p.y >= r.y && p.y < r.y + r.height;
}

export function intersectionArea(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Selection in overlay-local DIP (a Drag in any direction, or a Rect) → the
 * rectangle in that display's screenshot pixels, clamped to the screenshot.
 * `imageSize` is the screenshot actually captured (defaults to physicalSize);
 * the per-axis scale is imageSize / bounds so a capturer that rounded
 * differently (1366 × 1.25 = 1707.5) still maps edge to edge.
 * Refuses (typed result, no exception) a crop narrower or shorter than
 * MIN_PHYSICAL_SIDE after clamping, or one entirely outside the display.
 */
export function selectionToPhysical(display: Display, selectionDip: Drag | Rect, imageSize?: Size): CropResult {
  const sel = 'start' in selectionDip ? normalizeDrag(selectionDip) : normalizeRect(selectionDip);
  const img = imageSize ?? physicalSize(display);
  const sx = display.bounds.width > 0 ? img.width / display.bounds.width : display.scaleFactor;
  const sy = display.bounds.height > 0 ? img.height / display.bounds.height : display.scaleFactor;
  const x0 = Math.max(0, Math.floor(snap(sel.x * sx)));
  const y0 = Math.max(0, Math.floor(snap(sel.y * sy)));
  const x1 = Math.min(img.width, Math.ceil(snap((sel.x + sel.width) * sx)));
  const y1 = Math.min(img.height, Math.ceil(snap((sel.y + sel.height) * sy)));
  if (x1 <= 0 || y1 <= 0 || x0 >= img.width || y0 >= img.height) return { ok: false, reason: 'outside-display' };
  if (x1 - x0 < MIN_PHYSICAL_SIDE || y1 - y0 < MIN_PHYSICAL_SIDE) return { ok: false, reason: 'too-small' };
  return { ok: true, rect: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } };
}

function normalizeRect(r: Rect): Rect {
  return normalizeDrag({ start: { x: r.x, y: r.y }, end: { x: r.x + r.width, y: r.y + r.height } });
}

/**
 * Policy for a selection that crosses displays: the crop comes from ONE
 * display, the one containing the drag's START point, and the selection is
 * clamped to that display (`clipped: true` tells the UI). Why:
 * - each display has its own overlay window, so the drag begins in (and the
 *   user is looking at) that display's overlay; clamping matches what it shows;
 * - displays can have different scale factors, so a stitched image would have
 *   no single resolution and could include gaps between non-adjacent displays;
 * - an equation snip spanning two monitors is rare; a predictable result beats
 *   a best guess.
 * If the start point is on no display (outside every bounds: a gap in an
 * L-shaped layout), the display with the largest overlap is used instead
 * (ties: first in `displays` order). `parts` is an array so a future stitching
 * policy keeps the shape; today it always has exactly one element.
 */
export function splitSelectionAcrossDisplays(displays: readonly Display[], selectionInGlobalDip: Drag): SplitResult {
  if (displays.length === 0) return { ok: false, reason: 'no-display' };
  const sel = normalizeDrag(selectionInGlobalDip);
  let chosen = displays.find((d) => containsPoint(d.bounds, selectionInGlobalDip.start));
  if (!chosen) {
    let best = 0;
    for (const d of displays) {
      const a = intersectionArea(d.bounds, sel);
      if (a > best) {
        best = a;
        chosen = d;
      }
    }
  }
  if (!chosen) return { ok: false, reason: 'outside-display' };
  const b = chosen.bounds;
  const clipped = sel.x < b.x || sel.y < b.y || sel.x + sel.width > b.x + b.width || sel.y + sel.height > b.y + b.height;
  const local: Rect = { x: sel.x - b.x, y: sel.y - b.y, width: sel.width, height: sel.height };
  const r = selectionToPhysical(chosen, local);
  if (!r.ok) return r;
  return { ok: true, parts: [{ displayId: chosen.id, physical: r.rect }], clipped };
}
