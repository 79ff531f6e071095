/**
 * Reading order: columns read one after the other, tables and receipts row by row, headers and
 * footers in place, paragraphs split into blocks; the input order does not matter.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readingOrder, type Segment } from '../../../main/engine/text-ocr/layout.js';

/** An upright segment: text at (x, y) top-left, `w` wide, 20 px high (the line height of these pages). */
function seg(text: string, x: number, y: number, w: number, h = 20): Segment {
  return {
    text,
    confidence: 0.9,
    quad: [
      [x, y],
      [x + w, y],
      [x + w, y + h],
      [x, y + h],
    ],
  };
}

/** Blocks as arrays of line texts (segments joined by a space). */
function read(segments: Segment[]): string[][] {
  return readingOrder(segments).map((b) => b.lines.map((l) => l.segments.map((s) => s.text).join(' ')));
}

/** A deterministic shuffle (the detector's order is not the reading order). */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  let seed = 7;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Lines of a column: `n` lines from y, 26 px apart (tight leading, as on a printed page). */
function column(prefix: string, x: number, y: number, n: number, w = 400): Segment[] {
  return Array.from({ length: n }, (_, i) => seg(`${prefix}${i + 1}`, x, y + i * 26, w));
}

describe('readingOrder', () => {
  test('two columns whose lines line up are read column by column', () => {
    const page = [...column('L', 50, 100, 6), ...column('R', 500, 100, 6)];
    assert.deepEqual(read(shuffled(page)), [
      ['L1', 'L2', 'L3', 'L4', 'L5', 'L6'],
      ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'],
    ]);
  });

  test('a title across both columns comes first, a footer across both last', () => {
    const page = [seg('Title', 50, 20, 850), ...column('L', 50, 100, 4), ...column('R', 500, 113, 4), seg('Footer', 50, 300, 850)];
    assert.deepEqual(read(shuffled(page)), [['Title'], ['L1', 'L2', 'L3', 'L4'], ['R1', 'R2', 'R3', 'R4'], ['Footer']]);
  });

  test('a receipt (name, quantity, price per row) is read row by row', () => {
    const rows = [
      ['ICE BLACKCOFFE', '2', '82,000'],
      ['AVOCADO COFFEE', '1', '61,000'],
      ['CHIKEN KATSU FF', '1', '51,000'],
    ];
    const page = rows.flatMap(([name, qty, price], i) => [seg(name!, 40, 200 + i * 30, 150), seg(qty!, 300, 200 + i * 30, 10), seg(price!, 420, 200 + i * 30, 70)]);
    assert.deepEqual(read(shuffled(page)), [['ICE BLACKCOFFE 2 82,000', 'AVOCADO COFFEE 1 61,000', 'CHIKEN KATSU FF 1 51,000']]);
  });

  test('a table in the left column of a two-column page: its rows, then the right column', () => {
    const table = [
      ['Method', 'MAE'],
      ['AMDCN (without perspective', '16.6'],
      ['MCNN (with perspective', '11.6'],
    ].flatMap(([a, b], i) => [seg(a!, 50, 100 + i * 26, 300), seg(b!, 400, 100 + i * 26, 40)]);
    const page = [...table, ...column('R', 500, 100, 5)];
    assert.deepEqual(read(shuffled(page)), [['Method MAE', 'AMDCN (without perspective 16.6', 'MCNN (with perspective 11.6'], ['R1', 'R2', 'R3', 'R4', 'R5']]);
  });

  test('a blank line between paragraphs starts a new block', () => {
    const page = [...column('A', 50, 100, 3), ...column('B', 50, 100 + 3 * 26 + 30, 2)];
    assert.deepEqual(read(page), [
      ['A1', 'A2', 'A3'],
      ['B1', 'B2'],
    ]);
  });

  test('words of one line detected as separate boxes are joined left to right', () => {
    assert.deepEqual(read([seg('world', 140, 50, 60), seg('hello', 50, 52, 70)]), [['hello world']]);
  });

  test('lines of a skewed photo stay apart', () => {
    // Each line slopes down by 12 px over its length; neighbouring boxes overlap in y.
    const sloped = (text: string, y: number): Segment => ({
      text,
      confidence: 0.9,
      quad: [
        [50, y],
        [450, y + 12],
        [450, y + 32],
        [50, y + 20],
      ],
    });
    assert.deepEqual(read(shuffled([sloped('one', 100), sloped('two', 126), sloped('three', 152)])), [['one', 'two', 'three']]);
  });

  test('a slanted receipt: prices at the far end stay with their row, a stray mark joins one row only', () => {
    // Rows slope down 3 px per 100 px; the price box sits where its row has sunk to.
    const slanted = (text: string, x: number, y: number, w: number): Segment => ({
      text,
      confidence: 0.9,
      quad: [
        [x, y],
        [x + w, y + 0.03 * w],
        [x + w, y + 0.03 * w + 34],
        [x, y + 34],
      ],
    });
    const page = [
      slanted('ICE BLACKCOFFE', 100, 544, 280),
      seg('82,000', 620, 544 + 0.03 * 520, 100, 36),
      slanted('AVOCADO COFFEE', 100, 583, 280),
      seg('61,000', 620, 583 + 0.03 * 520, 100, 36),
      seg('w', 40, 560, 30, 60), // tall enough to bridge the two rows' middle bands
    ];
    const lines = read(shuffled(page)).flat();
    assert.equal(lines.length, 2, lines.join(' | '));
    assert.match(lines[0]!, /ICE BLACKCOFFE 82,000$/);
    assert.match(lines[1]!, /AVOCADO COFFEE 61,000$/);
  });

  test('no segments, no blocks', () => {
    assert.deepEqual(readingOrder([]), []);
  });
});
