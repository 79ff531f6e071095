/**
 * Text detection with PaddleOCR's DB (Differentiable Binarization, Liao et al. AAAI 2020) model
 * PP-OCRv4 det: pre-processing of the page into the graph input, and post-processing of the
 * probability map into rotated text-line boxes.
 *
 * Constants are PaddleOCR's, from the PP-OCRv4 detection config
 * (configs/det/PP-OCRv4/PP-OCRv4_mobile_det.yml: Eval transforms and PostProcess) and the
 * inference defaults (tools/infer/utility.py: det_limit_type 'max'), except the size limit
 * (DET_LIMIT_SIDE_LEN: 1280 instead of 960) and a border around pictures whose content touches
 * an edge (DET_BORDER).
 *
 * Graph: input `x` float32 [1, 3, H, W] (H, W multiples of 32; channels B, G, R, ImageNet
 * mean/std), output float32 [1, 1, H, W]: per pixel the probability of being inside a text
 * kernel (the text region shrunk by DB's shrink ratio 0.4, grown back by `unclip`).
 */
import sharp from 'sharp';
import { canonicalRect, minAreaRect, rectToQuad, type Point, type Quad, type RotatedRect } from './geometry.js';

/** An 8-bit RGB raster, HWC interleaved, rows top to bottom (what decodeImage returns). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Detection settings; the defaults are PaddleOCR's for PP-OCRv4 (see the module doc). */
export interface DetectOptions {
  /**
   * Longest side of the graph input, pixels: a larger page is scaled down to it (never up),
   * PaddleOCR `DetResizeForTest` with limit_type 'max'. Default DET_LIMIT_SIDE_LEN.
   */
  limitSideLen?: number;
  /** Probability above which a map pixel is text (`thresh`, 0.3). */
  thresh?: number;
  /** Least mean probability inside a box for it to be kept (`box_thresh`, 0.6). */
  boxThresh?: number;
  /** How far a box is grown: by area × ratio / perimeter on each side (`unclip_ratio`, 1.5). */
  unclipRatio?: number;
  /** Most components looked at, largest first (`max_candidates`, 1000). */
  maxCandidates?: number;
}

/**
 * Longest side of the det input, pixels. PaddleOCR's default (tools/infer/utility.py
 * `det_limit_side_len`) is 960; at 960 the small print of real pages was lost (the chart labels
 * of a 1584×1954 paper page, faint receipt digits), at 1280 it is found, for ~1.8× the det time
 * (still well under the recognition time of a page).
 */
export const DET_LIMIT_SIDE_LEN = 1280;
/** PP-OCRv4_mobile_det.yml PostProcess.thresh. */
export const DB_THRESH = 0.3;
/** PP-OCRv4_mobile_det.yml PostProcess.box_thresh. */
export const DB_BOX_THRESH = 0.6;
/** PP-OCRv4_mobile_det.yml PostProcess.unclip_ratio. */
export const DB_UNCLIP_RATIO = 1.5;
/** PP-OCRv4_mobile_det.yml PostProcess.max_candidates. */
export const DB_MAX_CANDIDATES = 1000;
/** DBPostProcess.min_size (ppocr/postprocess/db_postprocess.py): boxes with a shorter side are dropped. */
export const DB_MIN_SIZE = 3;
/** NormalizeImage mean and std of the det config, applied to channels in the model's BGR order. */
export const DET_MEAN = [0.485, 0.456, 0.406] as const;
export const DET_STD = [0.229, 0.224, 0.225] as const;

/** A detected text box in the coordinates of the detected image. */
export interface DetectedBox {
  /** The box in its reading frame along the long side (geometry.canonicalRect). */
  quad: Quad;
  rect: RotatedRect;
  /** Mean text probability inside the box before unclipping (DB "fast" score), 0..1. */
  score: number;
}

/**
 * Graph input size for a page: scaled so its longer side is at most `limitSideLen` (never
 * enlarged), then each side rounded to the nearest multiple of 32 (at least 32), as
 * `DetResizeForTest.resize_image_type0`. The DB net downsamples by 32.
 */
export function detInputSize(width: number, height: number, limitSideLen = DET_LIMIT_SIDE_LEN): { width: number; height: number } {
  const ratio = Math.max(width, height) > limitSideLen ? limitSideLen / Math.max(width, height) : 1;
  // Python's round() (half to even), as in `int(round(resize_h / 32) * 32)`.
  const roundHalfEven = (v: number) => {
    const f = Math.floor(v);
    return v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v);
  };
  const round32 = (v: number) => Math.max(32, roundHalfEven(Math.trunc(v * ratio) / 32) * 32);
  return { width: round32(width), height: round32(height) };
}

