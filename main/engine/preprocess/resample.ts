/**
 * PIL-compatible bicubic resampling (Pillow's `Image.resize(size, Image.BICUBIC)`,
 * libImaging/Resample.c), reproduced to the bit for 8-bit RGB.
 *
 * Why not sharp: Hugging Face image processors resize with PIL, so the vision
 * encoders were trained on PIL's output. libvips differs in ways that matter to a
 * model: it box-shrinks by an integer factor before the cubic when reducing by more
 * than 2× (vips_resize's `gap`, not exposed by sharp), and it enlarges with an
 * interpolator instead of the convolution, so small formula crops that CLIP has to
 * enlarge came out up to ~170 levels off at glyph edges (measured on the real test
 * images). This code runs in ~0.1–0.3 s for a 12 MP photo.
 *
 * Algorithm (Pillow ≥ 4, unchanged since): separable, horizontal pass first over only
 * the rows the vertical pass needs, intermediate rounded to uint8; Keys cubic with
 * a = -0.5, support 2 scaled by the reduction factor (antialiasing); per-output
 * coefficients normalised to sum 1, then to 22-bit fixed point; round half up; clamp.
 *
 * Every output column's (row's) taps depend only on its own index, the scale and the
 * support, so a rectangle of the output can be computed on its own, bit-identical to the
 * same rectangle of the full resize (resizeBicubicPilWindow). CLIP preprocessing uses this
 * to compute only the center crop: a very thin image (1×1,000,000 → 336×336,000,000)
 * costs no more than its 336×336 window.
 */

/** Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2. */
const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/** Keys cubic convolution kernel, a = -0.5 (Pillow's bicubic_filter). */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pillow's sinc_filter. */
function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

/** Pillow's lanczos_filter: sinc windowed by sinc over [-3, 3). */
function lanczos(x: number): number {
  if (-3 <= x && x < 3) return sinc(x) * sinc(x / 3);
  return 0;
}

/** Pillow's bilinear_filter (triangle). */
function bilinear(x: number): number {
  if (x < 0) x = -x;
  if (x < 1) return 1 - x;
  return 0;
}

/** Resampling filters of Pillow's Resample.c that this module reproduces. */
export type PilFilter = 'bicubic' | 'lanczos' | 'bilinear';

/** Kernel and support (in input pixels at scale 1) per filter, as Pillow's `struct filter`. */
const FILTERS: Record<PilFilter, { fn: (x: number) => number; support: number }> = {
  bicubic: { fn: bicubic, support: 2 },
  lanczos: { fn: lanczos, support: 3 },
  bilinear: { fn: bilinear, support: 1 },
};

/** Pillow's Image.Resampling numbers (HF configs' `resample`) → filter; undefined for NEAREST/BOX/HAMMING. */
export function pilFilterOf(resample: number): PilFilter | undefined {
  return ({ 1: 'lanczos', 2: 'bilinear', 3: 'bicubic' } as Record<number, PilFilter>)[resample];
}

