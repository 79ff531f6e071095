/**
 * Windowed bicubic resize (resample.ts resizeBicubicPilWindow) and the CLIP preprocessing
 * built on it: computing only the center-crop part of the resized image must give exactly
 * the bytes of resizing everything and then cropping, and very thin images (whose full
 * resize would be 336×336,000,000) must preprocess in milliseconds.
 *
 * Oracles: (1) the full resize (resizeBicubicPil) then a crop; (2) a deliberately naive,
 * independent per-pixel evaluation of Pillow's two-pass formula (pointPil below), which
 * can evaluate any pixel of an arbitrarily large output, so it also checks the thin
 * images; (3) PIL itself (Image.resize(BICUBIC).crop) on a few thin-ish random images.
 *
 * The PIL part needs Debian's /usr/bin/python3 with PIL and numpy (apt: python3-pil
 * python3-numpy), like preprocess-pil.test.ts; override with OMNIFUSION_PIL_PYTHON.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { DecodedImage } from '../../../main/media/images/decode.js';
import { CLIP_VIT_L14_336, clipPreprocess, clipPreprocessBatch, clipResizeSize, type ClipPreprocessConfig } from '../../../main/engine/preprocess/clip.js';
import { MAX_RESAMPLE_BYTES, resizeBicubicPil, resizeBicubicPilWindow, type ResizeWindow } from '../../../main/engine/preprocess/resample.js';

const python = process.env.OMNIFUSION_PIL_PYTHON ?? '/usr/bin/python3';

/** Deterministic PRNG (LCG), so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randomRgb(w: number, h: number, rand: () => number): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (rand() * 256) | 0;
  return px;
}

function image(w: number, h: number, data: Uint8Array): DecodedImage {
  return { width: w, height: h, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) } as DecodedImage;
}

function crop(px: Uint8Array, w: number, win: ResizeWindow): Uint8Array {
  const out = new Uint8Array(win.width * win.height * 3);
  for (let y = 0; y < win.height; y++) {
    out.set(px.subarray(((win.top + y) * w + win.left) * 3, ((win.top + y) * w + win.left + win.width) * 3), y * win.width * 3);
  }
  return out;
}

/** Index of the first differing element, or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/*
 * Naive reference: Pillow's Resample.c written out per output pixel, sharing no code with
 * resample.ts. taps() is precompute_coeffs + normalize_coeffs_8bpc for one output index;
 * a pixel is the vertical combination of horizontally resampled, uint8-rounded source
 * rows, with a pass skipped when that dimension is unchanged (need_horizontal /
 * need_vertical in ImagingResampleInner).
 */
function taps(inSize: number, outSize: number, xx: number): { xmin: number; k: number[] } {
  const cubic = (x: number) => {
    const a = -0.5;
    x = Math.abs(x);
    return x < 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0;
  };
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const center = (xx + 0.5) * scale;
  const xmin = Math.max(0, Math.trunc(center - support + 0.5));
  const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
  const w: number[] = [];
  for (let x = 0; x < xmax; x++) w.push(cubic((x + xmin - center + 0.5) / filterscale));
  const sum = w.reduce((s, v) => s + v, 0);
  const k = w.map((v) => (sum !== 0 ? v / sum : v)).map((v) => (v < 0 ? Math.trunc(-0.5 + v * 2 ** 22) : Math.trunc(0.5 + v * 2 ** 22)));
  return { xmin, k };
}
const clamp8 = (ss: number) => Math.min(255, Math.max(0, Math.floor(ss / 2 ** 22)));

/** Pixels of `win` of the inW×inH → outW×outH Pillow BICUBIC resize, one by one. */
function pointPil(src: Uint8Array, inW: number, inH: number, outW: number, outH: number, win: ResizeWindow): Uint8Array {
  const out = new Uint8Array(win.width * win.height * 3);
  const hTaps = new Map<number, ReturnType<typeof taps>>();
  const horiz = (x: number, row: number, c: number): number => {
    if (outW === inW) return src[(row * inW + x) * 3 + c]!;
    let t = hTaps.get(x);
    if (!t) hTaps.set(x, (t = taps(inW, outW, x)));
    let ss = 2 ** 21;
    t.k.forEach((k, i) => (ss += src[(row * inW + t!.xmin + i) * 3 + c]! * k));
    return clamp8(ss);
  };
  for (let y = 0; y < win.height; y++) {
    const yy = win.top + y;
    const v = outH === inH ? undefined : taps(inH, outH, yy);
    for (let x = 0; x < win.width; x++) {
      for (let c = 0; c < 3; c++) {
        let value: number;
        if (!v) value = horiz(win.left + x, yy, c);
        else {
          let ss = 2 ** 21;
          v.k.forEach((k, j) => (ss += horiz(win.left + x, v.xmin + j, c) * k));
          value = clamp8(ss);
        }
        out[(y * win.width + x) * 3 + c] = value;
      }
    }
  }
  return out;
}

