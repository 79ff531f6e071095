/**
 * Whole-page orientation: is the page turned by 90°, 180° or 270°?
 *
 * - Sideways (90/270): text lines are long thin boxes, so when most of the clearly elongated
 *   boxes (long side ≥ ELONGATED × short side), weighted by length, run vertically, the page is
 *   on its side.
 * - Which way (90 vs 270, and 0 vs 180): the middle of a sample of the longest lines is
 *   recognised both ways;
 *   the PP-OCRv4 recogniser reads upside-down Latin or CJK text with clearly lower confidence
 *   (its classes are upright glyphs), so the reading with the higher mean confidence wins. Upright
 *   (0°) is kept unless the turned reading is better by FLIP_MARGIN, so a page of symmetric
 *   glyphs or a tie stays as it is.
 *
 * `rotation` everywhere is the clockwise turn, in degrees, that makes the page upright.
 */
import type { RotatedRect } from './geometry.js';

export type Rotation = 0 | 90 | 180 | 270;

/** A box counts in the sideways vote only when its long side is at least this many times its short side. */
export const ELONGATED = 2;
/** Lines recognised both ways to choose an orientation (the longest ones). */
export const ORIENTATION_SAMPLE = 6;
/**
 * Only the middle of each sample line is read, at most this many times its height long (at the
 * rec height of 48 px: 384 columns, 12–20 characters): enough to tell the way up, at a small
 * fraction of reading whole lines twice.
 */
export const SAMPLE_WINDOW_ASPECT = 8;
/** Mean confidence a turned reading must gain over the upright one to be chosen. */
export const FLIP_MARGIN = 0.05;

/**
 * Whether the boxes say the page lies on its side: length-weighted vote of the elongated boxes,
 * vertical against horizontal. No elongated box: not sideways.
 * @param rects canonical rectangles (long side along the axis, geometry.canonicalRect).
 */
export function isSideways(rects: readonly RotatedRect[]): boolean {
  let vertical = 0;
  let horizontal = 0;
  for (const r of rects) {
    if (r.along < ELONGATED * r.across) continue;
    if (Math.abs(r.uy) > Math.abs(r.ux)) vertical += r.along;
    else horizontal += r.along;
  }
  return vertical > horizontal;
}

/** Indexes of up to `n` rectangles, longest first, among those `accept` lets through. */
export function sampleLongest(rects: readonly RotatedRect[], accept: (r: RotatedRect) => boolean, n = ORIENTATION_SAMPLE): number[] {
  return rects
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => accept(r))
    .sort((a, b) => b.r.along - a.r.along)
    .slice(0, n)
    .map(({ i }) => i);
}

/** Mean of line confidences (0 for none). */
export function meanConfidence(confidences: readonly number[]): number {
  return confidences.length ? confidences.reduce((a, b) => a + b, 0) / confidences.length : 0;
}

/**
 * The better of two readings of the same sample lines: `turned` wins only when its mean confidence
 * is higher than `kept`'s by more than `margin`.
 * @returns true to take the turned reading.
 */
export function preferTurned(kept: readonly number[], turned: readonly number[], margin = FLIP_MARGIN): boolean {
  return meanConfidence(turned) > meanConfidence(kept) + margin;
}
