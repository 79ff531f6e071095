/** The guard of the in-page crop (pure; crop.ts draws it). */
import type { Rect, Size } from '../../../main/api/capture-geometry.js';

/**
 * Why `rect` cannot be cut from an image of `size`, or null when it can: every edge an integer,
 * a positive size, and entirely inside the image. (The overlay's selectionToPhysical already
 * rounds outward and clamps; this guards the canvas against anything else.)
 */
export function cropRectProblem(rect: Rect, size: Size): string | null {
  const { x, y, width, height } = rect;
  if (![x, y, width, height].every(Number.isInteger)) return 'the crop rectangle must be whole pixels';
  if (width <= 0 || height <= 0) return 'the crop rectangle is empty';
  if (x < 0 || y < 0 || x + width > size.width || y + height > size.height) {
    return `the crop rectangle ${width}×${height}+${x}+${y} is outside the ${size.width}×${size.height} image`;
  }
  return null;
}
