/**
 * Plain resize preprocessing (Hugging Face SiglipImageProcessor: `size: {height, width}`, no crop):
 * resize to height × width with Pillow's filter (BICUBIC for SigLIP), rescale (float64 product cast
 * to float32), normalize in float32 → pixel_values float32 [N,3,H,W]. Resizing is Pillow's to the
 * bit (resample.ts), so equal decoded pixels give HF's exact values.
 */
import type { DecodedImage } from '../../media/images/decode.js';
import { pilFilterOf, resizePil, type PilFilter } from './resample.js';
import { rescaleNormalizeOf, type RescaleNormalizeConfig } from './normalize-config.js';

export interface ResizePreprocessConfig extends RescaleNormalizeConfig {
  kind: 'resize';
  height: number;
  width: number;
  resample: PilFilter;
}

/**
 * A preprocessor_config.json with `size: {height, width}` (SiglipImageProcessor's defaults otherwise:
 * BICUBIC, 1/255, mean = std = 0.5).
 * @throws TypeError naming the field.
 */
export function resizePreprocessConfig(pre: Record<string, unknown>): ResizePreprocessConfig {
  const size = pre.size as { height?: unknown; width?: unknown } | undefined;
  const h = size?.height;
  const w = size?.width;
  if (!Number.isInteger(h) || !Number.isInteger(w) || (h as number) < 1 || (w as number) < 1) {
    throw new TypeError(`size must be {height, width} in pixels, got ${JSON.stringify(pre.size)}`);
  }
  const resample = pilFilterOf(typeof pre.resample === 'number' ? pre.resample : 3);
  if (!resample) throw new TypeError(`resample ${JSON.stringify(pre.resample)} is not supported (1 lanczos, 2 bilinear, 3 bicubic)`);
  const cfg: ResizePreprocessConfig = {
    kind: 'resize',
    height: h as number,
    width: w as number,
    resample,
    ...rescaleNormalizeOf(pre, (message) => new TypeError(message)),
  };
  return cfg;
}

/** pixel_values float32 [N,3,height,width] of the images, in order. */
export function resizePreprocessBatch(images: readonly DecodedImage[], cfg: ResizePreprocessConfig): { pixel_values: Float32Array; dims: [number, 3, number, number] } {
  const f = Math.fround;
  const tables = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let u = 0; u < 256; u++) {
      const x = cfg.do_rescale ? f(u * cfg.rescale_factor) : u;
      t[u] = cfg.do_normalize ? f(f(x - f(cfg.image_mean[c]!)) / f(cfg.image_std[c]!)) : x;
    }
    return t;
  }) as [Float32Array, Float32Array, Float32Array];
  const { height: H, width: W } = cfg;
  const plane = H * W;
  const pixel_values = new Float32Array(images.length * 3 * plane);
  images.forEach((img, i) => {
    if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
      throw new RangeError(`resizePreprocess: expected RGB 8-bit ${img.width}×${img.height}×3 bytes, got ${img.data.length}`);
    }
    const px = img.width === W && img.height === H ? img.data : resizePil(img.data, img.width, img.height, W, H, cfg.resample);
    const base = i * 3 * plane;
    for (let p = 0, s = 0; p < plane; p++, s += 3) {
      pixel_values[base + p] = tables[0][px[s]!]!;
      pixel_values[base + plane + p] = tables[1][px[s + 1]!]!;
      pixel_values[base + 2 * plane + p] = tables[2][px[s + 2]!]!;
    }
  });
  return { pixel_values, dims: [images.length, 3, H, W] };
}
