/**
 * The LLaVA family (llava-interleave-qwen-0.5b; llava-1.5 style folders too) as published by
 * onnx-community for transformers.js, read from the folder's Hugging Face files:
 *
 * - preprocessing: SiglipImageProcessor (`size: {height, width}`: one resize, BICUBIC, no crop) or
 *   CLIPImageProcessor (`size.shortest_edge` + `crop_size`), rescale, normalize → [N,3,H,W], one
 *   vision encoder row of image_features per image;
 * - prompt: the folder's chat template (images as `{type: 'image'}` items leading the first user
 *   turn), every `<image>` becoming `<image>` × N as LlavaProcessor does, N = (H / patch)·(W / patch)
 *   + num_additional_image_tokens (− 1 for the 'default' strategy, which drops CLIP's CLS), 729 for
 *   SigLIP-384/14;
 * - merge: the rows of image tokens replaced in order by the image features (as Idefics3; see
 *   models/idefics3.ts for the shared chat-template code).
 */
import type { ClipPreprocessConfig } from '../preprocess/clip.js';
import { validateClipConfig } from '../preprocess/clip.js';
import { resizePreprocessConfig, type ResizePreprocessConfig } from '../preprocess/resize.js';

/**
 * The preprocessing of a LLaVA preprocessor_config.json: a plain resize (`size: {height, width}`,
 * SigLIP) or CLIP's shortest edge + center crop.
 * @throws TypeError naming the field.
 */
export function llavaPreprocessConfig(pre: Record<string, unknown>): ClipPreprocessConfig | ResizePreprocessConfig {
  const size = pre.size as Record<string, unknown> | number | undefined;
  const shortest = typeof size === 'number' ? size : size?.shortest_edge;
  if (shortest === undefined) return resizePreprocessConfig(pre);
  const crop = pre.crop_size as { height?: number; width?: number } | number | undefined;
  const c = typeof crop === 'number' ? { height: crop, width: crop } : { height: crop?.height ?? (shortest as number), width: crop?.width ?? (shortest as number) };
  if (pre.resample !== undefined && pre.resample !== 3) throw new TypeError(`resample ${JSON.stringify(pre.resample)} with shortest_edge is not supported (bicubic only)`);
  const cfg: ClipPreprocessConfig = {
    kind: 'clip',
    shortest_edge: shortest as number,
    crop_size: c as { height: number; width: number },
    resample: 'bicubic',
    rescale_factor: typeof pre.rescale_factor === 'number' ? pre.rescale_factor : 1 / 255,
    image_mean: (pre.image_mean as [number, number, number]) ?? [0.48145466, 0.4578275, 0.40821073],
    image_std: (pre.image_std as [number, number, number]) ?? [0.26862954, 0.26130258, 0.27577711],
  };
  validateClipConfig(cfg);
  return cfg;
}
