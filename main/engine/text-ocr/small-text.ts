/**
 * The small-text pass of page text OCR: which parts of a page to detect again at a larger scale,
 * at what scale, and how the boxes found there replace those of the first pass.
 *
 * The DB detector was trained on text at least 8 px high (PP-OCRv4_mobile_det.yml,
 * MakeShrinkMap min_text_size 8: smaller text regions are masked out of the loss), and the first
 * pass sees the page scaled down to DET_LIMIT_SIDE_LEN (PaddleOCR's `det_limit_side_len` with
 * `det_limit_type` 'max'), so small print on a big page, or tiny print on any page, comes out as
 * boxes a few map pixels high, or as components too small or faint to become boxes at all
 * (DB_MIN_SIZE, `box_thresh`). Both are evidence of small text. Around the evidence, full-width
 * horizontal bands of the page are detected again at a scale that brings the small boxes to
 * SMALL_TEXT_TARGET map pixels, bounded by SMALL_TEXT_MAX_SCALE (absolute) and a pixel budget.
 * Blobs (lines of small print run together) count too, and a small picture where the first pass
 * found nothing at all (a chart) is detected again whole. PaddleOCR's own answer to small text is
 * `det_limit_type` 'min' (its DetResizeForTest default: the short side enlarged to 736), i.e.
 * the whole page enlarged, unbounded; this pass enlarges only where the first pass saw small
 * text, so pages without it cost nothing more. DB's `unclip_ratio` is 1.75 in this pass
 * (SMALL_TEXT_UNCLIP_RATIO).
 *
 * Recognition is not enlarged: each line is still sampled from the page's own pixels straight to
 * the rec input height of 48 (PP-OCRv4 rec image_shape [3, 48, 320]; recognize.ts). Sampling the
 * lines from the page enlarged 2× (lanczos3) instead was no better: on the rendered crops of 5–6
 * px text 23.2 / 6.0 / 6.6 % page CER against 21.2 / 5.2 / 4.3 %, one more chart label.
 *
 * Pure functions over boxes and numbers; engine.ts runs the graphs.
 */
import type { DetectedBox, RejectedComponent } from './detect.js';
import { bounds } from './geometry.js';

/**
 * A first-pass box whose height in det-map pixels is under this is small text. Measured on a
 * rendered 2480×3508 page (A4 at 300 dpi) seen at 0.363: with 12, pages of 16 and 20 px print
 * stayed at 17.6 and 8.8 % page CER (lines boxed 12–15 map px high, or rejected at 15 px, were
 * lost); with 16, 0.0 and 0.2 %. On the real pages without small print the lowest tenth of the
 * boxes are 29 map px or more (the paper page, whose chart labels are small, 11.7).
 */
export const SMALL_TEXT_HEIGHT = 16;
/**
 * Map-pixel height the second pass aims at for the small boxes (1.5 × SMALL_TEXT_HEIGHT); 32 read
 * the rendered crops and pages within a point of 24, for more pixels.
 */
export const SMALL_TEXT_TARGET = 24;
/**
 * Largest scale of the second pass relative to the input image (only the detector sees the
 * enlargement; lines are still cropped from the input for recognition, see engine.ts). Measured
 * on a rendered 300×220 chart with 9–11 px tick labels, where the first pass found nothing:
 * tick labels and axis letters found at 2× 3–7 of 10, at 3× 7–9, at 4× 7–8; on tight crops of
 * 4–6 px prose and math 2×, 3× and 4× were within a few points of each other.
 */
export const SMALL_TEXT_MAX_SCALE = 3;
/**
 * DB `unclip_ratio` of the second pass (the first keeps PaddleOCR's 1.5, DB_UNCLIP_RATIO). At the
 * second pass's finer scale the boxes come out 15–25 % lower than the same lines' first-pass
 * boxes, and the recogniser drops spaces in tight crops (REC_CROP_PAD): a 384×480 real page on a
 * 1600×2000 canvas read "a lot of 12 point" as "alotof 12point" at 1.5. Measured over the small-text
 * cases (the rendered pages and crops, the real paragraph crop and chart, the real page on
 * canvases): summed page CER 121 points at 1.5, 114 at 1.75, 118 at 2.0 (PaddleOCR 3's default).
 */
