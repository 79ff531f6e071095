/**
 * CLIP image preprocessing: Hugging Face CLIPImageProcessor's steps (resize the
 * shortest edge, bicubic; center crop, zero-padding a too-small image; rescale;
 * mean/std normalize) → pixel_values, float32 CHW.
 *
 * Resizing is Pillow's BICUBIC reproduced bit-exactly (resample.ts: HF resizes with
 * PIL, and libvips' cubic differs measurably); crop + normalize go through a 256-entry
 * lookup table per channel, so equal uint8 pixels give HF's exact float32 values.
 *
 * Only the part of the resized image that survives the center crop is computed
 * (resizeBicubicPilWindow), bit-identical to resizing everything and then cropping, so
 * the cost is bounded by the crop size (plus the filter's reach into the source), not by
 * the resized size: a 1×1,000,000 strip "resizes" to 336×336,000,000.
 */
import type { DecodedImage } from '../../media/images/decode.js';
import { resizeBicubicPilWindow } from './resample.js';

/**
 * Preprocessing block of a model manifest, mirroring CLIPImageProcessor's
 * preprocessor_config.json (do_resize, do_center_crop, do_rescale, do_normalize all true).
 */
export interface ClipPreprocessConfig {
  kind: 'clip';
  /** `size.shortest_edge`: the short side after resizing, in pixels. */
  shortest_edge: number;
  /** `crop_size`: output height and width in pixels. */
  crop_size: { height: number; width: number };
  /** `resample`: 3 (PIL BICUBIC) in HF configs; only bicubic is implemented. */
  resample: 'bicubic';
  /** `rescale_factor`: 1/255 maps uint8 to [0, 1]. */
  rescale_factor: number;
  /** `image_mean`, per RGB channel, in rescaled units. */
  image_mean: [number, number, number];
  /** `image_std`, per RGB channel, in rescaled units. */
  image_std: [number, number, number];
}

/**
 * The real openai/clip-vit-large-patch14-336 preprocessor_config.json (the encoder
 * OmniFusion 1.1 uses): shortest_edge 336, crop 336×336, bicubic, 1/255, OpenAI CLIP mean/std.
 */
export const CLIP_VIT_L14_336: Readonly<ClipPreprocessConfig> = Object.freeze<ClipPreprocessConfig>({
  kind: 'clip',
  shortest_edge: 336,
  crop_size: { height: 336, width: 336 },
  resample: 'bicubic',
  rescale_factor: 1 / 255,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
});

/**
 * Output size of HF `get_resize_output_image_size(size=shortest_edge,
 * default_to_square=False)`: the short side becomes `shortestEdge`, the long side
 * `int(shortestEdge * long / short)` (truncated, same double arithmetic as Python).
 * @returns [width, height] in pixels.
 */
export function clipResizeSize(width: number, height: number, shortestEdge: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height ? [shortestEdge, newLong] : [newLong, shortestEdge];
}

/** Throws a TypeError when a manifest's preprocessing block is not a usable CLIP config. */
export function validateClipConfig(cfg: ClipPreprocessConfig): void {
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  const bad = (what: string) => new TypeError(`invalid CLIP preprocessing config: ${what}`);
  if (cfg.kind !== 'clip') throw bad(`kind is ${JSON.stringify(cfg.kind)}, expected "clip"`);
  if (!posInt(cfg.shortest_edge)) throw bad('shortest_edge must be a positive integer');
  if (!posInt(cfg.crop_size?.height) || !posInt(cfg.crop_size?.width)) throw bad('crop_size.height/width must be positive integers');
  if (cfg.resample !== 'bicubic') throw bad(`resample ${JSON.stringify(cfg.resample)} is not supported (only "bicubic")`);
  if (!(cfg.rescale_factor > 0)) throw bad('rescale_factor must be > 0');
  for (const key of ['image_mean', 'image_std'] as const) {
    const v = cfg[key];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw bad(`${key} must be 3 numbers`);
  }
  if (cfg.image_std.some((x) => x === 0)) throw bad('image_std must be non-zero');
}

/**
 * value[c][u] for every uint8 u, computed with HF's float semantics so that equal
 * uint8 pixels give bit-identical float32 outputs: rescale() multiplies in float64
 * then casts to float32; normalize() subtracts and divides in float32.
 */
function normalizeTable(cfg: ClipPreprocessConfig): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const mean = f(cfg.image_mean[c]!);
    const std = f(cfg.image_std[c]!);
    const t = new Float32Array(256);
    for (let u = 0; u < 256; u++) t[u] = f(f(f(u * cfg.rescale_factor) - mean) / std);
    return t;
  });
}

/**
 * Center crop window of a w×h resized image, as HF center_crop: crop origin
 * top = floor((h − crop_h) / 2), left likewise. When the image is smaller than the crop
 * on an axis, the whole axis is kept and it sits at ceil((crop − size) / 2) in the output
 * (the rest is padding).
 * @returns the kept rectangle of the resized image (`left/top/width/height`) and where it
 *   lands in the crop (`dx`, `dy`).
 */
