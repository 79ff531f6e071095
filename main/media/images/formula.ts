/**
 * Pre-processing for formula images (equation OCR), before the model's CLIP preprocessing.
 *
 * - `checkFormulaImage` refuses selections that cannot hold a formula, before any model call:
 *   a side under MIN_SIDE pixels (0×N is impossible after decoding; N×1 is caught here),
 *   an aspect ratio beyond MAX_ASPECT:1 (padded square, the formula would be a few pixels tall),
 *   or a blank image: fewer than MIN_INK_PIXELS pixels whose luminance differs from the
 *   background (median luminance of the border ring) by more than INK_CONTRAST. This covers
 *   "all one colour" as well as a blank scan or JPEG with compression noise.
 * - `prepareFormulaImage` normalises what passes: light-on-dark (border ring mean luminance
 *   below 0.5 and the ink lighter than the background) is inverted to dark-on-light; tiny
 *   images (both sides under the model's input size) are upscaled by an integer factor with a
 *   smooth kernel; and the result is padded to a square of the background colour, so CLIP's
 *   shortest-edge resize + center crop keeps the whole formula (no term cut off at the sides).
 *
 * Transparency is already flattened on white by decodeImage.
 */
import sharp from 'sharp';
import type { DecodedImage } from './decode.js';
import { ImageInputError } from './errors.js';

/** Smallest accepted width and height, in pixels. */
export const MIN_SIDE = 8;
/** Largest accepted long side : short side. */
export const MAX_ASPECT = 50;
/** Luminance difference (0..1) from the background that counts a pixel as ink. */
export const INK_CONTRAST = 0.2;
/** Fewer ink pixels than this: the image is blank. */
export const MIN_INK_PIXELS = 8;

/** Luminance 0..1 of each pixel (Rec. 601 weights). */
function luminance(img: DecodedImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) out[i] = (0.299 * d[i * 3]! + 0.587 * d[i * 3 + 1]! + 0.114 * d[i * 3 + 2]!) / 255;
  return out;
}

/** Pixel indices of the border ring: the outer `max(1, 2% of the short side)` pixels. */
function borderIndices(width: number, height: number): number[] {
  const t = Math.max(1, Math.floor(Math.min(width, height) * 0.02));
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    const edgeRow = y < t || y >= height - t;
    for (let x = 0; x < width; x++) if (edgeRow || x < t || x >= width - t) out.push(y * width + x);
  }
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** What the analysis found: background luminance and colour, the ink, polarity. */
export interface FormulaStats {
  /** Median border-ring luminance 0..1. */
  background: number;
  /** Mean border-ring luminance 0..1. */
  borderMean: number;
  /** Per-channel median colour of the border ring. */
  backgroundColour: [number, number, number];
  /** Pixels differing from the background by more than INK_CONTRAST. */
  inkPixels: number;
  /** Mean luminance of the ink pixels (NaN when none). */
  inkMean: number;
  /** True when the image is light glyphs on a dark background. */
  lightOnDark: boolean;
}

/** Background, ink and polarity of an RGB image. Pure. */
export function analyseFormulaImage(img: DecodedImage): FormulaStats {
  const lum = luminance(img);
  const ring = borderIndices(img.width, img.height);
  const ringLum = ring.map((i) => lum[i]!);
  const background = median(ringLum);
  const borderMean = ringLum.reduce((a, b) => a + b, 0) / Math.max(1, ringLum.length);
  const channel = (c: number): number => median(ring.map((i) => img.data[i * 3 + c]!));
  let inkPixels = 0;
  let inkSum = 0;
  for (let i = 0; i < lum.length; i++) {
    if (Math.abs(lum[i]! - background) > INK_CONTRAST) {
      inkPixels++;
      inkSum += lum[i]!;
    }
  }
  const inkMean = inkPixels ? inkSum / inkPixels : NaN;
  return {
    background,
    borderMean,
    backgroundColour: [channel(0), channel(1), channel(2)],
    inkPixels,
    inkMean,
    lightOnDark: borderMean < 0.5 && inkPixels > 0 && inkMean > background,
  };
}

/**
 * Refuse an image that cannot hold a formula, with a one-line message naming the file.
 * @throws ImageInputError('degenerate')
 */