export const SMALL_TEXT_UNCLIP_RATIO = 1.75;
/** The second pass runs only when it enlarges the first pass's view by at least this factor. */
export const SMALL_TEXT_MIN_GAIN = 1.25;
/**
 * How far a band's core reaches above and below each piece of evidence, first-pass map pixels
 * (or two evidence heights, when more). Small text comes in blocks, and the first pass flags only
 * some of its lines: on a 2480×3508 page of 12 px text seen at 0.363 (its words show only as
 * rejected fragments), a reach of 16 read 65 % of the text, 32 all of it at 14 px but not at 12,
 * 48 all of both (page CER 34.7 / 0.0 / 0.0 % at 12 px; 25.1 / 8.4 / 0.0 % at 14 px).
 */
export const SMALL_TEXT_REACH = 48;
/** Rows of map pixels each band extends past its core above and below (so lines at the core's edge are whole). */
export const BAND_OVERLAP = 48;
/**
 * Most det-input pixels of the whole second pass (all bands together): 4 first passes at
 * DET_LIMIT_SIDE_LEN (4 × 1280²). The scale is lowered until the bands fit; the time of a det run
 * is about linear in its pixels.
 */
export const SMALL_TEXT_PIXEL_BUDGET = 4 * 1280 * 1280;
/** Most det-input pixels of one graph run (one band piece): a first pass's worth (1280²), so memory stays as in the first pass. */
export const BAND_MAX_PIXELS = 1280 * 1280;
/** Widest band input, map pixels: the scale is lowered so a full-width band is at most this wide. */
export const BAND_MAX_WIDTH = 4096;

/**
 * A rejected component is small-text evidence only when line-like: at least this many map pixels
 * high after unclip (and under REJECTED_MAX_HEIGHT) and REJECTED_MIN_ASPECT times as long.
 * Specks (a pixel or two of probability on photo texture, JPEG noise, rules of a table) are on
 * every real page: the receipt photo, the book excerpt and the handwritten photo had 5–15
 * rejected components each, nearly all under 2 px or about as long as high, while the words of
 * small text on the rendered pages came out as fragments 2–12 px high and 3–10 times as long.
 */
export const REJECTED_MIN_HEIGHT = 2;
export const REJECTED_MIN_ASPECT = 3;
/**
 * A line-like rejected component counts only under this height, map pixels (boxes count under
 * SMALL_TEXT_HEIGHT). The small-text fragments of the rendered pages were 2–12.2 px high; the
 * one line-like rejected component of the real receipt photo, a dashed rule, 13.1 px (counting it
 * cost that normal photo a second pass, +30 % time, for no text).
 */
export const REJECTED_MAX_HEIGHT = 12;
/**
 * A rejected component that is not line-like, at least SMALL_TEXT_HEIGHT high and this many map
 * pixels, is a blob: lines of small print run together at the first pass's scale (the real
 * 480×640 page scaled to 0.65, x-height ~9 px, on a 2480×3508 canvas seen at 0.363, was one
 * 125×193 component with score 0.56 and nothing else). Its text height is unknown (see
 * planSmallText).
 */
export const BLOB_MIN_PIXELS = 200;

/** Where the first pass saw small text: a y range of the page and the map height it was seen at. */
export interface SmallTextEvidence {
  y0: number;
  y1: number;
  /** Height in first-pass map pixels; absent for a blob of unknown text height. */
  mapHeight?: number;
}

/** One det run of the second pass: rows [y0, y1) of the page; its boxes count for rows [core0, core1). */
export interface SmallTextBand {
  y0: number;
  y1: number;
  core0: number;
  core1: number;
}

/** The second pass: the scale (det input / page pixels) and the bands, top to bottom. */
export interface SmallTextPlan {
  scale: number;
  bands: SmallTextBand[];
}

