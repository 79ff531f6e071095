/**
 * Text-line recognition with PaddleOCR's PP-OCRv4 rec model (SVTR-LCNet, CTC head): cropping a
 * line out of the page into the graph input, batching, and greedy CTC decoding.
 *
 * Graph: input `x` float32 [N, 3, 48, W] (W any multiple of 8 in practice; channels B, G, R, each
 * `(v / 255 - 0.5) / 0.5`, right padding 0), output float32 [N, W / 8, 6625]: per time step, the
 * softmax over blank (index 0), the 6623 characters of ppocr_keys_v1.txt (indices 1..6623) and a
 * space (6624). Constants from PaddleOCR configs/rec/PP-OCRv4/ch_PP-OCRv4_rec.yml
 * (RecResizeImg image_shape [3, 48, 320], CTCLabelDecode with use_space_char: true) and
 * tools/infer/predict_rec.py (resize_norm_img, rec_batch_num 6).
 */
import type { Quad } from './geometry.js';
import type { RgbImage } from './detect.js';

/** Height of the rec graph input, pixels. */
export const REC_HEIGHT = 48;
/** Narrowest batch input width, pixels (rec image_shape [3, 48, 320]: lines are padded to at least 320). */
export const REC_MIN_WIDTH = 320;
/**
 * Widest input, pixels: a longer line is squeezed to it. PaddleOCR has no cap; this bounds memory
 * (a 48 × 3200 input is 100 time steps of 8 px, ~ 250 characters at normal spacing).
 */
export const REC_MAX_WIDTH = 3200;
/** Most lines per graph run (PaddleOCR uses 6). */
export const REC_BATCH = 8;
/**
 * Most input columns (lines × padded width) per graph run. On CPU the graph's time is linear in
 * the columns up to a few thousand (~35 µs per column on one 2-core EPYC), but a batch of 8 lines
 * 2300 px wide took 5× longer per column (its activations no longer stay in cache), so long
 * lines go one or two at a time.
 */
export const REC_BATCH_COLUMNS = 2560;
/**
 * Margin added above and below each detected box before it is cropped, as a fraction of the box
 * height (0.1: the crop is 1.2× the box height). Empirical: with the bare DB box (as PaddleOCR
 * crops it) the recogniser dropped many spaces between words and line-final periods and hyphens
 * on tightly boxed lines (synthetic pages and the real paper page); 1.2× restored them, 1.3× gave
 * nothing more.
 */
export const REC_CROP_PAD = 0.1;
/** CTC blank class index. */
export const CTC_BLANK = 0;

/**
 * The character table of the rec model: ppocr_keys_v1.txt one character per line, then a space
 * appended as CTCLabelDecode does with use_space_char. Class k (1-based) is `chars[k - 1]`.
 */
export function loadDictionary(text: string): string[] {
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return [...lines, ' '];
}

/** One recognised line: text and confidence (mean top probability of the emitted characters, 0..1). */
export interface Recognized {
  text: string;
  confidence: number;
}

/**
 * Least probability of the space class, at the blank steps between two characters, that makes a
 * space. The PP-OCRv4 Chinese+English recogniser often lets blank win over space between English
 * words (a known defect of the general model: PaddleOCR issue #11386, PaddleX issue #3519; "How are
 * you" → "Howareyou"), while still giving the space class 0.1–0.5 there; between the letters of a
 * word it stays under ~0.05 (measured on the real document pages and rendered pages).
 */
export const SPACE_POSTERIOR = 0.1;

/** Han, kana, Hangul and full-width forms: scripts written without spaces between words. */
const NO_SPACE_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/u;

