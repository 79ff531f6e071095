/**
 * Reading order: recognised segments of an upright page → blocks of lines, blocks and lines in
 * the order a person reads them (top to bottom, columns left to right, table rows across).
 *
 * A recursive X-Y cut (Nagy & Seth 1984) adapted to what DB detection gives (one box per run of
 * words; a table row or a line with wide gaps comes as several boxes):
 *
 * 1. The region is cut into horizontal slabs at every full-width horizontal gap (a band of y no
 *    segment covers; segments count by their middle half-height so that skewed neighbours in a
 *    photo do not bridge the gap between lines).
 * 2. Consecutive slabs are merged while the merge still has a COLUMN CUT: a vertical gap through
 *    all of them, at least COLUMN_GAP line heights wide, with both sides at least PROSE_WIDTH
 *    line heights wide and prose on at least one side (its median segment at least PROSE_WIDTH
 *    line heights long). Two columns of text whose lines happen to align merge back into one
 *    slab this way, and so does a table set in one column of a two-column page; the columns of a
 *    table (a short cell on either side of each gap: a name, a quantity, a price) do not, so a
 *    table or a receipt is read row by row.
 * 3. A slab with a column cut is read column by column (left, then right), each column
 *    recursively; a slab without one is a line (or, when its segments overlap vertically, a few
 *    lines clustered by their centre height), its segments joined left to right.
 *
 * Consecutive lines of one column form a block until a vertical gap wider than
 * PARAGRAPH_GAP line heights, a change of column, or a line that does not overlap the block
 * horizontally.
 */
import { bounds, type Quad } from './geometry.js';

/** A recognised box in upright page coordinates. */
export interface Segment {
  quad: Quad;
  text: string;
  confidence: number;
}

/** A line: its segments left to right. */
export interface LayoutLine {
  segments: Segment[];
}

/** A block: lines top to bottom. */
export interface LayoutBlock {
  lines: LayoutLine[];
}

/** Least width of a column gutter, in median line heights. */
export const COLUMN_GAP = 0.8;
/** Median segment length (line heights) for a side of a cut to count as prose. */
export const PROSE_WIDTH = 8;
/** Vertical gap (line heights) that starts a new block. */
export const PARAGRAPH_GAP = 0.9;

interface Item {
  seg: Segment;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Middle half-height band, used for horizontal gaps. */
  m0: number;
  m1: number;
  cy: number;
  h: number;
}