/** Tunables of planSmallText (defaults: the constants above). */
export interface SmallTextOptions {
  smallHeight?: number;
  target?: number;
  maxScale?: number;
  pixelBudget?: number;
  bandMaxPixels?: number;
}

/**
 * Small-text evidence of a first pass: boxes and rejected components less than `smallHeight`
 * map pixels high. `scale` is the first pass's det scale (map pixels per page pixel).
 */
export function smallTextEvidence(boxes: readonly DetectedBox[], rejected: readonly RejectedComponent[], scale: number, smallHeight = SMALL_TEXT_HEIGHT): SmallTextEvidence[] {
  const found: SmallTextEvidence[] = [];
  for (const b of boxes) {
    const mapHeight = b.rect.across * scale;
    if (mapHeight >= smallHeight) continue;
    const [, y0, , y1] = bounds(b.quad);
    found.push({ y0, y1, mapHeight });
  }
  for (const r of rejected) {
    const lineLike = r.mapLength >= REJECTED_MIN_ASPECT * r.mapHeight;
    if (lineLike && r.mapHeight >= REJECTED_MIN_HEIGHT && r.mapHeight < Math.min(smallHeight, REJECTED_MAX_HEIGHT)) found.push({ y0: r.bounds[1], y1: r.bounds[3], mapHeight: r.mapHeight });
    else if (!lineLike && r.mapHeight >= smallHeight && r.pixels >= BLOB_MIN_PIXELS) found.push({ y0: r.bounds[1], y1: r.bounds[3] });
  }
  return found;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Cores around the evidence (page rows), merged where they overlap or come within `join` rows. */
function cores(evidence: readonly SmallTextEvidence[], firstScale: number, height: number, join: number): [number, number][] {
  // A core reaches two evidence heights past it, and at least SMALL_TEXT_REACH first-pass map pixels.
  const spans = evidence
    .map((e) => {
      const margin = Math.max(2 * (e.y1 - e.y0), SMALL_TEXT_REACH / firstScale);
      return [Math.max(0, e.y0 - margin), Math.min(height, e.y1 + margin)] as [number, number];
    })
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1] + join) last[1] = Math.max(last[1], s[1]);
    else merged.push([s[0], s[1]]);
  }
  return merged;
}

/**
 * Plan the second pass over a `width` × `height` page whose first pass ran at `firstScale` and
 * found `firstBoxes` boxes, or undefined when there is no small-text evidence or the bounded
 * scale would not enlarge the first pass's view by SMALL_TEXT_MIN_GAIN. A page where the first
 * pass found nothing is detected again whole when that fits one band (`bandMaxPixels`) at
 * SMALL_TEXT_MIN_GAIN or more.
 *
 * Scale: firstScale × target / (median evidence map height), at most `maxScale`, at most
 * BAND_MAX_WIDTH / width, then lowered until all bands (cores plus BAND_OVERLAP map rows each
 * side) fit `pixelBudget`. Bands wider than `bandMaxPixels` allow are cut into pieces whose cores
 * tile the band's core.
 */
