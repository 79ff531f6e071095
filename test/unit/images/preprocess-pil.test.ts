/**
 * Engine decode + CLIP preprocessing vs. the PIL reference
 * (native-models/omnifusion/clip_preprocess_pil.py, i.e. what Hugging Face's
 * CLIPImageProcessor computes) on every real test image in ../shared/testdata/real.
 *
 * Needs Debian's /usr/bin/python3 with PIL and numpy (apt: python3-pil python3-numpy);
 * override the interpreter with OMNIFUSION_PIL_PYTHON.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeImage, type DecodedImage } from '../../../main/media/images/decode.js';
import { CLIP_VIT_L14_336, clipPreprocess, clipPreprocessBatch, clipResizeSize, type ClipPreprocessConfig } from '../../../main/engine/preprocess/clip.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const realDir = path.resolve(repoRoot, '../shared/testdata/real');
const refScript = path.join(repoRoot, 'native-models/omnifusion/clip_preprocess_pil.py');
const python = process.env.OMNIFUSION_PIL_PYTHON ?? '/usr/bin/python3';

/** One uint8 step after normalization is 1/255/std; the largest step uses the smallest std (G, 0.26130258). */
const LEVEL = 1 / 255 / Math.min(...CLIP_VIT_L14_336.image_std); // ≈ 0.01501

/*
 * Bounds for the pixel_values differences, engine vs. PIL, in normalized units.
 *
 * The engine's resampler is Pillow's BICUBIC reproduced bit-exactly and its normalize
 * step uses HF's float32 arithmetic, so equal decoded pixels give identical outputs
 * (measured: exactly 0 on 23 of the 29 non-CMYK images). What can still differ is
 * decoding, by at most 1 uint8 level on some pixels: embedded ICC profiles are converted
 * by two different lcms builds (libvips' and Debian's) with slightly different sRGB
 * profiles (measured: ≤ 1 level on ≤ 0.1 % of the pixels, on 6 of the 8 images that
 * carry an RGB profile, and nowhere else).
 *
 * MAX: a 1-level input difference goes through two bicubic passes, each with a kernel
 * whose absolute weights sum to ≤ ~1.25 (Keys a = -0.5 when enlarging) plus a
 * rounding to uint8: |Δ| ≤ 1·1.25 + 1 → 2 after the first pass, ≤ 2·1.25 + 1 → 3
 * after the second. 3 levels = 0.0450. Measured worst: 0.030 (2 levels).
 *
 * MEAN: the 1-level differences are sparse, so the mean stays tiny (measured worst
 * 2.3e-5). 2e-4 (= 1/75 of a level on average) leaves ~8× margin yet still catches real
 * bugs: shifting every image by one pixel gives 5e-4 on the near-blank im2latex pages
 * and 0.01–0.25 on all others; a missing ICC conversion gives ~0.18 on Landscape_6.
 */
const MAX_ABS_BOUND = 3 * LEVEL;
const MEAN_ABS_BOUND = 2e-4;
/** Decoded RGB may differ by the ICC rounding above: 1 level. */
const DECODE_MAX_LEVELS = 1;

/*
 * The CMYK JPEG (no embedded profile) differs by design: sharp converts through a CMYK
 * ICC profile (libvips' fallback, perceptual intent), PIL uses the naive formula
 * R = 255 − C − K. Tones differ (measured: mean 0.204, max 1.306 ≈ 87 levels, mean
 * colour (114.5, 116.9, 104.5) vs PIL (109.0, 132.1, 109.6), luma correlation 0.996).
 * What must hold is that it is not inverted or scrambled: luma correlation ≥ 0.95
 * (an inverted image gives ≈ −1), each channel mean within 20 levels of PIL's and closer
 * to PIL's than to the inverse's overall; pixel_values mean ≤ 0.3 (≈ 20 levels) and max ≤ 1.8
 * (≈ 120 levels; a full inversion reaches ~3.5).
 */
const CMYK_MEAN_BOUND = 0.3;
const CMYK_MAX_BOUND = 1.8;

interface RefEntry {
  input: string;
  file?: string;
  decoded_file?: string;
  shape?: number[];
  error?: string;
  resized?: [number, number];
  decoded?: { format: string; mode: string; frames: number; frame: number; orientation: number; width: number; height: number; mean_rgb: number[] };
}

function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listImages(p));
    else if (!name.endsWith('.md')) out.push(p);
  }
  return out;
}

