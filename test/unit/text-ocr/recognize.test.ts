/**
 * Text-line recognition pieces: the character table, greedy CTC decoding, the crop into the
 * rec input (channel order, normalisation, reading direction) and batching.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { turnQuad, type Quad } from '../../../main/engine/text-ocr/geometry.js';
import {
  REC_BATCH,
  REC_BATCH_COLUMNS,
  REC_HEIGHT,
  REC_MAX_WIDTH,
  REC_MIN_WIDTH,
  SPACE_POSTERIOR,
  ctcGreedyDecode,
  loadDictionary,
  recWidth,
  recognizeLines,
  sampleLine,
  type RecRunner,
} from '../../../main/engine/text-ocr/recognize.js';

describe('loadDictionary', () => {
  test('one character per line, a space appended (use_space_char), CR and a final newline ignored', () => {
    assert.deepEqual(loadDictionary('a\r\nb\r\nc\r\n'), ['a', 'b', 'c', ' ']);
    assert.deepEqual(loadDictionary('x\ny'), ['x', 'y', ' ']);
  });
});

/** Probabilities [steps, classes] with `p` on the given class of each step and the rest spread evenly. */
function probs(classes: number, path: number[], p = 0.9): Float32Array {
  const out = new Float32Array(path.length * classes).fill((1 - p) / (classes - 1));
  path.forEach((c, t) => (out[t * classes + c] = p));
  return out;
}

describe('ctcGreedyDecode', () => {
  // Classes: 0 blank, 1 h, 2 e, 3 l, 4 o, 5 space.
  const chars = loadDictionary('h\ne\nl\no');
  test('repeats collapse, a blank between two equal classes keeps both, blanks are dropped', () => {
    const r = ctcGreedyDecode(probs(6, [1, 1, 0, 2, 3, 3, 0, 3, 4, 0]), 10, 6, chars);
    assert.equal(r.text, 'hello');
    assert.ok(Math.abs(r.confidence - 0.9) < 1e-6);
  });

  test('the space class (last) decodes to a space', () => {
    assert.equal(ctcGreedyDecode(probs(6, [1, 5, 1]), 3, 6, chars).text, 'h h');
  });

  test('confidence is the mean top probability of the kept steps only', () => {
    const p = probs(6, [1, 0, 2]);
    p[0 * 6 + 1] = 0.6; // 'h' at 0.6
    p[2 * 6 + 2] = 1.0; // 'e' at 1.0; the blank step does not count
    const r = ctcGreedyDecode(p, 3, 6, chars);
    assert.equal(r.text, 'he');
    assert.ok(Math.abs(r.confidence - 0.8) < 1e-6);
  });

  test('a space the blank outvoted is kept when the space class reached SPACE_POSTERIOR between two letters', () => {
    const withSpace = (pSpace: number) => {
      const p = probs(6, [1, 0, 2]);
      p[1 * 6 + 0] = 0.6; // blank still wins the middle step…
      p[1 * 6 + 5] = pSpace; // …with this much on the space
      return ctcGreedyDecode(p, 3, 6, chars);
    };
    assert.equal(withSpace(0.3).text, 'h e');
    assert.equal(withSpace(SPACE_POSTERIOR).text, 'h e');
    assert.equal(withSpace(0.05).text, 'he');
    assert.ok(Math.abs(withSpace(0.3).confidence - 0.9) < 1e-6, 'the added space does not count');
  });

  test('no space is added between two characters of a script written without spaces', () => {
    const cjk = loadDictionary('中\n文\na');
    const p = probs(5, [1, 0, 2, 0, 3]);
    p[1 * 5 + 4] = 0.3;
    p[3 * 5 + 4] = 0.3;
    assert.equal(ctcGreedyDecode(p, 5, 5, cjk).text, '中文 a');
  });

  test('all blank: empty text, confidence 0', () => {
    assert.deepEqual(ctcGreedyDecode(probs(6, [0, 0, 0]), 3, 6, chars), { text: '', confidence: 0 });
  });

  test('reads the item at `offset` of a batch', () => {
    const batch = new Float32Array([...probs(6, [1, 2]), ...probs(6, [4, 4])]);
    assert.equal(ctcGreedyDecode(batch, 2, 6, chars, 2 * 6).text, 'o');
  });
});

describe('recWidth', () => {
  test('keeps the aspect at height 48, rounded up, within [1, REC_MAX_WIDTH]', () => {
    assert.equal(recWidth(100, 48), 100);
    assert.equal(recWidth(100, 24), 200);
    assert.equal(recWidth(10, 30), 16);
    assert.equal(recWidth(1e6, 10), REC_MAX_WIDTH);
    assert.equal(recWidth(5, 0), 1);
  });
});