/**
 * Border added on every side of the det input, det-input pixels, filled with the page's own border
 * colour (borderColour), when something lies within DET_EDGE_ZONE of an edge (edgeContent). The
 * graph pads its convolutions with zeros, which after normalisation is a mid-grey frame: text
 * that touches the edge of the picture (a screenshot or crop of a paragraph) merges with that
 * frame and is lost. Measured on rendered prose-with-math pages cropped tight to the text (fonts
 * 6–16 px) and the real texify paragraph crop: page CER 28–81 % without a border, 2–8 % with 8,
 * 16 or 32 px (4 px left 4–25 %); 32 keeps the input a multiple of 32. PaddleOCR has no such
 * border (its DetResizeForTest only pads images under 64 px in total).
 */
export const DET_BORDER = 32;
/**
 * Depth of the edge zone, det-input pixels: the border is added only when a pixel this close to
 * an edge differs from the border colour by more than EDGE_INK in some channel. A page with clear
 * margins is read as before (the det graph's channel attention pools over the whole input, so
 * even a blank border moves a few marginal detections on a full page).
 */
export const DET_EDGE_ZONE = 8;
/** Least difference from the border colour, 0–255 in a channel, for a pixel to count as content. */
export const EDGE_INK = 64;

/**
 * Whether anything other than the border colour lies within `zone` pixels of an edge of an RGB
 * raster (more than EDGE_INK away from `colour` in some channel).
 */
export function edgeContent(data: Uint8Array, width: number, height: number, colour: readonly number[], zone = DET_EDGE_ZONE): boolean {
  const ink = (x: number, y: number) => {
    const i = (y * width + x) * 3;
    return Math.abs(data[i]! - colour[0]!) > EDGE_INK || Math.abs(data[i + 1]! - colour[1]!) > EDGE_INK || Math.abs(data[i + 2]! - colour[2]!) > EDGE_INK;
  };
  const zy = Math.min(zone, height);
  const zx = Math.min(zone, width);
  for (let y = 0; y < height; y++) {
    const edgeRow = y < zy || y >= height - zy;
    for (let x = 0; x < width; x++) {
      if (!edgeRow && x === zx) x = Math.max(zx, width - zx);
      if (ink(x, y)) return true;
    }
  }
  return false;
}

/** Options of detPreprocess. */
export interface DetInputOptions {
  /** Longest side before the border when `scale` is not given (default DET_LIMIT_SIDE_LEN). */
  limitSideLen?: number;
  /** Scale the picture by this factor instead (each side then rounded to a multiple of 32). */
  scale?: number;
  /** Border on each side, det-input pixels (default: DET_BORDER when edgeContent, else 0). */
  border?: number;
}

/** The det graph input: [1, 3, height, width] float32; the picture is `inner` pixels inside a `border`. */
export interface DetInput {
  data: Float32Array;
  width: number;
  height: number;
  border: number;
  /** Size of the resized picture inside the border. */
  innerWidth: number;
  innerHeight: number;
}

/** Input size for the picture scaled by `scale`, each side rounded to the nearest multiple of 32 (at least 32). */
export function detScaledSize(width: number, height: number, scale: number): { width: number; height: number } {
  const round32 = (v: number) => Math.max(32, Math.round(v / 32) * 32);
  return { width: round32(width * scale), height: round32(height * scale) };
}

/**
 * Median of each channel over the outermost pixel ring of an RGB raster: the colour of the page
 * around its content (white paper, a dark-mode screenshot's background).
 */