export function planSmallText(
  evidence: readonly SmallTextEvidence[],
  width: number,
  height: number,
  firstScale: number,
  o: SmallTextOptions = {},
  firstBoxes = 1,
): SmallTextPlan | undefined {
  if (width < 1 || height < 1) return undefined;
  const target = o.target ?? SMALL_TEXT_TARGET;
  const maxScale = o.maxScale ?? SMALL_TEXT_MAX_SCALE;
  const budget = o.pixelBudget ?? SMALL_TEXT_PIXEL_BUDGET;
  const bandMax = o.bandMaxPixels ?? BAND_MAX_PIXELS;
  if (!evidence.length) {
    // Nothing found at all: a small picture (a chart, a label) is looked at once more, whole, as
    // large as one first pass's pixels allow.
    if (firstBoxes > 0) return undefined;
    const scale = Math.min(maxScale, BAND_MAX_WIDTH / width, Math.sqrt(bandMax / (width * height)));
    return scale >= firstScale * SMALL_TEXT_MIN_GAIN ? { scale, bands: [{ y0: 0, y1: height, core0: 0, core1: height }] } : undefined;
  }
  // Blobs only: text height unknown, taken as half the small-text threshold.
  const heights = evidence.flatMap((e) => (e.mapHeight === undefined ? [] : [e.mapHeight]));
  const seen = Math.max(1, heights.length ? median(heights) : SMALL_TEXT_HEIGHT / 2);
  let scale = Math.min(maxScale, BAND_MAX_WIDTH / width, (firstScale * target) / seen);
  for (let attempt = 0; attempt < 12; attempt++) {
    if (scale < firstScale * SMALL_TEXT_MIN_GAIN) return undefined;
    const overlap = BAND_OVERLAP / scale;
    // Core rows per piece so that a piece (core plus both overlaps) stays under bandMax.
    const pieceRows = Math.max(1, bandMax / (width * scale * scale) - 2 * overlap);
    const bands: SmallTextBand[] = [];
    for (const [a, b] of cores(evidence, firstScale, height, 2 * overlap)) {
      const pieces = Math.max(1, Math.ceil((b - a) / pieceRows));
      const step = (b - a) / pieces;
      for (let k = 0; k < pieces; k++) {
        const core0 = a + k * step;
        const core1 = k === pieces - 1 ? b : a + (k + 1) * step;
        bands.push({ y0: Math.max(0, Math.floor(core0 - overlap)), y1: Math.min(height, Math.ceil(core1 + overlap)), core0, core1 });
      }
    }
    const pixels = bands.reduce((n, band) => n + width * (band.y1 - band.y0), 0) * scale * scale;
    if (pixels <= budget) return { scale, bands };
    // Pixels go with scale²; overlaps grow as the scale shrinks, so step down a little further.
    scale *= Math.sqrt(budget / pixels) * 0.97;
  }
  return undefined;
}

function centreY(b: DetectedBox): number {
  return b.rect.cy;
}

function area(q: readonly [number, number, number, number]): number {
  return Math.max(0, q[2] - q[0]) * Math.max(0, q[3] - q[1]);
}

function overlapArea(a: readonly [number, number, number, number], b: readonly [number, number, number, number]): number {
  return area([Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])]);
}

/**
 * The page's boxes after the second pass.
 * - A second-pass box counts when its centre lies in its band's core and it does not touch a
 *   cut edge of the band (a line cut there is read whole from the band above or below, or from
 *   the first pass).
 * - A first-pass box whose centre lies in a core is replaced when a counted second-pass box
 *   overlaps it by at least half of the smaller one's bounding box (the same text found again:
 *   the whole line, a word of it, or one of the small lines of a blob); otherwise it is kept
 *   (text the second pass missed).
 * @param second per band of `plan`, its boxes in page pixels.
 */
export function mergeSmallText(first: readonly DetectedBox[], plan: SmallTextPlan, second: readonly (readonly DetectedBox[])[], pageHeight: number): DetectedBox[] {
  const kept: DetectedBox[] = [];
  plan.bands.forEach((band, i) => {
    for (const b of second[i] ?? []) {
      const cy = centreY(b);
      if (cy < band.core0 || cy >= band.core1) continue;
      const [, y0, , y1] = bounds(b.quad);
      if ((band.y0 > 0 && y0 <= band.y0 + 0.5) || (band.y1 < pageHeight && y1 >= band.y1 - 0.5)) continue;
      kept.push(b);
    }
  });
  const keptBounds = kept.map((b) => bounds(b.quad));
  const inCore = (b: DetectedBox) => plan.bands.some((band) => centreY(b) >= band.core0 && centreY(b) < band.core1);
  const out: DetectedBox[] = [];
  for (const b of first) {
    if (inCore(b)) {
      const own = bounds(b.quad);
      const ownArea = area(own);
      if (keptBounds.some((k) => overlapArea(own, k) >= 0.5 * Math.min(ownArea, area(k)))) continue;
    }
    out.push(b);
  }
  return out.concat(kept);
}
