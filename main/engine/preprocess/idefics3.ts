/**
 * Idefics3 image preprocessing (SmolVLM, granite-docling): Hugging Face's slow
 * `Idefics3ImageProcessor.preprocess`, the processor these models were trained with, reproduced
 * to the bit for RGB 8-bit images:
 *
 * 1. resize so the longest edge is `size.longest_edge` (also enlarging small images); the other
 *    edge is int(longest / aspect), rounded up to even (`_resize_output_size_rescale_to_max_len`);
 * 2. with `do_image_splitting`: resize both edges up to multiples of `max_image_size.longest_edge`
 *    (the tile edge, 512), the aspect kept before rounding (`resize_for_vision_encoder`); cut into
 *    tiles row-major; append the whole (stage-2) image resized to tile² as the global image. An image
 *    that is one tile or smaller is not split (rows = cols = 0, the image alone);
 * 3. rescale (float64 product cast to float32) and normalize in float32, channels first;
 * 4. pad every frame to the largest height and width of the request (`do_pad`), with
 *    `pixel_attention_mask` true over the real pixels.
 *
 * Every resize is Pillow's (`resample` 1 = LANCZOS for these models) through resample.ts, which
 * reproduces Pillow's fixed-point convolution exactly, so equal decoded pixels give HF's exact
 * pixel_values (checked against PIL by the Idefics3 parity test's pixel_values sha256).
 *
 * transformers.js differs here (sharp's lanczos3 for step 1, bilinear interpolation of the
 * normalized floats for step 2 and the global image), so its pixel_values differ slightly from
 * these; its tile counts and prompts are the same.
 */
import type { DecodedImage } from '../../media/images/decode.js';
import { pilFilterOf, resizePil, type PilFilter } from './resample.js';
import { rescaleNormalizeOf, type RescaleNormalizeConfig } from './normalize-config.js';

/** The preprocessor_config.json fields this module uses, resolved. */
export interface Idefics3PreprocessConfig extends RescaleNormalizeConfig {
  kind: 'idefics3';
  do_resize: boolean;
  /** `size.longest_edge`: the image's longest edge after step 1 (2048 for SmolVLM-256M/500M). */
  longest_edge: number;
  do_image_splitting: boolean;
  /** `max_image_size.longest_edge`: tile edge and global image size (512). */
  tile_size: number;
  resample: PilFilter;
}

/** Thrown for a preprocessor_config.json this module cannot follow; one line naming the field. */
export class Idefics3ConfigError extends Error {
  override name = 'Idefics3ConfigError';
}

/**
 * Resolve a preprocessor_config.json object, with Idefics3ImageProcessor's defaults for absent fields
 * (size 4·364, max_image_size 364, LANCZOS, 1/255, IMAGENET_STANDARD mean/std 0.5).
 * @throws Idefics3ConfigError for an unusable value.
 */