export function borderColour(data: Uint8Array, width: number, height: number): [number, number, number] {
  const ring: number[][] = [[], [], []];
  const add = (x: number, y: number) => {
    const i = (y * width + x) * 3;
    for (let c = 0; c < 3; c++) ring[c]!.push(data[i + c]!);
  };
  for (let x = 0; x < width; x++) {
    add(x, 0);
    if (height > 1) add(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    add(0, y);
    if (width > 1) add(width - 1, y);
  }
  return ring.map((v) => {
    v.sort((a, b) => a - b);
    return v[v.length >> 1] ?? 255;
  }) as [number, number, number];
}

/**
 * The det graph input for a page: float32 [1, 3, H, W], channels B, G, R (PaddleOCR reads images
 * with OpenCV, BGR), each `(v / 255 - mean) / std`; the picture resized to detInputSize (or
 * detScaledSize) with sharp (linear kernel, like OpenCV's INTER_LINEAR in PaddleOCR), ignoring
 * aspect ratio, inside a border of DET_BORDER pixels in its border colour when content comes
 * near an edge (see DET_BORDER).
 */
export async function detPreprocess(image: RgbImage, options: DetInputOptions = {}): Promise<DetInput> {
  const size = options.scale !== undefined ? detScaledSize(image.width, image.height, options.scale) : detInputSize(image.width, image.height, options.limitSideLen);
  const resized =
    size.width === image.width && size.height === image.height
      ? image.data
      : await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
          .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
          .raw()
          .toBuffer();
  const fill = borderColour(resized, size.width, size.height);
  const border = options.border ?? (edgeContent(resized, size.width, size.height, fill) ? DET_BORDER : 0);
  const width = size.width + 2 * border;
  const height = size.height + 2 * border;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  // Output channel c holds BGR channel c, i.e. RGB channel 2 - c.
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * DET_STD[c]!);
    const shift = DET_MEAN[c]! / DET_STD[c]!;
    const src = 2 - c;
    const base = c * plane;
    if (border > 0) out.fill(fill[src]! * scale - shift, base, base + plane);
    for (let y = 0; y < size.height; y++) {
      const row = base + (y + border) * width + border;
      const from = y * size.width * 3 + src;
      for (let x = 0; x < size.width; x++) out[row + x] = resized[from + x * 3]! * scale - shift;
    }
  }
  return { data: out, width, height, border, innerWidth: size.width, innerHeight: size.height };
}

/**
 * 8-connected components of `prob > thresh`. For each, the end pixels of every horizontal run
 * (pixel centres): a superset of the outer contour's vertices that OpenCV's findContours would
 * give, enough for the convex hull and the min-area rectangle. Returns components by size,
 * largest first.
 */
export function components(prob: Float32Array, width: number, height: number, thresh: number): { points: Point[]; pixels: number }[] {
  const labels = new Int32Array(width * height).fill(-1);
  const stack = new Int32Array(width * height);
  const sizes: number[] = [];
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (labels[start] !== -1 || !(prob[start]! > thresh)) continue;
    const label = count++;
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    let pixels = 0;
    while (top > 0) {
      const i = stack[--top]!;
      pixels++;
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if ((dx === 0 && dy === 0) || nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (labels[j] === -1 && prob[j]! > thresh) {
            labels[j] = label;
            stack[top++] = j;
          }
        }
      }
    }
    sizes.push(pixels);
  }
  const points: Point[][] = Array.from({ length: count }, () => []);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      const label = labels[row + x]!;
      if (label === -1) {
        x++;
        continue;
      }
      const x0 = x;
      while (x + 1 < width && labels[row + x + 1] === label) x++;
      points[label]!.push([x0, y], [x, y]);
      x++;
    }
  }
  return points.map((p, i) => ({ points: p, pixels: sizes[i]! })).sort((a, b) => b.pixels - a.pixels);
}

/**
 * Mean of `prob` over the map pixels whose centres lie inside the rectangle: DBPostProcess's
 * `box_score_fast` (mean probability inside the box polygon, cv2.fillPoly + cv2.mean).
 */
export function boxScore(prob: Float32Array, width: number, height: number, r: RotatedRect): number {
  const q = rectToQuad(r);
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const [x, y] of q) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const xa = Math.max(0, Math.floor(x0));
  const xb = Math.min(width - 1, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0));
  const yb = Math.min(height - 1, Math.ceil(y1));
  // Inside test in the rectangle's own frame, with half a pixel of slack (fillPoly includes edges).
  const halfA = r.along / 2 + 0.5;
  const halfC = r.across / 2 + 0.5;
  let sum = 0;
  let n = 0;
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const dx = x - r.cx;
      const dy = y - r.cy;
      if (Math.abs(dx * r.ux + dy * r.uy) <= halfA && Math.abs(-dx * r.uy + dy * r.ux) <= halfC) {
        sum += prob[y * width + x]!;
        n++;
      }
    }
  }
  return n ? sum / n : 0;
}