/**
 * Greedy CTC decoding of one line (CTCLabelDecode): arg-max class per time step, repeats of the
 * same class collapsed, blanks dropped. Confidence is the mean arg-max probability over the kept
 * steps (0 when nothing is emitted).
 *
 * One addition to PaddleOCR's decoder: between two characters that the arg-max path joins, a
 * space is put when the space class reached SPACE_POSTERIOR at a blank step between them (not
 * between two characters of scripts written without spaces). Such a space does not count in the
 * confidence.
 *
 * @param probs softmax output, float32, [steps, classes] row-major starting at `offset`.
 * @param chars classes 1.. as characters (loadDictionary; the last one is the space).
 */
export function ctcGreedyDecode(probs: Float32Array, steps: number, classes: number, chars: readonly string[], offset = 0): Recognized {
  const space = chars[chars.length - 1] === ' ' ? chars.length : -1;
  let text = '';
  let last = '';
  let sum = 0;
  let kept = 0;
  let prev = -1;
  let gapSpace = 0;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0;
    let bestP = probs[base]!;
    for (let c = 1; c < classes; c++) {
      const p = probs[base + c]!;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best === CTC_BLANK) {
      if (space > 0) gapSpace = Math.max(gapSpace, probs[base + space]!);
    } else if (best !== prev) {
      const ch = chars[best - 1] ?? '';
      if (best !== space && last && last !== ' ' && gapSpace >= SPACE_POSTERIOR && !(NO_SPACE_SCRIPT.test(last) && NO_SPACE_SCRIPT.test(ch))) text += ' ';
      text += ch;
      last = ch;
      sum += bestP;
      kept++;
      gapSpace = 0;
    }
    prev = best;
  }
  return { text, confidence: kept ? sum / kept : 0 };
}

/** Input width for a crop of the given reading width and height: its aspect at height 48, rounded up. */
export function recWidth(width: number, height: number): number {
  if (!(height > 0)) return 1;
  return Math.max(1, Math.min(REC_MAX_WIDTH, Math.ceil((REC_HEIGHT * width) / height)));
}

/**
 * Sample the line `quad` of `image` straight into the rec input: a `outW` × 48 picture of the
 * quad in its reading frame (tl at the top-left), bilinear, with s×s supersampling where the line is
 * reduced by more than 1.5× (antialiasing), borders replicated (as cv2.warpPerspective with
 * BORDER_REPLICATE in PaddleOCR's get_rotate_crop_image). Written at `dest[offset…]` as
 * channels B, G, R of a [3, 48, destW] tensor, each `(v / 255 - 0.5) / 0.5`, columns ≥ outW
 * left as they are (0 = padding).
 */
export function sampleLine(image: RgbImage, quad: Quad, outW: number, dest: Float32Array, offset: number, destW: number): void {
  const [tl, tr, , bl] = quad;
  const ax = (tr[0] - tl[0]) / outW;
  const ay = (tr[1] - tl[1]) / outW;
  const bx = (bl[0] - tl[0]) / REC_HEIGHT;
  const by = (bl[1] - tl[1]) / REC_HEIGHT;
  const scale = Math.max(Math.hypot(ax, ay), Math.hypot(bx, by));
  const s = scale > 1.5 ? Math.min(4, Math.ceil(scale)) : 1;
  const { data, width, height } = image;
  const plane = REC_HEIGHT * destW;
  const maxX = width - 1;
  const maxY = height - 1;
  const inv = 1 / (s * s);
  for (let row = 0; row < REC_HEIGHT; row++) {
    for (let col = 0; col < outW; col++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sj = 0; sj < s; sj++) {
        const v = row + (sj + 0.5) / s;
        for (let si = 0; si < s; si++) {
          const u = col + (si + 0.5) / s;
          // Continuous position → pixel-centre grid (pixel k covers [k, k + 1)).
          let x = tl[0] + u * ax + v * bx - 0.5;
          let y = tl[1] + u * ay + v * by - 0.5;
          x = x < 0 ? 0 : x > maxX ? maxX : x;
          y = y < 0 ? 0 : y > maxY ? maxY : y;
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const x1 = x0 < maxX ? x0 + 1 : x0;
          const y1 = y0 < maxY ? y0 + 1 : y0;
          const fx = x - x0;
          const fy = y - y0;
          const i00 = (y0 * width + x0) * 3;
          const i01 = (y0 * width + x1) * 3;
          const i10 = (y1 * width + x0) * 3;
          const i11 = (y1 * width + x1) * 3;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          r += data[i00]! * w00 + data[i01]! * w01 + data[i10]! * w10 + data[i11]! * w11;
          g += data[i00 + 1]! * w00 + data[i01 + 1]! * w01 + data[i10 + 1]! * w10 + data[i11 + 1]! * w11;
          b += data[i00 + 2]! * w00 + data[i01 + 2]! * w01 + data[i10 + 2]! * w10 + data[i11 + 2]! * w11;
        }
      }
      const o = offset + row * destW + col;
      // (v / 255 - 0.5) / 0.5 = v / 127.5 - 1, in B, G, R order.
      dest[o] = (b * inv) / 127.5 - 1;
      dest[o + plane] = (g * inv) / 127.5 - 1;
      dest[o + 2 * plane] = (r * inv) / 127.5 - 1;
    }
  }
}