function runReference(images: string[], outDir: string, extraArgs: string[] = []): RefEntry[] {
  const r = spawnSync(python, [refScript, '--out', outDir, '--dump-decoded', ...extraArgs, ...images], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${python}: ${r.error.message}`);
  assert.equal(r.status, 0, `reference failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(readFileSync(path.join(outDir, 'index.json'), 'utf8')) as { images: RefEntry[] }).images;
}

function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function absDiff(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; max: number } {
  assert.equal(a.length, b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

function meanRgb(img: { data: Uint8Array }): [number, number, number] {
  const s = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) s[i % 3]! += img.data[i]!;
  const n = img.data.length / 3;
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

function lumaCorrelation(a: Uint8Array, b: Uint8Array): number {
  const n = a.length / 3;
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < n; i++) {
    const x = a[3 * i]! + a[3 * i + 1]! + a[3 * i + 2]!;
    const y = b[3 * i]! + b[3 * i + 1]! + b[3 * i + 2]!;
    sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y;
  }
  const cov = sab / n - (sa / n) * (sb / n);
  return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}

const rel = (p: string) => path.relative(realDir, p);
const isCmyk = (p: string) => /CMYK/.test(path.basename(p));

describe('CLIP preprocessing: engine vs PIL reference on the real images', () => {
  let tmp: string;
  let images: string[];
  let ref: RefEntry[];
  const decoded = new Map<string, DecodedImage>();

  before(() => {
    const probe = spawnSync(python, ['-c', 'import PIL, numpy'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `${python} cannot import PIL and numpy, which the reference preprocessing needs: ` +
          `install python3-pil and python3-numpy (Debian), or set OMNIFUSION_PIL_PYTHON to an interpreter that has them`,
      );
    }
    images = listImages(realDir);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-pil-'));
    ref = runReference(images, tmp);
  });
  before(async () => {
    for (const file of images) decoded.set(file, await decodeImage(file));
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('every real image matches the PIL reference within the bounds', async () => {
    assert.ok(images.length >= 30, `expected the 30 real images, found ${images.length} under ${realDir}`);
    const rows: string[] = [];
    const failures: string[] = [];
    for (let i = 0; i < images.length; i++) {
      const file = images[i]!;
      const e = ref[i]!;
      assert.equal(e.error, undefined, `PIL could not decode ${rel(file)}: ${e.error}`);
      const img = decoded.get(file)!;
      const pv = await clipPreprocess(img, CLIP_VIT_L14_336);
      assert.equal(pv.length, 3 * 336 * 336);
      assert.deepEqual(e.shape, [3, 336, 336]);
      const refRgb = readFileSync(path.join(tmp, e.decoded_file!));
      assert.equal(img.width, e.decoded!.width, `${rel(file)} width`);
      assert.equal(img.height, e.decoded!.height, `${rel(file)} height`);
      assert.deepEqual(clipResizeSize(img.width, img.height, 336), e.resized, `${rel(file)} resize size`);
      const dec = absDiff(img.data, refRgb);
      const d = absDiff(pv, readF32(path.join(tmp, e.file!)));
      rows.push(
        `${rel(file).padEnd(78)} ${`${img.width}×${img.height}`.padStart(10)}  ${d.mean.toFixed(6).padStart(9)}  ${d.max.toFixed(4).padStart(7)}  ${String(dec.max).padStart(3)}`,
      );
      const [meanBound, maxBound] = isCmyk(file) ? [CMYK_MEAN_BOUND, CMYK_MAX_BOUND] : [MEAN_ABS_BOUND, MAX_ABS_BOUND];
      if (!(d.mean <= meanBound && d.max <= maxBound)) failures.push(`${rel(file)}: mean ${d.mean} (≤ ${meanBound}), max ${d.max} (≤ ${maxBound})`);
      if (!isCmyk(file) && dec.max > DECODE_MAX_LEVELS) failures.push(`${rel(file)}: decoded RGB differs by ${dec.max} levels`);
    }
    console.log(
      `\nfile${' '.repeat(75)}   decoded  mean|Δpv|  max|Δpv|  max|Δrgb|\n${rows.join('\n')}\n` +
        `bounds: mean ≤ ${MEAN_ABS_BOUND}, max ≤ ${MAX_ABS_BOUND.toFixed(4)} (3 levels); CMYK: mean ≤ ${CMYK_MEAN_BOUND}, max ≤ ${CMYK_MAX_BOUND}`,
    );
    assert.deepEqual(failures, []);
  });

  test('EXIF orientation 6 comes out landscape, like PIL exif_transpose', () => {
    const file = images.find((p) => p.endsWith('sharp-fixture_Landscape_6.jpg'))!;
    const img = decoded.get(file)!;
    const e = ref[images.indexOf(file)]!;
    assert.equal(img.source.orientation, 6);
    assert.deepEqual([img.source.width, img.source.height], [450, 600]); // stored portrait
    assert.deepEqual([img.width, img.height], [600, 450]);
    assert.deepEqual([e.decoded!.orientation, e.decoded!.width, e.decoded!.height], [6, 600, 450]);
    assert.deepEqual(e.resized, [448, 336]); // 336·600/450
  });

  test('CMYK JPEG is converted to RGB, not inverted', () => {
    const file = images.find(isCmyk)!;
    const img = decoded.get(file)!;
    const e = ref[images.indexOf(file)]!;
    assert.equal(img.source.space, 'cmyk');
    const ours = meanRgb(img);
    const pil = e.decoded!.mean_rgb;
    const refRgb = readFileSync(path.join(tmp, e.decoded_file!));
    const corr = lumaCorrelation(img.data, refRgb);
    console.log(`CMYK mean RGB engine ${ours.map((v) => v.toFixed(1))} vs PIL ${pil.map((v) => v.toFixed(1))}, luma correlation ${corr.toFixed(4)}`);
    assert.ok(corr >= 0.95, `luma correlation with PIL ${corr}`);
    let toPil = 0;
    let toInverse = 0;
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(ours[c]! - pil[c]!) <= 20, `channel ${c} mean ${ours[c]} vs PIL ${pil[c]}`);
      toPil += Math.abs(ours[c]! - pil[c]!);
      toInverse += Math.abs(ours[c]! - (255 - pil[c]!));
    }
    assert.ok(toPil < toInverse, `closer to the inverted colours (${toInverse}) than to PIL's (${toPil})`);
  });

  test('animated GIF gives one frame, the last', () => {
    const file = images.find((p) => p.endsWith('.gif'))!;
    const img = decoded.get(file)!;
    const e = ref[images.indexOf(file)]!;
    assert.equal(img.source.frames, 10);
    assert.equal(img.source.frame, 9);
    assert.deepEqual([img.width, img.height], [370, 285]); // one frame, not a 370×2850 strip
    assert.deepEqual([e.decoded!.frames, e.decoded!.frame], [10, 9]);
    // Identical to PIL's last frame (PIL composites GIF frames like libvips).
    assert.equal(absDiff(img.data, readFileSync(path.join(tmp, e.decoded_file!))).max, 0);
  });

  test('transparent im2latex page composites on white, not black', () => {
    const file = images.find((p) => p.endsWith('im2latex_de8a312222.png'))!;
    const img = decoded.get(file)!;
    assert.equal(img.source.hadAlpha, true);
    const m = meanRgb(img);
    assert.ok(m.every((v) => v > 250), `mean ${m}`);
  });

  test('12 MP photo preprocesses fast', async () => {
    const img = decoded.get(images.find((p) => p.endsWith('donut_sample_document_photo.png'))!)!;
    assert.deepEqual([img.width, img.height], [3024, 4032]);
    await clipPreprocess(img, CLIP_VIT_L14_336); // warm the JIT
    const t0 = performance.now();
    await clipPreprocess(img, CLIP_VIT_L14_336);
    const ms = performance.now() - t0;
    console.log(`12 MP (3024×4032) clipPreprocess: ${ms.toFixed(0)} ms`);
    // ~0.25 s measured on 2 cores; 2 s leaves room for a loaded CI runner.
    assert.ok(ms < 2000, `${ms} ms`);
  });

  test('batch packs [N,3,336,336] equal to single calls', async () => {
    const picks = images.filter((p) => /vegalite_bar|formula5|Landscape_6/.test(p)).map((p) => decoded.get(p)!);
    const batch = await clipPreprocessBatch(picks, CLIP_VIT_L14_336);
    assert.deepEqual(batch.dims, [3, 3, 336, 336]);
    const per = 3 * 336 * 336;
    for (let i = 0; i < picks.length; i++) {
      const single = await clipPreprocess(picks[i]!, CLIP_VIT_L14_336);
      assert.deepEqual(batch.pixel_values.subarray(i * per, (i + 1) * per), single);
    }
  });

  test('crop larger than the resized image: zero padding as HF center_crop', async () => {
    // shortest_edge 200 < crop 224×256: every image is padded on at least one axis.
    const cfg: ClipPreprocessConfig = { ...CLIP_VIT_L14_336, shortest_edge: 200, crop_size: { height: 224, width: 256 } };
    const picks = images.filter((p) => /formula5|vegalite_bar|crohme2014_509|Landscape_6/.test(p));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-pil-pad-'));
    try {
      const padRef = runReference(picks, dir, ['--shortest-edge', '200', '--crop-height', '224', '--crop-width', '256']);
      for (let i = 0; i < picks.length; i++) {
        const pv = await clipPreprocess(decoded.get(picks[i]!)!, cfg);
        assert.equal(pv.length, 3 * 224 * 256);
        const d = absDiff(pv, readF32(path.join(dir, padRef[i]!.file!)));
        assert.ok(d.mean <= MEAN_ABS_BOUND && d.max <= MAX_ABS_BOUND, `${rel(picks[i]!)}: mean ${d.mean} max ${d.max}`);
      }
      // 135×81 → 333×200: rows 12..211 hold the image (ceil((224−200)/2) = 12), rows 0..11 are uint8 0.
      const pv = await clipPreprocess(decoded.get(picks.find((p) => p.includes('formula5'))!)!, cfg);
      const pad0 = Math.fround(Math.fround(0 - Math.fround(0.48145466)) / Math.fround(0.26862954));
      assert.equal(pv[0], pad0);
      assert.equal(pv[11 * 256 + 100], pad0);
      assert.notEqual(pv[12 * 256 + 100], pad0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('synthetic 16-bit, 1-bit, alpha and noise PNGs match PIL exactly', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-pil-syn-'));
    try {
      const w = 64;
      const h = 48;
      const g16 = new Uint16Array(w * h).map((_, i) => (i * 1021) % 65536);
      const rgb16 = new Uint16Array(w * h * 3).map((_, i) => (i * 7919) % 65536);
      const rgba = Buffer.alloc(w * h * 4).map((_, i) => (i % 4 === 3 ? (i >> 2) % 256 : (i * 37) % 256));
      const bits = Buffer.alloc(w * h).map((_, i) => ((i % w) ^ Math.floor(i / w)) & 4 ? 255 : 0);
      const files = {
        grey16: path.join(dir, 'grey16.png'),
        rgb16: path.join(dir, 'rgb16.png'),
        rgba: path.join(dir, 'rgba.png'),
        onebit: path.join(dir, 'onebit.png'),
        // Noise is the harshest case for a resampler (every tap matters, overshoot clips).
        noise: path.join(dir, 'noise.png'), // 97×61: enlarged on both axes
        strip: path.join(dir, 'strip.png'), // 1000×20: enlarged to 16800×336, then cropped
        big: path.join(dir, 'big.png'), // 1500×1100: reduced by 3.27
      };
      await sharp(g16, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png().toFile(files.grey16);
      await sharp(rgb16, { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toFile(files.rgb16);
      await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toFile(files.rgba);
      await sharp(bits, { raw: { width: w, height: h, channels: 1 } }).png({ palette: true, colours: 2 }).toFile(files.onebit);
      let seed = 12345;
      const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 23) & 255;
      for (const [key, nw, nh] of [['noise', 97, 61], ['strip', 1000, 20], ['big', 1500, 1100]] as const) {
        const px = Buffer.alloc(nw * nh * 3).map(() => rand());
        await sharp(px, { raw: { width: nw, height: nh, channels: 3 } }).png().toFile(files[key]);
      }
      const list = Object.values(files);
      const out = path.join(dir, 'out');
      const r = runReference(list, out);
      for (let i = 0; i < list.length; i++) {
        const img = await decodeImage(list[i]!);
        const rgbRef = readFileSync(path.join(out, r[i]!.decoded_file!));
        assert.equal(absDiff(img.data, rgbRef).max, 0, `${path.basename(list[i]!)} decoded differs from PIL`);
        const d = absDiff(await clipPreprocess(img, CLIP_VIT_L14_336), readF32(path.join(out, r[i]!.file!)));
        assert.equal(d.max, 0, `${path.basename(list[i]!)} pixel_values differ from PIL`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