/**
 * DB "unclip": grow the shrunk text kernel back to the text's extent. PaddleOCR offsets the box
 * polygon outward by `distance = area × ratio / perimeter` (pyclipper, round joins) and takes the
 * min-area rectangle of the result; for a rectangle that is the rectangle grown by `distance` on
 * every side, computed here directly.
 */
export function unclip(r: RotatedRect, ratio: number): RotatedRect {
  const perimeter = 2 * (r.along + r.across);
  const distance = perimeter > 0 ? (r.along * r.across * ratio) / perimeter : 0;
  return { ...r, along: r.along + 2 * distance, across: r.across + 2 * distance };
}

/** A component of the probability map that did not become a box (too small or too faint). */
export interface RejectedComponent {
  /** Axis-aligned bounds `[x0, y0, x1, y1]` of it after unclip, in dest pixels (clipped to the image). */
  bounds: [number, number, number, number];
  /** Its short side after unclip, map pixels (what its box height would have been). */
  mapHeight: number;
  /** Its long side after unclip, map pixels. */
  mapLength: number;
  /** Map pixels above `thresh` in it. */
  pixels: number;
  /** Mean probability inside its kernel rectangle (the score compared with `boxThresh`). */
  score: number;
}

/**
 * DBPostProcess.boxes_from_bitmap ('quad' boxes, 'fast' score): probability map → boxes.
 *
 * @param prob the det graph output [1, 1, mapH, mapW] (float32 probabilities), row-major.
 * @param mapW, mapH its width and height (the graph input size, border included).
 * @param destW, destH the size of the image the boxes are for; map coordinates inside the border
 *   are scaled to it and clipped to [0, destW] × [0, destH].
 * @param border the det input's border (DetInput.border), map pixels on each side.
 * @param rejected when given, components dropped by DB_MIN_SIZE or `boxThresh` are added to it
 *   (small-text.ts reads them as a sign of text too small for this scale).
 * @returns boxes in dest pixels, each a canonical rectangle (long side as reading axis).
 */
export function dbPostprocess(
  prob: Float32Array,
  mapW: number,
  mapH: number,
  destW: number,
  destH: number,
  o: DetectOptions = {},
  border = 0,
  rejected?: RejectedComponent[],
): DetectedBox[] {
  const thresh = o.thresh ?? DB_THRESH;
  const boxThresh = o.boxThresh ?? DB_BOX_THRESH;
  const unclipRatio = o.unclipRatio ?? DB_UNCLIP_RATIO;
  const maxCandidates = o.maxCandidates ?? DB_MAX_CANDIDATES;
  const sx = destW / (mapW - 2 * border);
  const sy = destH / (mapH - 2 * border);
  const toDest = ([x, y]: Point): Point => [Math.min(destW, Math.max(0, (x - border) * sx)), Math.min(destH, Math.max(0, (y - border) * sy))];
  const reject = (r: RotatedRect, pixels: number, score: number) => {
    if (!rejected) return;
    const grown = unclip(r, unclipRatio);
    const q = rectToQuad(grown).map(toDest);
    const xs = q.map((p) => p[0]);
    const ys = q.map((p) => p[1]);
    rejected.push({
      bounds: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      mapHeight: Math.min(grown.along, grown.across),
      mapLength: Math.max(grown.along, grown.across),
      pixels,
      score,
    });
  };
  const boxes: DetectedBox[] = [];
  for (const comp of components(prob, mapW, mapH, thresh).slice(0, maxCandidates)) {
    const kernel = minAreaRect(comp.points);
    if (Math.min(kernel.along, kernel.across) < DB_MIN_SIZE) {
      reject(kernel, comp.pixels, Math.min(kernel.along, kernel.across) > 0 ? boxScore(prob, mapW, mapH, kernel) : 0);
      continue;
    }
    const score = boxScore(prob, mapW, mapH, kernel);
    if (score < boxThresh) {
      reject(kernel, comp.pixels, score);
      continue;
    }
    const grown = unclip(kernel, unclipRatio);
    if (Math.min(grown.along, grown.across) < DB_MIN_SIZE + 2) continue;
    // To dest pixels (clipped), then the min-area rectangle again: non-uniform scaling (sx ≠ sy)
    // turns a rotated rectangle into a parallelogram.
    const corners = rectToQuad(grown).map(toDest);
    const rect = canonicalRect(minAreaRect(corners));
    if (Math.min(rect.along, rect.across) < 1) continue;
    boxes.push({ quad: rectToQuad(rect), rect, score });
  }
  return boxes;
}
