/**
 * Pure geometry of the image viewer's text layer (no DOM): where each line of an image's read
 * text (ImageText, page text OCR) goes over the displayed image, as an absolutely positioned,
 * rotated span of transparent text the user can select and copy.
 *
 * Coordinate spaces:
 * - image: pixels of the image the boxes refer to (ImageText.width × height; EXIF orientation
 *   applied, so the same frame as the displayed <img>'s natural size);
 * - element: CSS px of the <img> element's box (it may letterbox its picture, object-fit: contain);
 * - layer: CSS px of the text layer, laid exactly over the picture inside the element
 *   (`contentRect`), so layer = image × scale.
 *
 * A line's quad is [tl, tr, br, bl] with tl where reading starts at the top of the glyphs, so the
 * direction tl → tr is the reading direction whatever the page's rotation: a page turned 90°
 * gives lines at -90° (reading upwards) and the span is rotated the same way.
 */
import type { TextQuad } from '../../main/api/contract.js';

export interface Size {
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where a line's span goes, in layer CSS px; the span rotates about its top-left corner. */
export interface LineBox {
  left: number;
  top: number;
  /** Along the reading direction. */
  width: number;
  /** Across it (top of the glyphs to the bottom). */
  height: number;
  /** Clockwise, degrees, (-180, 180]: CSS rotate() of the reading direction from the x axis. */
  angle: number;
  /** CSS font-size of the span's text, px. */
  fontSize: number;
}

/** Font size as a share of the line box height (detection boxes are a little taller than the glyphs). */
export const FONT_SIZE_RATIO = 0.8;

/** Lines thinner than this (layer px) are not laid out: nothing could be selected in them. */
export const MIN_LINE_PX = 1;

/**
 * The rectangle (element CSS px) the picture occupies inside an element of size `box` that shows
 * an image of `natural` size with CSS `object-fit: contain`: the largest uniform scale that fits,
 * centred (letterboxed on the long sides). A zero-sized image or box fills the box.
 */
export function contentRect(box: Size, natural: Size): Rect {
  if (natural.width <= 0 || natural.height <= 0 || box.width <= 0 || box.height <= 0) return { x: 0, y: 0, width: Math.max(0, box.width), height: Math.max(0, box.height) };
  const scale = Math.min(box.width / natural.width, box.height / natural.height);
  const width = natural.width * scale;
  const height = natural.height * scale;
  return { x: (box.width - width) / 2, y: (box.height - height) / 2, width, height };
}

/**
 * Per-axis scale from the boxes' frame (`textSize`, ImageText.width × height) to the layer
 * (`layer`, the picture's displayed size). Both are the same picture, so the axes agree up to
 * rounding; they are kept apart so that a 1 px rounding does not shift the far edge.
 */
export function layerScale(textSize: Size, layer: Size): { x: number; y: number } {
  if (textSize.width <= 0 || textSize.height <= 0) return { x: 0, y: 0 };
  return { x: layer.width / textSize.width, y: layer.height / textSize.height };
}

/** Normalise degrees into (-180, 180], rounding off float noise (-0 becomes 0). */
function normalizeAngle(deg: number): number {
  let a = deg % 360;
  if (a <= -180) a += 360;
  if (a > 180) a -= 360;
  a = Math.round(a * 1e6) / 1e6;
  return a === 0 ? 0 : a;
}

/**
 * A line's quad (image px) → its span's box (layer px). The quad is scaled first (per axis),
 * then fitted with a rectangle: reading direction from the mean of its top and bottom edges,
 * width and height the mean lengths of its opposite edges measured along and across that
 * direction, centred on the quad's centre. This holds for skewed and slightly perspective quads
 * as well as for exact rectangles. Returns null for a degenerate quad (no length or height).
 */
export function lineBox(quad: TextQuad, scale: { x: number; y: number }): LineBox | null {
  const p = quad.map(([x, y]) => [x * scale.x, y * scale.y] as const);
  const [tl, tr, br, bl] = p as unknown as [readonly [number, number], readonly [number, number], readonly [number, number], readonly [number, number]];
  // Reading direction: top edge + bottom edge.
  const dx = tr[0] - tl[0] + (br[0] - bl[0]);
  const dy = tr[1] - tl[1] + (br[1] - bl[1]);
  const len = Math.hypot(dx, dy);
  if (!Number.isFinite(len) || len === 0) return null;
  const ux = dx / len;
  const uy = dy / len;
  // The normal points from the top of the glyphs to the bottom (y down: clockwise from u).
  const nx = -uy;
  const ny = ux;
  const along = (a: readonly [number, number], b: readonly [number, number]): number => (b[0] - a[0]) * ux + (b[1] - a[1]) * uy;
  const across = (a: readonly [number, number], b: readonly [number, number]): number => (b[0] - a[0]) * nx + (b[1] - a[1]) * ny;
  const width = (along(tl, tr) + along(bl, br)) / 2;
  const height = (across(tl, bl) + across(tr, br)) / 2;
  if (!(width >= MIN_LINE_PX) || !(height >= MIN_LINE_PX)) return null;
  const cx = (tl[0] + tr[0] + br[0] + bl[0]) / 4;
  const cy = (tl[1] + tr[1] + br[1] + bl[1]) / 4;
  return {
    left: cx - (ux * width) / 2 - (nx * height) / 2,
    top: cy - (uy * width) / 2 - (ny * height) / 2,
    width,
    height,
    angle: normalizeAngle((Math.atan2(uy, ux) * 180) / Math.PI),
    fontSize: height * FONT_SIZE_RATIO,
  };
}

/**
 * The horizontal stretch that makes text measured `measuredWidth` px wide (at the box's font
 * size, unscaled) span the line box's width, so a selection covers the line as printed.
 * 1 when nothing could be measured.
 */
export function fitScaleX(boxWidth: number, measuredWidth: number): number {
  if (!(measuredWidth > 0) || !(boxWidth > 0)) return 1;
  return boxWidth / measuredWidth;
}

/** Round to 1/100 px (or degree): enough for layout, short in the DOM. */
function r2(v: number): number {
  const x = Math.round(v * 100) / 100;
  return x === 0 ? 0 : x;
}

/**
 * The inline style of a line's span: placed at its box, rotated about its top-left corner, the
 * text stretched by `scaleX` along the line. The span needs `position: absolute;
 * transform-origin: 0 0; white-space: pre` (the text layer's CSS).
 */
export function lineStyle(box: LineBox, scaleX = 1): string {
  const transforms: string[] = [];
  if (box.angle !== 0) transforms.push(`rotate(${r2(box.angle)}deg)`);
  if (Math.abs(scaleX - 1) > 1e-3) transforms.push(`scaleX(${Math.round(scaleX * 1e4) / 1e4})`);
  return [
    `left: ${r2(box.left)}px`,
    `top: ${r2(box.top)}px`,
    `height: ${r2(box.height)}px`,
    `line-height: ${r2(box.height)}px`,
    `font-size: ${r2(box.fontSize)}px`,
    ...(transforms.length ? [`transform: ${transforms.join(' ')}`] : []),
  ].join('; ');
}

/**
 * Where, in layer px, a point `t` of the way along the line (0 = start, 1 = end) at mid-height
 * lies: e.g. where a mouse drag that selects the line starts and ends.
 */
export function pointAlong(box: LineBox, t: number, inset = 0): { x: number; y: number } {
  const a = (box.angle * Math.PI) / 180;
  const ux = Math.cos(a);
  const uy = Math.sin(a);
  const s = inset + (box.width - 2 * inset) * t;
  return { x: box.left + ux * s - uy * (box.height / 2), y: box.top + uy * s + ux * (box.height / 2) };
}