function cropWindow(w: number, h: number, cw: number, ch: number): { left: number; top: number; width: number; height: number; dx: number; dy: number } {
  const top = Math.floor((h - ch) / 2);
  const left = Math.floor((w - cw) / 2);
  const y0 = Math.max(0, top);
  const x0 = Math.max(0, left);
  return { left: x0, top: y0, width: Math.min(w, left + cw) - x0, height: Math.min(h, top + ch) - y0, dx: x0 - left, dy: y0 - top };
}

/**
 * Place the kept window (win, winW×winH RGB) at (dx, dy) of the crop and normalize into
 * `out` at `offset`; the rest of the crop is uint8 0 (HF pads before rescaling, so
 * padding normalizes to -mean/std, not 0).
 */
function cropNormalize(win: Uint8Array, winW: number, winH: number, dx: number, dy: number, cfg: ClipPreprocessConfig, table: Float32Array[], out: Float32Array, offset: number): void {
  const ch = cfg.crop_size.height;
  const cw = cfg.crop_size.width;
  const plane = ch * cw;
  const [t0, t1, t2] = table as [Float32Array, Float32Array, Float32Array];
  // Padding value per channel: normalized uint8 0 (only needed when the window is smaller than the crop).
  if (winW !== cw || winH !== ch) for (let c = 0; c < 3; c++) out.fill(table[c]![0]!, offset + c * plane, offset + (c + 1) * plane);
  let s = 0;
  for (let y = 0; y < winH; y++) {
    let d = offset + (dy + y) * cw + dx;
    for (let x = 0; x < winW; x++, d++, s += 3) {
      out[d] = t0[win[s]!]!;
      out[d + plane] = t1[win[s + 1]!]!;
      out[d + 2 * plane] = t2[win[s + 2]!]!;
    }
  }
}

/**
 * pixel_values for one image, exactly CLIPImageProcessor's sequence: resize so the
 * shortest edge = cfg.shortest_edge (bicubic, uint8 result), center crop to
 * cfg.crop_size (zero-padding if smaller), × rescale_factor, (x − mean) / std.
 *
 * @param image decoded RGB 8-bit HWC (decodeImage's output).
 * @returns Float32Array of length 3·crop_h·crop_w, layout CHW [3, crop_h, crop_w], RGB order.
 * @throws TypeError for an invalid config; RangeError when `image.data` is not width·height·3 bytes.
 */
export async function clipPreprocess(image: DecodedImage, cfg: ClipPreprocessConfig): Promise<Float32Array> {
  validateClipConfig(cfg);
  const out = new Float32Array(3 * cfg.crop_size.height * cfg.crop_size.width);
  preprocessInto(image, cfg, normalizeTable(cfg), out, 0);
  return out;
}

function preprocessInto(image: DecodedImage, cfg: ClipPreprocessConfig, table: Float32Array[], out: Float32Array, offset: number): void {
  if (!(image.width > 0 && image.height > 0) || image.data.length !== image.width * image.height * 3) {
    throw new RangeError(`clipPreprocess: expected RGB 8-bit ${image.width}×${image.height}×3 = ${image.width * image.height * 3} bytes, got ${image.data.length}`);
  }
  const [w, h] = clipResizeSize(image.width, image.height, cfg.shortest_edge);
  // Resize only the part that survives the crop: identical to resize-then-crop, but
  // O(crop) instead of O(w·h) (a 1×1,000,000 strip resizes to 336×336,000,000).
  const { dx, dy, ...win } = cropWindow(w, h, cfg.crop_size.width, cfg.crop_size.height);
  const pixels = resizeBicubicPilWindow(image.data, image.width, image.height, w, h, win);
  cropNormalize(pixels, win.width, win.height, dx, dy, cfg, table, out, offset);
}

/** A batch of pixel_values, ready to be an ONNX float32 tensor. */
export interface PixelValuesBatch {
  /** float32, layout NCHW, length N·3·H·W. */
  pixel_values: Float32Array;
  /** [N, 3, crop_h, crop_w]. */
  dims: [number, number, number, number];
}

/**
 * clipPreprocess for several images, packed into one NCHW tensor in input order.
 * @throws TypeError for an invalid config; RangeError for a malformed image.
 */
export async function clipPreprocessBatch(images: readonly DecodedImage[], cfg: ClipPreprocessConfig): Promise<PixelValuesBatch> {
  validateClipConfig(cfg);
  const { height, width } = cfg.crop_size;
  const per = 3 * height * width;
  const pixel_values = new Float32Array(images.length * per);
  const table = normalizeTable(cfg);
  for (let i = 0; i < images.length; i++) preprocessInto(images[i]!, cfg, table, pixel_values, i * per);
  return { pixel_values, dims: [images.length, 3, height, width] };
}
