/**
 * Plane geometry for text boxes: convex hull, minimum-area rectangle, and the reading frame of a
 * box as a quadrilateral.
 *
 * Coordinates are pixels, x to the right and y down (image convention), as floats.
 *
 * A text box is a `Quad`: four corners `[tl, tr, br, bl]` of the text *as read*: `tl → tr` is the
 * reading direction along the top of the glyphs, `tl → bl` points from the top of the glyphs to
 * their bottom. For upright text that is top-left, top-right, bottom-right, bottom-left in the
 * image; for a line rotated 90° clockwise, `tl` is the top-right corner of its image area.
 */

/** A point `[x, y]` in pixels. */
export type Point = [number, number];

/** Four corners `[tl, tr, br, bl]` in the text's reading frame (see the module doc). */
export type Quad = [Point, Point, Point, Point];

/** Rotated rectangle: centre, side along the axis `(ux, uy)` (unit) and the side across it. */
export interface RotatedRect {
  cx: number;
  cy: number;
  /** Length along (ux, uy), pixels. */
  along: number;
  /** Length across (ux, uy), pixels. */
  across: number;
  ux: number;
  uy: number;
}

function cross(o: Point, a: Point, b: Point): number {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

/**
 * Convex hull (Andrew's monotone chain), counter-clockwise in a y-up frame, without collinear
 * points. Fewer than 3 distinct points come back as they are (deduplicated).
 */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const unique: Point[] = [];
  for (const p of pts) {
    const last = unique[unique.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) unique.push(p);
  }
  if (unique.length < 3) return unique;
  const lower: Point[] = [];
  for (const p of unique) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = unique.length - 1; i >= 0; i--) {
    const p = unique[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/**
 * Minimum-area enclosing rectangle of a point set (what OpenCV's `cv2.minAreaRect` computes, used
 * by PaddleOCR's DB post-processing): one side of the optimum lies along a hull edge (Freeman &
 * Shapira 1975), so each hull edge direction is tried. Degenerate sets (one point, or collinear
 * points) give a rectangle with a zero side.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { cx: 0, cy: 0, along: 0, across: 0, ux: 1, uy: 0 };
  if (hull.length === 1) return { cx: hull[0]![0], cy: hull[0]![1], along: 0, across: 0, ux: 1, uy: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, along: maxU - minU, across: maxV - minV, ux, uy };
    }
  }
  return best!;
}

/**
 * The rectangle with its axis along the LONGER side, pointing right (ux > 0) when the long side
 * is nearer horizontal, down (uy > 0) when it is nearer vertical.
 */
export function canonicalRect(r: RotatedRect): RotatedRect {
  let { ux, uy, along, across } = r;
  if (across > along) {
    [ux, uy] = [-uy, ux];
    [along, across] = [across, along];
  }
  const flip = Math.abs(ux) >= Math.abs(uy) ? ux < 0 : uy < 0;
  if (flip) {
    ux = -ux;
    uy = -uy;
  }
  return { cx: r.cx, cy: r.cy, along, across, ux: ux + 0, uy: uy + 0 };
}

/**
 * The rectangle as a reading-frame quad read along its axis `(ux, uy)`: `tl → tr` runs along the
 * axis, `tl → bl` along `(-uy, ux)` (which is "down" when the axis points right).
 */
export function rectToQuad(r: RotatedRect): Quad {
  const hx = (r.ux * r.along) / 2;
  const hy = (r.uy * r.along) / 2;
  const vx = (-r.uy * r.across) / 2;
  const vy = (r.ux * r.across) / 2;
  return [
    [r.cx - hx - vx, r.cy - hy - vy],
    [r.cx + hx - vx, r.cy + hy - vy],
    [r.cx + hx + vx, r.cy + hy + vy],
    [r.cx - hx + vx, r.cy - hy + vy],
  ];
}

/**
 * The same box read after turning the reading frame by `quarterTurns` × 90°: the corner labels
 * shift cyclically. 2 reads the box upside down; for a box whose frame reads downward (axis
 * pointing down, text tops to the right), 3 reads it as upright horizontal text and 2 reads it
 * bottom-to-top.
 */
export function turnQuad(q: Quad, quarterTurns: number): Quad {
  const k = ((quarterTurns % 4) + 4) % 4;
  return [q[k % 4]!, q[(k + 1) % 4]!, q[(k + 2) % 4]!, q[(k + 3) % 4]!] as Quad;
}

/**
 * The middle part of a quad, at most `maxAspect` × its height long along the reading direction
 * (the whole quad when it is shorter).
 */
export function middleWindow(q: Quad, maxAspect: number): Quad {
  const w = quadWidth(q);
  const keep = maxAspect * quadHeight(q);
  if (w <= keep || w === 0) return q;
  const a = (w - keep) / 2 / w;
  const b = 1 - a;
  const lerp = (p: Point, r: Point, t: number): Point => [p[0] + (r[0] - p[0]) * t, p[1] + (r[1] - p[1]) * t];
  return [lerp(q[0], q[1], a), lerp(q[0], q[1], b), lerp(q[3], q[2], b), lerp(q[3], q[2], a)];
}

/** Length of the reading direction (`tl → tr`) of a quad, pixels. */
export function quadWidth(q: Quad): number {
  return Math.hypot(q[1][0] - q[0][0], q[1][1] - q[0][1]);
}

/** Glyph height of a quad (`tl → bl`), pixels. */
export function quadHeight(q: Quad): number {
  return Math.hypot(q[3][0] - q[0][0], q[3][1] - q[0][1]);
}

/** Axis-aligned bounds `[x0, y0, x1, y1]` of a set of points. */
export function bounds(points: readonly Point[]): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of points) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/** Whether (x, y) is inside or on the convex quad `q` (corners in either winding). */
export function insideQuad(q: Quad, x: number, y: number): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const a = q[i]!;
    const b = q[(i + 1) % 4]!;
    const c = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
    if (Math.abs(c) < 1e-9) continue;
    const s = c > 0 ? 1 : -1;
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}

/**
 * Where a point of an image turned clockwise by `rotation` degrees came from in the image before
 * the turn (`width` × `height` are the sizes BEFORE turning). Continuous pixel coordinates.
 */
export function unrotatePoint(p: Point, rotation: 0 | 90 | 180 | 270, width: number, height: number): Point {
  const [x, y] = p;
  switch (rotation) {
    case 0:
      return [x, y];
    case 90:
      return [y, height - x];
    case 180:
      return [width - x, height - y];
    case 270:
      return [width - y, x];
  }
}

/** Where a point lands when the image (`width` × `height`) is turned clockwise by `rotation` degrees. */
export function rotatePoint(p: Point, rotation: 0 | 90 | 180 | 270, width: number, height: number): Point {
  const [x, y] = p;
  switch (rotation) {
    case 0:
      return [x, y];
    case 90:
      return [height - y, x];
    case 180:
      return [width - x, height - y];
    case 270:
      return [y, width - x];
  }
}