/** A W×H RGB image filled by `f(x, y) → [r, g, b]`. */
function image(width: number, height: number, f: (x: number, y: number) => [number, number, number]) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { data, width, height };
}

describe('sampleLine', () => {
  test('channels B, G, R, each (v / 255 - 0.5) / 0.5; columns past the line left as padding', () => {
    const img = image(40, 20, () => [255, 0, 51]);
    const destW = 64;
    const dest = new Float32Array(3 * REC_HEIGHT * destW);
    sampleLine(img, [[0, 0], [40, 0], [40, 20], [0, 20]], 32, dest, 0, destW);
    const plane = REC_HEIGHT * destW;
    const at = (c: number, row: number, col: number) => dest[c * plane + row * destW + col]!;
    assert.ok(Math.abs(at(0, 10, 5) - (51 / 127.5 - 1)) < 1e-5, 'B first');
    assert.ok(Math.abs(at(1, 10, 5) - -1) < 1e-5, 'G second');
    assert.ok(Math.abs(at(2, 10, 5) - 1) < 1e-5, 'R third');
    assert.equal(at(0, 10, 40), 0, 'padding untouched');
  });

  test('the quad is read in its reading direction: turned twice, the line comes out mirrored both ways', () => {
    // Red grows to the right, green grows downwards.
    const img = image(100, 20, (x, y) => [Math.round((x / 99) * 255), Math.round((y / 19) * 255), 0]);
    const quad: Quad = [[0, 0], [100, 0], [100, 20], [0, 20]];
    const w = 60;
    const up = new Float32Array(3 * REC_HEIGHT * w);
    const down = new Float32Array(3 * REC_HEIGHT * w);
    sampleLine(img, quad, w, up, 0, w);
    sampleLine(img, turnQuad(quad, 2), w, down, 0, w);
    const plane = REC_HEIGHT * w;
    const red = (d: Float32Array, row: number, col: number) => d[2 * plane + row * w + col]!;
    const green = (d: Float32Array, row: number, col: number) => d[plane + row * w + col]!;
    assert.ok(red(up, 24, 0) < red(up, 24, w - 1), 'upright: red grows along the line');
    assert.ok(red(down, 24, 0) > red(down, 24, w - 1), 'turned: red falls along the line');
    assert.ok(green(up, 2, 30) < green(up, 45, 30), 'upright: green grows downwards');
    assert.ok(green(down, 2, 30) > green(down, 45, 30), 'turned: green falls downwards');
  });
});

describe('recognizeLines', () => {
  test('batches by width within the line and column limits; results come back in input order', async () => {
    // Bands of grey 0, 60, 120, 180, 240; line i lies in band i % 5 and is (i + 1) × 30 px long.
    const img = image(2000, 50, (_x, y) => {
      const v = Math.min(4, Math.floor(y / 10)) * 60;
      return [v, v, v];
    });
    const quads: Quad[] = Array.from({ length: 23 }, (_, i) => {
      const y = (i % 5) * 10 + 3;
      const len = (i + 1) * 30 + (i > 20 ? 1500 : 0);
      return [
        [5, y],
        [5 + len, y],
        [5 + len, y + 4],
        [5, y + 4],
      ];
    });
    const chars = loadDictionary('0\n1\n2\n3\n4');
    const shapes: [number, number][] = [];
    // One time step per line whose class is the band the crop came from (read from its first pixel).
    const run: RecRunner = async (input, batch, width) => {
      shapes.push([batch, width]);
      const per = 3 * REC_HEIGHT * width;
      const classes = 7;
      const data = new Float32Array(batch * classes);
      for (let n = 0; n < batch; n++) {
        const grey = (input[n * per + 24 * width + 1]! + 1) * 127.5;
        data[n * classes + 1 + Math.round(grey / 60)] = 1;
      }
      return { data, steps: 1, classes };
    };
    const out = await recognizeLines(img, quads, run, chars);
    assert.deepEqual(
      out.map((r) => r.text),
      quads.map((_, i) => String(i % 5)),
    );
    for (const [batch, width] of shapes) {
      assert.ok(batch <= REC_BATCH);
      assert.ok(width >= REC_MIN_WIDTH && width % 8 === 0);
      assert.ok(batch === 1 || batch * width <= REC_BATCH_COLUMNS, `${batch} × ${width}`);
    }
    assert.equal(
      shapes.reduce((n, [b]) => n + b, 0),
      quads.length,
    );
    const widths = shapes.map(([, w]) => w);
    assert.deepEqual(widths, [...widths].sort((a, b) => a - b), 'batches go from narrow to wide');
  });
});
