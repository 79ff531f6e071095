/**
 * Pure geometry of the region-selection overlay (no DOM): where the frame image is drawn in the
 * overlay, how a pointer position becomes an image-local point, and how a drag becomes the
 * physical-pixel rectangle through the shared crop geometry (main/api/capture-geometry.ts), so
 * the overlay, the in-page crop and the Electron main process agree on every pixel.
 *
 * Coordinate spaces:
 * - client: CSS px of the page (PointerEvent.clientX/Y);
 * - image-local: CSS px relative to the displayed image's top-left corner. In the Electron
 *   overlay window the image fills the window, so image-local = overlay-local DIP;
 * - physical: pixels of the frame image (its natural size).
 */
import {
  normalizeDrag,
  selectionToPhysical,
  type CropRefusal,
  type CropResult,
  type Display,
  type Drag,
  type Point,
  type Rect,
  type Size,
} from '../../../main/api/capture-geometry.js';

export type { CropRefusal, CropResult, Drag, Point, Rect, Size };

/** How the frame is laid out in the overlay: scaled to fit and centred, or stretched over it. */
export type OverlayFit = 'contain' | 'fill';

/**
 * A pointer that moved less than this (CSS px, on both axes) between press and release made a
 * click, not a drag: it selects nothing and shows no message.
 */
export const CLICK_SLOP = 2;

/**
 * The rectangle (in the overlay box's CSS px) the image occupies. 'contain' is CSS
 * `object-fit: contain` (largest uniform scale that fits, centred; small images are scaled up
 * too); 'fill' stretches the image over the whole box (the Electron overlay, where the window
 * covers exactly the display the frame was taken from).
 */
export function layoutImage(box: Size, natural: Size, fit: OverlayFit): Rect {
  if (fit === 'fill' || natural.width <= 0 || natural.height <= 0) return { x: 0, y: 0, width: box.width, height: box.height };
  const scale = Math.min(box.width / natural.width, box.height / natural.height);
  const width = natural.width * scale;
  const height = natural.height * scale;
  return { x: (box.width - width) / 2, y: (box.height - height) / 2, width, height };
}

/** A client point → image-local CSS px, clamped to the displayed image (a drag may leave it). */
export function clientToImage(client: Point, image: Rect): Point {
  return {
    x: Math.min(Math.max(client.x - image.x, 0), image.width),
    y: Math.min(Math.max(client.y - image.y, 0), image.height),
  };
}

/** True when a press and release are a click rather than a drag (see CLICK_SLOP). */
export function isClick(drag: Drag, slop = CLICK_SLOP): boolean {
  return Math.abs(drag.end.x - drag.start.x) < slop && Math.abs(drag.end.y - drag.start.y) < slop;
}

/**
 * The Display that selectionToPhysical needs for an image shown at `displayed` CSS size whose
 * pixels are `natural`: bounds at the origin in image-local CSS px, scale = natural / displayed
 * (selectionToPhysical takes the per-axis scale from imageSize / bounds).
 */
export function imageDisplay(displayed: Size, natural: Size, id = 0): Display {
  return {
    id,
    bounds: { x: 0, y: 0, width: displayed.width, height: displayed.height },
    scaleFactor: displayed.width > 0 ? natural.width / displayed.width : 1,
  };
}

/** A drag in image-local CSS px → the rectangle of the image's pixels it selects (or why not). */
export function dragToPhysical(drag: Drag, displayed: Size, natural: Size): CropResult {
  return selectionToPhysical(imageDisplay(displayed, natural), drag, natural);
}

/** The drag that selects the whole displayed image (Enter / "Whole image"). */
export function wholeImageDrag(displayed: Size): Drag {
  return { start: { x: 0, y: 0 }, end: { x: displayed.width, y: displayed.height } };
}

/** The selection rectangle to draw (image-local CSS px, non-negative size). */
export function dragRect(drag: Drag): Rect {
  return normalizeDrag(drag);
}

/** One line for the user when a selection is refused. */
export function refusalMessage(reason: CropRefusal): string {
  switch (reason) {
    case 'too-small':
      return 'That selection is too small: drag a larger box (at least 2 × 2 pixels).';
    case 'outside-display':
      return 'That selection is outside the picture: drag a box over it.';
    case 'no-display':
      return 'There is no picture to select from.';
  }
}