export function idefics3PreprocessConfig(pre: Record<string, unknown>): Idefics3PreprocessConfig {
  const edge = (v: unknown, name: string, dflt: number): number => {
    const e = v === undefined ? dflt : (v as { longest_edge?: unknown })?.longest_edge;
    if (!Number.isInteger(e) || (e as number) < 1) throw new Idefics3ConfigError(`${name}.longest_edge must be a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return e as number;
  };
  const resampleNumber = pre.resample === undefined ? 1 : pre.resample;
  const resample = typeof resampleNumber === 'number' ? pilFilterOf(resampleNumber) : undefined;
  if (!resample) throw new Idefics3ConfigError(`resample ${JSON.stringify(pre.resample)} is not supported (1 lanczos, 2 bilinear, 3 bicubic)`);
  const cfg: Idefics3PreprocessConfig = {
    kind: 'idefics3',
    do_resize: pre.do_resize !== false,
    longest_edge: edge(pre.size, 'size', 4 * 364),
    do_image_splitting: pre.do_image_splitting !== false,
    tile_size: edge(pre.max_image_size, 'max_image_size', 364),
    resample,
    ...rescaleNormalizeOf(pre, (message) => new Idefics3ConfigError(message)),
  };
  if (cfg.longest_edge > 4096) throw new Idefics3ConfigError(`size.longest_edge ${cfg.longest_edge} is over 4096`);
  return cfg;
}

/** Python's int() of a finite float: truncation toward zero. */
const pyInt = Math.trunc;

/**
 * Step 1 output size, [width, height]: `_resize_output_size_rescale_to_max_len(h, w, max_len=longest)`
 * (the short edge int(longest / aspect), rounded up to even, at least 1) then
 * `_resize_output_size_scale_below_upper_bound(h, w, 4096)`.
 */
export function idefics3ResizeSize(width: number, height: number, longest: number): [number, number] {
  let w = width;
  let h = height;
  let aspect = w / h;
  if (w >= h) {
    w = longest;
    h = pyInt(w / aspect);
    if (h % 2 !== 0) h += 1;
  } else {
    h = longest;
    w = pyInt(h * aspect);
    if (w % 2 !== 0) w += 1;
  }
  h = Math.max(h, 1);
  w = Math.max(w, 1);
  const upper = 4096;
  aspect = w / h;
  if (w >= h && w > upper) {
    w = upper;
    h = pyInt(w / aspect);
  } else if (h > w && h > upper) {
    h = upper;
    w = pyInt(h * aspect);
  }
  return [Math.max(w, 1), Math.max(h, 1)];
}

/** Step 2 output size, [width, height]: `resize_for_vision_encoder`, both edges up to multiples of `tile`. */
export function idefics3TileAlignedSize(width: number, height: number, tile: number): [number, number] {
  const aspect = width / height;
  let w = width;
  let h = height;
  if (w >= h) {
    w = Math.ceil(w / tile) * tile;
    h = pyInt(w / aspect);
    h = Math.ceil(h / tile) * tile;
  } else {
    h = Math.ceil(h / tile) * tile;
    w = pyInt(h * aspect);
    w = Math.ceil(w / tile) * tile;
  }
  return [w, h];
}

/** How one image was split: rows × cols tiles plus a global image, or 0 × 0 (the image alone). */
export interface ImageGrid {
  rows: number;
  cols: number;
}

/** The vision encoder's inputs for one request (batch 1). */
export interface Idefics3Pixels {
  /** float32 [1, N, 3, H, W], frames in order: per image its tiles row-major, then its global image. */
  pixel_values: Float32Array;
  /** bool as bytes (1 = real pixel) [1, N, H, W]. */
  pixel_attention_mask: Uint8Array;
  dims: [1, number, 3, number, number];
  grids: ImageGrid[];
}

/** value[c][u] for every uint8 u, with HF's float semantics (rescale: float64 product → float32; normalize in float32). */
function normalizeTable(cfg: Idefics3PreprocessConfig): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    const mean = f(cfg.image_mean[c]!);
    const std = f(cfg.image_std[c]!);
    for (let u = 0; u < 256; u++) {
      const x = cfg.do_rescale ? f(u * cfg.rescale_factor) : u;
      t[u] = cfg.do_normalize ? f(f(x - mean) / std) : x;
    }
    return t;
  });
}

/** A frame: a rectangle of an RGB buffer. */
interface Frame {
  data: Uint8Array;
  stride: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * pixel_values, pixel_attention_mask and the tile grids of a request's images (see the module doc).
 * @param images decoded RGB 8-bit HWC (decodeImage's output), in prompt order.
 * @throws RangeError for a malformed image or a resize over the resampler's memory limit.
 */
export function idefics3Preprocess(images: readonly DecodedImage[], cfg: Idefics3PreprocessConfig): Idefics3Pixels {
  const frames: Frame[] = [];
  const grids: ImageGrid[] = [];
  const resize = (data: Uint8Array, w: number, h: number, nw: number, nh: number): Uint8Array =>
    nw === w && nh === h ? data : resizePil(data, w, h, nw, nh, cfg.resample);
  for (const image of images) {
    if (!(image.width > 0 && image.height > 0) || image.data.length !== image.width * image.height * 3) {
      throw new RangeError(`idefics3Preprocess: expected RGB 8-bit ${image.width}×${image.height}×3 bytes, got ${image.data.length}`);
    }
    let data: Uint8Array = image.data;
    let w = image.width;
    let h = image.height;
    if (cfg.do_resize) {
      const [nw, nh] = idefics3ResizeSize(w, h, cfg.longest_edge);
      data = resize(data, w, h, nw, nh);
      [w, h] = [nw, nh];
    }
    if (!cfg.do_image_splitting) {
      grids.push({ rows: 0, cols: 0 });
      frames.push({ data, stride: w, left: 0, top: 0, width: w, height: h });
      continue;
    }
    const tile = cfg.tile_size;
    const [aw, ah] = idefics3TileAlignedSize(w, h, tile);
    data = resize(data, w, h, aw, ah);
    [w, h] = [aw, ah];
    if (h > tile || w > tile) {
      const rows = Math.ceil(h / tile);
      const cols = Math.ceil(w / tile);
      const oh = Math.ceil(h / rows);
      const ow = Math.ceil(w / cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const top = r * oh;
          const left = c * ow;
          frames.push({ data, stride: w, left, top, width: Math.min(left + ow, w) - left, height: Math.min(top + oh, h) - top });
        }
      }
      const global = resize(data, w, h, tile, tile);
      frames.push({ data: global, stride: tile, left: 0, top: 0, width: tile, height: tile });
      grids.push({ rows, cols });
    } else {
      frames.push({ data, stride: w, left: 0, top: 0, width: w, height: h });
      grids.push({ rows: 0, cols: 0 });
    }
  }
  const H = Math.max(...frames.map((f) => f.height));
  const W = Math.max(...frames.map((f) => f.width));
  const n = frames.length;
  const plane = H * W;
  const pixel_values = new Float32Array(n * 3 * plane);
  const pixel_attention_mask = new Uint8Array(n * plane);
  const [t0, t1, t2] = normalizeTable(cfg) as [Float32Array, Float32Array, Float32Array];
  frames.forEach((f, i) => {
    const base = i * 3 * plane;
    for (let y = 0; y < f.height; y++) {
      let s = ((f.top + y) * f.stride + f.left) * 3;
      let d = base + y * W;
      pixel_attention_mask.fill(1, i * plane + y * W, i * plane + y * W + f.width);
      for (let x = 0; x < f.width; x++, d++, s += 3) {
        pixel_values[d] = t0[f.data[s]!]!;
        pixel_values[d + plane] = t1[f.data[s + 1]!]!;
        pixel_values[d + 2 * plane] = t2[f.data[s + 2]!]!;
      }
    }
  });
  return { pixel_values, pixel_attention_mask, dims: [1, n, 3, H, W], grids };
}