interface Coeffs {
  /** Taps per output sample (stride of `kk`). */
  ksize: number;
  /** Per output sample of the computed range: first input index, number of taps. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output sample of the computed range. */
  kk: Int32Array;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for box [0, inSize), for the
 * output samples first ≤ xx < last only (local index xx − first). Each sample's taps
 * depend only on xx, the scale and the support, so any sub-range gives exactly the
 * entries the full table would have there.
 */
function precomputeCoeffs(inSize: number, outSize: number, first: number, last: number, filter: PilFilter = 'bicubic'): Coeffs {
  const { fn, support: filterSupport } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filterSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const n = last - first;
  const bounds = new Int32Array(n * 2);
  const kk = new Int32Array(n * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let i = 0; i < n; i++) {
    const center = (first + i + 0.5) * scale;
    // C's (int) truncates toward zero; clamped right after, so trunc == Pillow.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    const base = i * ksize;
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x]! / ww : w[x]!;
      kk[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Upper bound, in bytes, on any pixel buffer the resampler allocates (output window or
 * intermediate rows). Independent of the windowing: a full resize of a 100 MP decode is
 * 300 MB and fits; a request that would need more (e.g. the whole 336×336,000,000
 * enlargement of a 1×1,000,000 strip) fails fast with a RangeError instead of
 * allocating gigabytes or dying in the typed-array constructor.
 */
export const MAX_RESAMPLE_BYTES = 512 * 1024 * 1024;

function checkAlloc(what: string, bytes: number, inW: number, inH: number, outW: number, outH: number): void {
  if (bytes > MAX_RESAMPLE_BYTES) {
    throw new RangeError(
      `resizeBicubicPil: ${inW}x${inH} -> ${outW}x${outH} needs a ${what} of ${bytes} bytes, over the ${MAX_RESAMPLE_BYTES}-byte limit`,
    );
  }
}

/** A rectangle of the resized image, in output pixels. */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The `win` rectangle of Pillow's BICUBIC resize of 8-bit RGB (HWC) from inW×inH to
 * outW×outH, bit-identical to resizing everything and then cropping — but computing only
 * that rectangle: the horizontal pass runs for the window's columns over just the input
 * rows the window's output rows read, the vertical pass for the window's rows. Cost is
 * O(window · taps), independent of outW·outH (a 1×1,000,000 strip enlarged to
 * 336×336,000,000 costs as much as its 336×336 center).
 *
 * Same pass structure as Pillow's ImagingResampleInner: horizontal first (when the width
 * changes) over the rows the vertical pass needs, intermediate rounded to uint8; vertical
 * second (when the height changes); neither pass → a copy.
 *
 * @param src RGB 8-bit pixels, length inW*inH*3.
 * @param win integer rectangle inside [0, outW)×[0, outH), non-empty.
 * @returns RGB 8-bit pixels of the window, length win.width*win.height*3 (always a new buffer).
 * @throws RangeError for non-positive/non-integer sizes, a wrong buffer length, a window
 *   outside the output, or a buffer over MAX_RESAMPLE_BYTES.
 */
export function resizeBicubicPilWindow(src: Uint8Array, inW: number, inH: number, outW: number, outH: number, win: ResizeWindow): Uint8Array {
  return resizePilWindow(src, inW, inH, outW, outH, win, 'bicubic');
}

/**
 * resizeBicubicPilWindow with any of Pillow's convolution filters (`lanczos` = Image.LANCZOS, the
 * Idefics3 processor's; `bilinear`): same passes, same fixed-point rounding, only the kernel and its
 * support (2 bicubic, 3 lanczos, 1 bilinear) change, as in Pillow's Resample.c.
 */
export function resizePilWindow(src: Uint8Array, inW: number, inH: number, outW: number, outH: number, win: ResizeWindow, filter: PilFilter): Uint8Array {
  if (!(inW > 0 && inH > 0 && outW > 0 && outH > 0) || ![inW, inH, outW, outH].every(Number.isSafeInteger)) {
    throw new RangeError(`resizeBicubicPil: bad sizes ${inW}x${inH} -> ${outW}x${outH}`);
  }
  if (src.length !== inW * inH * 3) throw new RangeError(`resizeBicubicPil: expected ${inW * inH * 3} bytes, got ${src.length}`);
  const { left: x0, top: y0, width: ww, height: wh } = win;
  if (![x0, y0, ww, wh].every(Number.isSafeInteger) || x0 < 0 || y0 < 0 || ww <= 0 || wh <= 0 || x0 + ww > outW || y0 + wh > outH) {
    throw new RangeError(`resizeBicubicPil: window ${ww}x${wh}+${x0}+${y0} is not inside ${outW}x${outH}`);
  }
  const x1 = x0 + ww;
  const y1 = y0 + wh;
  const rowLen = ww * 3;
  checkAlloc('output', rowLen * wh, inW, inH, outW, outH);
  const needH = outW !== inW;
  const needV = outH !== inH;

  if (!needH && !needV) {
    const out = new Uint8Array(rowLen * wh);
    for (let y = 0; y < wh; y++) out.set(src.subarray(((y0 + y) * inW + x0) * 3, ((y0 + y) * inW + x1) * 3), y * rowLen);
    return out;
  }

  const vert = needV ? precomputeCoeffs(inH, outH, y0, y1, filter) : undefined;
  // Input rows the vertical pass reads (bounds are monotone in the output index), or
  // the window's own rows when there is no vertical pass.
  const yFirst = vert ? vert.bounds[0]! : y0;
  const yLast = vert ? vert.bounds[wh * 2 - 2]! + vert.bounds[wh * 2 - 1]! : y1;

  let tmp: Uint8Array;
  let tmpRowLen: number; // bytes per row of `tmp`
  let yOffset: number; // input row that is row 0 of `tmp`
  let xOffset: number; // byte offset of the window's first column within a `tmp` row
  if (needH) {
    const rows = yLast - yFirst;
    checkAlloc('intermediate', rowLen * rows, inW, inH, outW, outH);
    const { ksize, bounds, kk } = precomputeCoeffs(inW, outW, x0, x1, filter);
    tmp = new Uint8Array(rowLen * rows);
    for (let yy = 0; yy < rows; yy++) {
      const rowIn = (yy + yFirst) * inW * 3;
      let o = yy * rowLen;
      for (let xx = 0; xx < ww; xx++) {
        const xmin = bounds[xx * 2]!;
        const n = bounds[xx * 2 + 1]!;
        const kb = xx * ksize;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowIn + xmin * 3;
        for (let x = 0; x < n; x++, p += 3) {
          const k = kk[kb + x]!;
          s0 += src[p]! * k;
          s1 += src[p + 1]! * k;
          s2 += src[p + 2]! * k;
        }
        tmp[o++] = clip8(s0);
        tmp[o++] = clip8(s1);
        tmp[o++] = clip8(s2);
      }
    }
    // Horizontal pass only: its rows are exactly the window's.
    if (!vert) return tmp;
    tmpRowLen = rowLen;
    yOffset = yFirst;
    xOffset = 0;
  } else {
    // Vertical pass only: read the window's columns straight from the source.
    tmp = src;
    tmpRowLen = inW * 3;
    yOffset = 0;
    xOffset = x0 * 3;
  }

  const out = new Uint8Array(rowLen * wh);
  const acc = new Float64Array(rowLen); // exact: integer sums stay far below 2^53
  const { ksize, bounds, kk } = vert!;
  for (let yy = 0; yy < wh; yy++) {
    const ymin = bounds[yy * 2]! - yOffset;
    const n = bounds[yy * 2 + 1]!;
    const kb = yy * ksize;
    acc.fill(HALF);
    // Row-major accumulation (tap outer, pixels inner) for cache locality; same sums as Pillow.
    for (let y = 0; y < n; y++) {
      const k = kk[kb + y]!;
      if (k === 0) continue;
      const base = (ymin + y) * tmpRowLen + xOffset;
      for (let i = 0; i < rowLen; i++) acc[i]! += tmp[base + i]! * k;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = clip8(acc[i]!);
  }
  return out;
}

/**
 * Resize 8-bit RGB (HWC, 3 channels) with Pillow's BICUBIC, bit-exact (the whole image;
 * resizeBicubicPilWindow computes only a part of it).
 * @param src RGB 8-bit pixels, length inW*inH*3.
 * @returns RGB 8-bit pixels, length outW*outH*3 (a copy even when sizes match, as PIL).
 * @throws RangeError for non-positive sizes, a wrong buffer length, or an output over MAX_RESAMPLE_BYTES.
 */
export function resizeBicubicPil(src: Uint8Array, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  return resizeBicubicPilWindow(src, inW, inH, outW, outH, { left: 0, top: 0, width: outW, height: outH });
}

/** Resize 8-bit RGB (HWC) with one of Pillow's filters, bit-exact (whole image). */
export function resizePil(src: Uint8Array, inW: number, inH: number, outW: number, outH: number, filter: PilFilter): Uint8Array {
  return resizePilWindow(src, inW, inH, outW, outH, { left: 0, top: 0, width: outW, height: outH }, filter);
}