/** HF CLIPImageProcessor on an already resized uint8 image: center crop / zero-pad, rescale, normalize. */
function cropPadNormalize(px: Uint8Array, w: number, h: number, cfg: ClipPreprocessConfig): Float32Array {
  const f = Math.fround;
  const { height: ch, width: cw } = cfg.crop_size;
  const out = new Float32Array(3 * ch * cw);
  const top = Math.floor((h - ch) / 2);
  const left = Math.floor((w - cw) / 2);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const sy = top + y;
        const sx = left + x;
        const u = sy >= 0 && sy < h && sx >= 0 && sx < w ? px[(sy * w + sx) * 3 + c]! : 0;
        out[c * ch * cw + y * cw + x] = f(f(f(u * cfg.rescale_factor) - f(cfg.image_mean[c]!)) / f(cfg.image_std[c]!));
      }
    }
  }
  return out;
}

describe('windowed Pillow bicubic resize', () => {
  test('the pointwise reference reproduces resizeBicubicPil on small images (sanity of the oracle)', () => {
    const rand = rng(7);
    for (const [iw, ih, ow, oh] of [[5, 4, 13, 9], [40, 30, 7, 11], [9, 9, 9, 20], [17, 6, 4, 6], [1, 3, 6, 8], [30, 1, 5, 1]] as const) {
      const src = randomRgb(iw, ih, rand);
      const full = resizeBicubicPil(src, iw, ih, ow, oh);
      assert.equal(firstDiff(full, pointPil(src, iw, ih, ow, oh, { left: 0, top: 0, width: ow, height: oh })), -1, `${iw}x${ih} -> ${ow}x${oh}`);
    }
  });

  test('any window equals the full resize cropped (random images, up/down/unchanged axes)', () => {
    const rand = rng(12345);
    const sizes: Array<[number, number, number, number]> = [
      [97, 61, 211, 133], // enlarge both
      [640, 480, 91, 67], // reduce both (~7×)
      [300, 40, 41, 170], // reduce x, enlarge y
      [13, 257, 120, 50], // enlarge x, reduce y
      [50, 70, 50, 140], // vertical pass only
      [50, 70, 23, 70], // horizontal pass only
      [33, 44, 33, 44], // no pass (copy)
      [1, 200, 37, 900], // 1-px wide
      [300, 1, 600, 29], // 1-px tall
      [2, 2, 1, 1],
      [1000, 3, 7, 3],
    ];
    for (const [iw, ih, ow, oh] of sizes) {
      const src = randomRgb(iw, ih, rand);
      const full = resizeBicubicPil(src, iw, ih, ow, oh);
      const wins: ResizeWindow[] = [
        { left: 0, top: 0, width: ow, height: oh },
        { left: 0, top: 0, width: 1, height: 1 },
        { left: ow - 1, top: oh - 1, width: 1, height: 1 },
      ];
      for (let i = 0; i < 12; i++) {
        const left = Math.floor(rand() * ow);
        const top = Math.floor(rand() * oh);
        wins.push({ left, top, width: 1 + Math.floor(rand() * (ow - left)), height: 1 + Math.floor(rand() * (oh - top)) });
      }
      for (const win of wins) {
        const got = resizeBicubicPilWindow(src, iw, ih, ow, oh, win);
        const i = firstDiff(got, crop(full, ow, win));
        assert.equal(i, -1, `${iw}x${ih} -> ${ow}x${oh}, window ${JSON.stringify(win)}: first difference at byte ${i}`);
      }
    }
  });

  test('a window of a huge output is the pointwise reference there', () => {
    const rand = rng(99);
    // Full outputs of 336×336,000,000 and 33,600,000×336: impossible to compute whole.
    for (const [iw, ih, ow, oh] of [[1, 1_000_000, 336, 336_000_000], [100_000, 1, 33_600_000, 336], [3, 200_000, 336, 22_400_000]] as const) {
      const src = randomRgb(iw, ih, rand);
      for (const win of [
        { left: Math.floor((ow - 64) / 2), top: Math.floor((oh - 48) / 2), width: 64, height: 48 },
        { left: 0, top: 0, width: 16, height: 16 },
        { left: ow - 16, top: oh - 16, width: 16, height: 16 },
      ]) {
        const got = resizeBicubicPilWindow(src, iw, ih, ow, oh, win);
        assert.equal(firstDiff(got, pointPil(src, iw, ih, ow, oh, win)), -1, `${iw}x${ih} -> ${ow}x${oh} ${JSON.stringify(win)}`);
      }
    }
  });

  test('guards: bad windows and oversized buffers are RangeErrors, not huge allocations', () => {
    const src = new Uint8Array(4 * 3 * 3);
    assert.throws(() => resizeBicubicPilWindow(src, 4, 3, 8, 6, { left: 4, top: 0, width: 5, height: 1 }), RangeError);
    assert.throws(() => resizeBicubicPilWindow(src, 4, 3, 8, 6, { left: 0, top: 0, width: 0, height: 1 }), RangeError);
    assert.throws(() => resizeBicubicPilWindow(src, 4, 3, 8, 6, { left: -1, top: 0, width: 1, height: 1 }), RangeError);
    assert.throws(() => resizeBicubicPilWindow(src, 4, 3, 8, 6, { left: 0.5, top: 0, width: 1, height: 1 }), RangeError);
    // The whole 336×336,000,000 enlargement of a 1×1,000,000 strip: refused up front.
    const strip = new Uint8Array(1_000_000 * 3);
    const t0 = performance.now();
    assert.throws(() => resizeBicubicPil(strip, 1, 1_000_000, 336, 336_000_000), (e: unknown) => e instanceof RangeError && /limit/.test(e.message));
    assert.ok(performance.now() - t0 < 100);
    assert.ok(336 * 336_000_000 * 3 > MAX_RESAMPLE_BYTES);
  });
});

