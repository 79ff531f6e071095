/**
 * The image stage of the pipeline: images → decoded rasters → pixel_values (per the family's
 * preprocessing) → vision encoder (+ adapter or connector) → image_features.
 *
 * - `omnifusion`: CLIP preprocessing, pixel_values float32 [N,3,H,W];
 * - `idefics3`: tiles + global image, pixel_values [1,N,3,H,W] with pixel_attention_mask and
 *   each image's tile grid (preprocess/idefics3.ts);
 * - `llava`: one resize (preprocess/resize.ts) or CLIP preprocessing per image, [N,3,H,W].
 */
import * as ort from 'onnxruntime-node';
import { decodeImage, type DecodedImage } from '../../media/images/index.js';
import { clipPreprocessBatch } from '../preprocess/clip.js';
import { idefics3Preprocess, type ImageGrid } from '../preprocess/idefics3.js';
import { resizePreprocessBatch } from '../preprocess/resize.js';
import type { ModelManifest } from '../package/manifest-types.js';
import type { ImageSource } from '../protocol.js';
import { toFloat32 } from './tensors.js';

/** What the vision encoder of the loaded family takes, from preprocess(). */
export interface VisionInputs {
  /** float32: [N,3,H,W] (OmniFusion, LLaVA) or [1,N,3,H,W] (Idefics3). */
  pixel_values: Float32Array;
  dims: number[];
  /** Idefics3: bool [1,N,H,W] as bytes (1 = real pixel). */
  pixel_attention_mask?: Uint8Array;
  /** Idefics3: each image's tile grid (rows × cols, 0 × 0 = not split); LLaVA: 0 × 0 per image. */
  grids?: ImageGrid[];
}

/** The vision encoder's output: image_features float32 [N,T,D] flattened (N images or tiles, T rows each, D = hidden size). */
export interface ImageFeatures {
  data: Float32Array;
  dims: number[];
}

/**
 * Decode images (EXIF orientation, sRGB, alpha on white, size guards).
 * @throws ImageInputError for an unreadable, empty, truncated or oversized image.
 */
export async function decodeImages(images: readonly ImageSource[]): Promise<DecodedImage[]> {
  const decoded: DecodedImage[] = [];
  for (const image of images) {
    decoded.push('path' in image ? await decodeImage(image.path) : await decodeImage(Buffer.from(image.bytes), { name: image.name }));
  }
  return decoded;
}

/** The image stage of one loaded model: its preprocessing and its vision_encoder session. */
export class ImageStage {
  /**
   * @param perFrame Idefics3 on the CPU: run the vision encoder once per frame (tile or global
   *   image) instead of once for all of them (see encode).
   */
  constructor(
    private readonly manifest: ModelManifest,
    private readonly visionEncoder: ort.InferenceSession,
    private readonly perFrame: boolean,
  ) {}

  /**
   * Preprocess decoded images into the vision encoder's inputs per the manifest: pixel_values
   * float32 [N,3,H,W] (OmniFusion, LLaVA), or [1,N,3,H,W] tiles with pixel_attention_mask and grids (Idefics3).
   */
  async preprocess(decoded: readonly DecodedImage[]): Promise<VisionInputs> {
    const m = this.manifest;
    if (m.family === 'idefics3') {
      const p = idefics3Preprocess(decoded, m.preprocessing);
      return { pixel_values: p.pixel_values, dims: [...p.dims], pixel_attention_mask: p.pixel_attention_mask, grids: p.grids };
    }
    if (m.preprocessing.kind === 'resize') {
      const batch = resizePreprocessBatch(decoded, m.preprocessing);
      return { pixel_values: batch.pixel_values, dims: [...batch.dims], grids: decoded.map(() => ({ rows: 0, cols: 0 })) };
    }
    const batch = await clipPreprocessBatch(decoded, m.preprocessing);
    return { pixel_values: batch.pixel_values, dims: [...batch.dims], ...(m.family === 'llava' ? { grids: decoded.map(() => ({ rows: 0, cols: 0 })) } : {}) };
  }

  /**
   * Run the vision encoder (+ adapter or connector): pixel_values → image_features float32
   * [N,T,D] (OmniFusion: one row of T per image; Idefics3: one per tile).
   * @param pixelAttentionMask Idefics3's pixel_attention_mask [1,N,H,W] as bytes; all ones when omitted.
   */
  async encode(pixelValues: Float32Array, dims: readonly number[], pixelAttentionMask?: Uint8Array): Promise<ImageFeatures> {
    const session = this.visionEncoder;
    let mask: Uint8Array | undefined;
    const maskDims = [...dims.slice(0, -3), ...dims.slice(-2)];
    if (session.inputNames.includes('pixel_attention_mask')) {
      mask = pixelAttentionMask ?? new Uint8Array(maskDims.reduce((a, b) => a * b, 1)).fill(1);
    }
    const run = async (values: Float32Array, valueDims: number[], frameMask: Uint8Array | undefined, frameMaskDims: number[]): Promise<ort.Tensor> => {
      const feeds: Record<string, ort.Tensor> = { pixel_values: new ort.Tensor('float32', values, valueDims) };
      if (frameMask) feeds.pixel_attention_mask = new ort.Tensor('bool', frameMask, frameMaskDims);
      return (await session.run(feeds)).image_features!;
    };
    // Idefics3 on the CPU, [1,N,3,H,W]: one run per frame. Every frame is encoded on its own inside
    // the graph (per-frame patch mask, position ids and attention), so the features are the same
    // (bit-identical on onnxruntime's CPU kernels), but the activations are one frame's instead of
    // N's: the attention scores alone are N × heads × 1024² floats per layer. With SmolVLM-256M's
    // shapes a 13-frame page peaked at 2.1 GB RSS instead of 4.0 GB, and the vision encoder ran ~10%
    // faster on 2 cores (npm run bench:engine). As the batched graph does, all-zero (padding) frames
    // give no features unless every frame is one, then frame 0 alone is kept.
    if (this.perFrame && dims.length === 5 && dims[0] === 1 && dims[1]! > 1) {
      const [, n, c, h, w] = dims as [number, number, number, number, number];
      const frame = c * h * w;
      const plane = h * w;
      const frames = Array.from({ length: n }, (_, i) => pixelValues.subarray(i * frame, (i + 1) * frame));
      let kept = frames.map((_, i) => i).filter((i) => frames[i]!.some((v) => v !== 0));
      if (!kept.length) kept = [0];
      const parts: Float32Array[] = [];
      let rows = 0;
      let rest: number[] = [];
      for (const i of kept) {
        const features = await run(frames[i]!, [1, 1, c, h, w], mask?.subarray(i * plane, (i + 1) * plane), [1, 1, h, w]);
        parts.push(toFloat32(features));
        rows += features.dims[0]!;
        rest = features.dims.slice(1) as number[];
      }
      const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        data.set(p, offset);
        offset += p.length;
      }
      return { data, dims: [rows, ...rest] };
    }
    const features = await run(pixelValues, [...dims], mask, maskDims);
    return { data: toFloat32(features), dims: [...features.dims] };
  }
}