function median(values: number[]): number {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function toItem(seg: Segment): Item {
  const [x0, y0, x1, y1] = bounds(seg.quad);
  const h = y1 - y0;
  const cy = (y0 + y1) / 2;
  return { seg, x0, y0, x1, y1, m0: cy - h / 4, m1: cy + h / 4, cy, h };
}

/** Groups of items separated by horizontal gaps (middle bands do not overlap), top to bottom. */
function horizontalSlabs(items: Item[]): Item[][] {
  const sorted = [...items].sort((a, b) => a.m0 - b.m0);
  const slabs: Item[][] = [];
  let end = -Infinity;
  for (const it of sorted) {
    if (slabs.length && it.m0 <= end) {
      slabs[slabs.length - 1]!.push(it);
      end = Math.max(end, it.m1);
    } else {
      slabs.push([it]);
      end = it.m1;
    }
  }
  return slabs;
}

/**
 * The column cut of a group of items, if any: the widest vertical gap (in x, through all items)
 * of at least COLUMN_GAP × lineHeight with prose on both sides. Returns the x of the cut.
 */
function columnCut(items: readonly Item[], lineHeight: number): number | undefined {
  if (items.length < 2) return undefined;
  const sorted = [...items].sort((a, b) => a.x0 - b.x0);
  let best: number | undefined;
  let bestGap = COLUMN_GAP * lineHeight;
  let reach = sorted[0]!.x1;
  for (let i = 1; i < sorted.length; i++) {
    const it = sorted[i]!;
    const gap = it.x0 - reach;
    if (gap >= bestGap) {
      const left = sorted.slice(0, i);
      const right = sorted.slice(i);
      const min = PROSE_WIDTH * lineHeight;
      const prose = (side: Item[]) => median(side.map((s) => s.x1 - s.x0)) >= min;
      const wide = (side: Item[]) => Math.max(...side.map((s) => s.x1)) - Math.min(...side.map((s) => s.x0)) >= min;
      if ((prose(left) || prose(right)) && wide(left) && wide(right)) {
        best = reach + gap / 2;
        bestGap = gap;
      }
    }
    reach = Math.max(reach, it.x1);
  }
  return best;
}

/**
 * Top and bottom of the line `seed` at abscissa x: its top and bottom edges extended as straight
 * lines, so a skewed or slanted line in a photo keeps its band across the page; a box far from
 * horizontal (a vertical label) just gives its vertical extent.
 */
function bandAt(seed: Item, x: number): [number, number] {
  const [tl, tr, br, bl] = seed.seg.quad;
  const dx = tr[0] - tl[0];
  if (dx <= 0 || Math.abs(tr[1] - tl[1]) > 0.5 * dx) return [seed.y0, seed.y1];
  const top = tl[1] + ((x - tl[0]) * (tr[1] - tl[1])) / dx;
  const bottom = bl[1] + ((x - bl[0]) * (br[1] - bl[1])) / Math.max(1e-9, br[0] - bl[0]);
  return [top, bottom];
}

/**
 * Items of one slab without a column cut as lines, each left to right. Usually the slab is one
 * line; when skewed or warped lines bridge the gap between them, lines are seeded by the longest
 * items, and every other item joins the line whose band (bandAt, at the item's centre) covers at
 * least half of the item's or the band's height, the best covering one; otherwise it starts a line.
 */
function slabLines(items: Item[]): LayoutLine[] {
  const rows: { seed: Item; items: Item[] }[] = [];
  for (const it of [...items].sort((a, b) => b.x1 - b.x0 - (a.x1 - a.x0))) {
    let best: (typeof rows)[number] | undefined;
    let bestCover = 0.5;
    for (const row of rows) {
      const [top, bottom] = bandAt(row.seed, (it.x0 + it.x1) / 2);
      const cover = (Math.min(bottom, it.y1) - Math.max(top, it.y0)) / Math.max(1e-9, Math.min(bottom - top, it.h));
      if (cover >= bestCover) {
        best = row;
        bestCover = cover;
      }
    }
    if (best) best.items.push(it);
    else rows.push({ seed: it, items: [it] });
  }
  return rows
    .sort((a, b) => a.seed.cy - b.seed.cy)
    .map((row) => ({ segments: row.items.sort((a, b) => a.x0 - b.x0).map((r) => r.seg) }));
}

interface Run {
  lines: { line: LayoutLine; items: Item[] }[];
}

function orderRegion(items: Item[], lineHeight: number): Run[] {
  const slabs = horizontalSlabs(items);
  // Merge consecutive slabs that share a column cut.
  const merged: { items: Item[]; cut?: number }[] = [];
  for (const slab of slabs) {
    const last = merged[merged.length - 1];
    if (last) {
      const both = last.items.concat(slab);
      const cut = columnCut(both, lineHeight);
      if (cut !== undefined) {
        last.items = both;
        last.cut = cut;
        continue;
      }
    }
    const cut = columnCut(slab, lineHeight);
    merged.push({ items: slab, ...(cut !== undefined ? { cut } : {}) });
  }
  const runs: Run[] = [];
  let current: Run = { lines: [] };
  const flush = () => {
    if (current.lines.length) runs.push(current);
    current = { lines: [] };
  };
  for (const group of merged) {
    if (group.cut !== undefined) {
      const cut = group.cut;
      const left = group.items.filter((it) => it.x1 <= cut);
      const right = group.items.filter((it) => it.x1 > cut);
      if (left.length && right.length) {
        flush();
        runs.push(...orderRegion(left, lineHeight), ...orderRegion(right, lineHeight));
        continue;
      }
    }
    for (const line of slabLines(group.items)) {
      const lineItems = group.items.filter((it) => line.segments.includes(it.seg));
      current.lines.push({ line, items: lineItems });
    }
  }
  flush();
  return runs;
}

/**
 * Blocks of lines in reading order for the segments of an upright page.
 * @param segments recognised boxes (upright coordinates; any order).
 */
export function readingOrder(segments: readonly Segment[]): LayoutBlock[] {
  if (!segments.length) return [];
  const items = segments.map(toItem);
  // Line height: median glyph height of the boxes (the reading-frame height of each quad).
  const lineHeight = Math.max(1, median(segments.map((s) => Math.hypot(s.quad[3][0] - s.quad[0][0], s.quad[3][1] - s.quad[0][1]))));
  const blocks: LayoutBlock[] = [];
  for (const run of orderRegion(items, lineHeight)) {
    let block: LayoutBlock | undefined;
    let prev: { x0: number; x1: number; y1: number; h: number } | undefined;
    for (const { line, items: its } of run.lines) {
      const x0 = Math.min(...its.map((i) => i.x0));
      const x1 = Math.max(...its.map((i) => i.x1));
      const y0 = Math.min(...its.map((i) => i.y0));
      const y1 = Math.max(...its.map((i) => i.y1));
      const h = median(its.map((i) => i.h));
      const gap = prev ? y0 - prev.y1 : 0;
      const overlaps = prev ? Math.min(x1, prev.x1) - Math.max(x0, prev.x0) > 0 : true;
      if (!block || !prev || gap > PARAGRAPH_GAP * Math.min(h, prev.h) || !overlaps) {
        block = { lines: [] };
        blocks.push(block);
      }
      block.lines.push(line);
      prev = { x0, x1, y1, h };
    }
  }
  return blocks;
}
