/** Per-encoder image preprocessing → pixel_values. */
export { CLIP_VIT_L14_336, clipPreprocess, clipPreprocessBatch, clipResizeSize, validateClipConfig } from './clip.js';
export type { ClipPreprocessConfig, PixelValuesBatch } from './clip.js';
export { MAX_RESAMPLE_BYTES, resizeBicubicPil, resizeBicubicPilWindow } from './resample.js';
export type { ResizeWindow } from './resample.js';