describe('CLIP preprocessing computes only the crop', () => {
  test('equals full resize, then center crop / pad, then normalize (random images and configs)', async () => {
    const rand = rng(2024);
    const cfgs: ClipPreprocessConfig[] = [
      CLIP_VIT_L14_336,
      { ...CLIP_VIT_L14_336, shortest_edge: 64, crop_size: { height: 64, width: 64 } },
      { ...CLIP_VIT_L14_336, shortest_edge: 40, crop_size: { height: 56, width: 48 } }, // crop larger than the short side: padding
      { ...CLIP_VIT_L14_336, shortest_edge: 50, crop_size: { height: 30, width: 400 } }, // wider than most resized images
      { ...CLIP_VIT_L14_336, shortest_edge: 33, crop_size: { height: 17, width: 16 } }, // odd/even offsets
    ];
    const sizes: Array<[number, number]> = [[1, 1], [1, 50], [50, 1], [2, 300], [300, 3], [7, 5], [64, 64], [63, 65], [100, 37], [37, 100], [336, 336], [500, 200], [200, 500], [1000, 750], [81, 135]];
    for (let i = 0; i < 6; i++) sizes.push([1 + Math.floor(rand() * 400), 1 + Math.floor(rand() * 400)]);
    for (const [iw, ih] of sizes) {
      const data = randomRgb(iw, ih, rand);
      for (const cfg of cfgs) {
        const [w, h] = clipResizeSize(iw, ih, cfg.shortest_edge);
        if (w * h > 4_000_000) continue; // keep the full-resize oracle cheap
        const expected = cropPadNormalize(resizeBicubicPil(data, iw, ih, w, h), w, h, cfg);
        const got = await clipPreprocess(image(iw, ih, data), cfg);
        const at = firstDiff(got, expected);
        assert.equal(at, -1, `${iw}x${ih} (resized ${w}x${h}), shortest_edge ${cfg.shortest_edge}, crop ${cfg.crop_size.width}x${cfg.crop_size.height}: differs at ${at}`);
      }
    }
  });

  test('thin images (1×1,000,000, 1,000,000×1, 3×200,000) preprocess in milliseconds, with the right shape and values', async () => {
    const rand = rng(31337);
    const cases: Array<[number, number]> = [[1, 1_000_000], [1_000_000, 1], [3, 200_000], [200_000, 3]];
    const imgs = cases.map(([w, h]) => image(w, h, randomRgb(w, h, rand)));
    await clipPreprocess(imgs[2]!, CLIP_VIT_L14_336); // warm the JIT
    for (const img of imgs) {
      const [w, h] = clipResizeSize(img.width, img.height, 336);
      const t0 = performance.now();
      const pv = await clipPreprocess(img, CLIP_VIT_L14_336);
      const ms = performance.now() - t0;
      console.log(`${img.width}×${img.height} (resized ${w}×${h}) clipPreprocess: ${ms.toFixed(1)} ms`);
      assert.equal(pv.length, 3 * 336 * 336);
      // Milliseconds measured (2 cores); the full resize took seconds to minutes or crashed.
      assert.ok(ms < 500, `${img.width}×${img.height}: ${ms} ms`);
      // Values: the pointwise Pillow reference at the center crop.
      const win = { left: Math.floor((w - 336) / 2), top: Math.floor((h - 336) / 2), width: 336, height: 336 };
      const expected = cropPadNormalize(pointPil(img.data, img.width, img.height, w, h, win), 336, 336, CLIP_VIT_L14_336);
      assert.equal(firstDiff(pv, expected), -1, `${img.width}×${img.height} values`);
    }
    // A 1-px-wide strip enlarges to identical columns; a 1-px-tall one to identical rows.
    const col = await clipPreprocess(imgs[0]!, CLIP_VIT_L14_336);
    const row = await clipPreprocess(imgs[1]!, CLIP_VIT_L14_336);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 336; y += 37) for (let x = 1; x < 336; x++) assert.equal(col[c * 336 * 336 + y * 336 + x], col[c * 336 * 336 + y * 336]);
      for (let x = 0; x < 336; x += 37) for (let y = 1; y < 336; y++) assert.equal(row[c * 336 * 336 + y * 336 + x], row[c * 336 * 336 + x]);
    }
    const batch = await clipPreprocessBatch(imgs, CLIP_VIT_L14_336);
    assert.deepEqual(batch.dims, [4, 3, 336, 336]);
    assert.equal(firstDiff(batch.pixel_values.subarray(0, 3 * 336 * 336), col), -1);
  });

  test('thin-ish random images match PIL resize + crop exactly', () => {
    const probe = spawnSync(python, ['-c', 'import PIL, numpy'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(`${python} cannot import PIL and numpy: install python3-pil and python3-numpy (Debian), or set OMNIFUSION_PIL_PYTHON`);
    }
    const rand = rng(4242);
    // Full PIL resizes stay ≤ ~25 MP: 2×400 → 336×67200, 600×3 → 67200×336, ...
    const cases: Array<[number, number]> = [[2, 400], [400, 2], [1, 300], [600, 3], [5, 900], [17, 2000], [1500, 1100]];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-window-'));
    try {
      const jobs = cases.map(([iw, ih], i) => {
        const [w, h] = clipResizeSize(iw, ih, 336);
        const win = { left: Math.floor((w - 336) / 2), top: Math.floor((h - 336) / 2), width: 336, height: 336 };
        const src = randomRgb(iw, ih, rand);
        writeFileSync(path.join(dir, `${i}.in`), src);
        return { iw, ih, w, h, win, src, file: path.join(dir, `${i}`) };
      });
      const script = [
        'import json, sys',
        'from PIL import Image',
        'for j in json.load(sys.stdin):',
        '    im = Image.frombytes("RGB", (j["iw"], j["ih"]), open(j["file"] + ".in", "rb").read())',
        '    r = im.resize((j["w"], j["h"]), Image.BICUBIC)',
        '    b = j["win"]',
        '    open(j["file"] + ".out", "wb").write(r.crop((b["left"], b["top"], b["left"] + b["width"], b["top"] + b["height"])).tobytes())',
      ].join('\n');
      const r = spawnSync(python, ['-c', script], { input: JSON.stringify(jobs.map(({ src: _src, ...j }) => j)), encoding: 'utf8' });
      assert.equal(r.status, 0, `PIL failed: ${r.stderr}`);
      for (const j of jobs) {
        const got = resizeBicubicPilWindow(j.src, j.iw, j.ih, j.w, j.h, j.win);
        const at = firstDiff(got, readFileSync(`${j.file}.out`));
        assert.equal(at, -1, `${j.iw}x${j.ih} -> ${j.w}x${j.h}: differs from PIL at byte ${at}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