/** The quad grown by `pad` × its height above the top edge and below the bottom edge. */
export function padQuad(q: Quad, pad: number): Quad {
  const dx = (q[3][0] - q[0][0]) * pad;
  const dy = (q[3][1] - q[0][1]) * pad;
  return [
    [q[0][0] - dx, q[0][1] - dy],
    [q[1][0] - dx, q[1][1] - dy],
    [q[2][0] + dx, q[2][1] + dy],
    [q[3][0] + dx, q[3][1] + dy],
  ];
}

/** Runs the rec graph: input [N, 3, 48, W] float32 → output data [N, T, C] and its T, C. */
export type RecRunner = (input: Float32Array, batch: number, width: number) => Promise<{ data: Float32Array; steps: number; classes: number }>;

/**
 * Recognise lines (each box padded by REC_CROP_PAD): sorted by width and run in batches (at most REC_BATCH lines and
 * REC_BATCH_COLUMNS columns), each batch as wide as its widest line (at least REC_MIN_WIDTH,
 * a multiple of 8), narrower lines padded on the right (PaddleOCR TextRecognizer.__call__).
 * Results come back in the order of `quads`.
 */
export async function recognizeLines(image: RgbImage, boxes: readonly Quad[], run: RecRunner, chars: readonly string[]): Promise<Recognized[]> {
  const quads = boxes.map((q) => padQuad(q, REC_CROP_PAD));
  const widths = quads.map((q) => {
    const w = Math.hypot(q[1][0] - q[0][0], q[1][1] - q[0][1]);
    const h = Math.hypot(q[3][0] - q[0][0], q[3][1] - q[0][1]);
    return recWidth(w, h);
  });
  const order = quads.map((_, i) => i).sort((a, b) => widths[a]! - widths[b]!);
  const padded = (w: number) => Math.max(REC_MIN_WIDTH, Math.ceil(w / 8) * 8);
  const batches: number[][] = [];
  for (const i of order) {
    const batch = batches[batches.length - 1];
    // Sorted by width, so line i is the widest of its batch.
    if (batch && batch.length < REC_BATCH && (batch.length + 1) * padded(widths[i]!) <= REC_BATCH_COLUMNS) batch.push(i);
    else batches.push([i]);
  }
  const results: Recognized[] = new Array(quads.length);
  for (const idx of batches) {
    const batchW = padded(Math.max(...idx.map((i) => widths[i]!)));
    const per = 3 * REC_HEIGHT * batchW;
    const input = new Float32Array(idx.length * per);
    idx.forEach((i, n) => sampleLine(image, quads[i]!, widths[i]!, input, n * per, batchW));
    const out = await run(input, idx.length, batchW);
    idx.forEach((i, n) => {
      results[i] = ctcGreedyDecode(out.data, out.steps, out.classes, chars, n * out.steps * out.classes);
    });
  }
  return results;
}
