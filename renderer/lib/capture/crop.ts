/**
 * Cutting the selected physical-pixel rectangle out of a captured image in the page (the browser
 * UI's capture, and the desktop app's fallback when the shell cannot capture). The cut is a plain
 * copy: integer source rectangle, same-size destination, no smoothing, PNG (lossless), so the
 * crop has exactly the pixels of the source rectangle.
 */
import type { Rect, Size } from '../../../main/api/capture-geometry.js';
import { cropRectProblem } from './crop-rect.js';

/** What a crop is cut from: anything drawable that knows its pixel size (ImageBitmap, canvas). */
export type CropSource = (ImageBitmap | HTMLCanvasElement | OffscreenCanvas) & Size;

/** File name of a capture in the composer and in the store (as the desktop flow names it). */
export const CAPTURE_FILE_NAME = 'screenshot.png';

/**
 * Copy `rect` (in the source's pixels) into a new canvas of exactly that size.
 * @throws Error when the rectangle does not fit (see cropRectProblem) or no 2D context exists.
 */
export function cropToCanvas(source: CropSource, rect: Rect): HTMLCanvasElement {
  const problem = cropRectProblem(rect, source);
  if (problem) throw new Error(problem);
  const canvas = document.createElement('canvas');
  canvas.width = rect.width;
  canvas.height = rect.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('the image could not be cropped (no canvas)');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(source, rect.x, rect.y, rect.width, rect.height, 0, 0, rect.width, rect.height);
  return canvas;
}

/** A canvas as PNG bytes. @throws Error when the browser cannot encode it. */
export async function canvasToPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the crop could not be encoded as PNG');
  return new Uint8Array(await blob.arrayBuffer());
}

/** Cut `rect` out of `source` and encode it as PNG (lossless: the crop's pixels equal the source's). */
export async function cropToPng(source: CropSource, rect: Rect): Promise<Uint8Array> {
  return canvasToPng(cropToCanvas(source, rect));
}