export function checkFormulaImage(img: DecodedImage, name = 'image'): void {
  const { width: w, height: h } = img;
  if (w < MIN_SIDE || h < MIN_SIDE) {
    throw new ImageInputError('degenerate', name, `${w}×${h} pixels is too small to hold a formula (each side needs at least ${MIN_SIDE} pixels)`);
  }
  const aspect = Math.max(w, h) / Math.min(w, h);
  if (aspect > MAX_ASPECT) {
    throw new ImageInputError('degenerate', name, `${w}×${h} pixels is too thin to hold a formula (aspect ratio above ${MAX_ASPECT}:1)`);
  }
  const stats = analyseFormulaImage(img);
  if (stats.inkPixels < MIN_INK_PIXELS) {
    throw new ImageInputError('degenerate', name, 'the image is blank (all one colour: nothing to read)');
  }
}

/**
 * Light-on-dark to dark-on-light, as grey: luminance is inverted and stretched so the
 * background becomes white and the brightest ink (99th percentile) black. Coloured ink on black
 * (red, say) has little luminance contrast; a plain 255 - v would leave it pale. Pure.
 */
export function invertImage(img: DecodedImage, background = analyseFormulaImage(img).background): DecodedImage {
  const lum = luminance(img);
  const hist = new Uint32Array(256);
  for (const v of lum) hist[Math.round(v * 255)]!++;
  let top = 255;
  for (let acc = 0; top > 0; top--) {
    acc += hist[top]!;
    if (acc >= lum.length * 0.01) break;
  }
  const span = Math.max(1 / 255, top / 255 - background);
  const data = Buffer.allocUnsafe(img.data.length);
  for (let i = 0; i < lum.length; i++) {
    const t = Math.min(1, Math.max(0, (lum[i]! - background) / span));
    data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = Math.round(255 * (1 - t));
  }
  return { ...img, data };
}

/** Centre `img` on a `side`×`side` canvas filled with `colour`. Pure. */
export function padToSquare(img: DecodedImage, colour: [number, number, number]): DecodedImage {
  const side = Math.max(img.width, img.height);
  if (img.width === side && img.height === side) return img;
  const data = Buffer.allocUnsafe(side * side * 3);
  for (let i = 0; i < side * side; i++) {
    data[i * 3] = colour[0];
    data[i * 3 + 1] = colour[1];
    data[i * 3 + 2] = colour[2];
  }
  const left = Math.floor((side - img.width) / 2);
  const top = Math.floor((side - img.height) / 2);
  const row = img.width * 3;
  for (let y = 0; y < img.height; y++) img.data.copy(data, ((top + y) * side + left) * 3, y * row, (y + 1) * row);
  return { ...img, data, width: side, height: side };
}

export interface PreparedFormula {
  image: DecodedImage;
  /** What was done, one short phrase each (e.g. "inverted light-on-dark image"). */
  notes: string[];
}

/**
 * Normalise a formula image for a model whose square input is `targetSize` pixels:
 * invert light-on-dark, upscale tiny images by an integer factor (Lanczos), pad to a square.
 * Call checkFormulaImage first.
 */
export async function prepareFormulaImage(decoded: DecodedImage, { targetSize }: { targetSize: number }): Promise<PreparedFormula> {
  const notes: string[] = [];
  let img = decoded;
  let stats = analyseFormulaImage(img);
  if (stats.lightOnDark) {
    img = invertImage(img, stats.background);
    stats = analyseFormulaImage(img);
    notes.push('inverted light-on-dark image to dark on white');
  }
  const factor = Math.floor(targetSize / Math.max(img.width, img.height));
  if (factor >= 2) {
    const width = img.width * factor;
    const height = img.height * factor;
    const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
      .raw()
      .toBuffer();
    notes.push(`upscaled ${img.width}×${img.height} ×${factor} to ${width}×${height}`);
    img = { ...img, data, width, height };
  }
  if (img.width !== img.height) {
    const before = `${img.width}×${img.height}`;
    img = padToSquare(img, stats.backgroundColour);
    notes.push(`padded ${before} to ${img.width}×${img.height} so no term is cropped`);
  }
  return { image: img, notes };
}
