/**
 * Image decoding for every way an image enters the app (attachments, paste, capture,
 * CLI, HTTP API): one RGB 8-bit raster with the user-visible orientation and colours,
 * or an ImageInputError whose one-line message says what is wrong with the file.
 *
 * Pure Node (sharp/libvips); never imports electron.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { ImageInputError } from './errors.js';
import { DECODABLE_FORMATS, FORMAT_NAMES, formatFromName, sniff, type SniffedFormat } from './sniff.js';

/**
 * Default pixel-count limit for one frame: 100 megapixels. A 12 MP phone photo and a
 * 600-dpi A4 scan (~35 MP) pass; a decompression bomb (e.g. a 30000×30000 PNG of a few
 * hundred bytes, 2.7 GB as RGB) is refused from its header before any pixel is decoded.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * Default file-size limit: 200 MiB. Covers an uncompressed 8-bit RGB TIFF of ~70 MP;
 * bounds how much a single attachment can make us read into memory.
 */
export const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;

/** Options for decodeImage. */
export interface DecodeOptions {
  /** Largest accepted frame, width × height in pixels; 0 or Infinity disables. Default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Largest accepted file, in bytes; 0 or Infinity disables. Default DEFAULT_MAX_BYTES. */
  maxBytes?: number;
  /** Name used in error messages when the input is a Buffer (a path uses its basename). Default 'image'. */
  name?: string;
}

/** What the file was before normalisation (for attachments metadata and diagnostics). */
export interface ImageSourceInfo {
  /** Decoder that read it: 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif' | 'svg' … (sharp's name). */
  format: string;
  /** Stored width in pixels, before EXIF orientation (one frame). */
  width: number;
  /** Stored height in pixels, before EXIF orientation (one frame). */
  height: number;
  /** Number of frames/pages in the file (1 for still images). */
  frames: number;
  /** Zero-based index of the frame that was decoded (see decodeImage for the rule). */
  frame: number;
  /** The decoder saw an alpha channel (PNG/WebP alpha, palette transparency; libvips loads every GIF as RGBA); composited on white. */
  hadAlpha: boolean;
  /** EXIF orientation 1–8 as stored (1 when absent); already applied to `data`. */
  orientation: number;
  /** Colour space as stored, sharp's name: 'srgb' | 'b-w' | 'cmyk' | 'rgb16' | 'grey16' … */
  space: string;
  /** Sample depth as stored, sharp's name: 'uchar' (8-bit) | 'ushort' (16-bit) … */
  depth: string;
  /** Size of the encoded file in bytes. */
  bytes: number;
}

/**
 * A decoded image: 8-bit sRGB, 3 channels, interleaved, rows top to bottom
 * (HWC, `data.length === width * height * 3`), EXIF orientation applied.
 */
export interface DecodedImage {
  /** RGB 8-bit pixels, HWC, length width*height*3. */
  data: Buffer;
  /** Width in pixels, after orientation. */
  width: number;
  /** Height in pixels, after orientation. */
  height: number;
  source: ImageSourceInfo;
}

// Formats whose extra frames are an animation (the last frame is the finished
// picture) rather than separate pages of a document (the first page is the cover/page 1).
const ANIMATED_FORMATS = new Set(['gif', 'webp']);

function limitOrInfinity(v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  return v > 0 && Number.isFinite(v) ? v : Infinity;
}

function formatMegapixels(px: number): string {
  const mp = px / 1e6;
  return Number.isInteger(mp) ? `${mp}` : mp.toFixed(1);
}

function formatBytes(bytes: number): string {
  const unit = (v: number, u: string) => `${v >= 10 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${u}`;
  if (bytes >= 1024 * 1024) return unit(bytes / (1024 * 1024), 'MiB');
  if (bytes >= 1024) return unit(bytes / 1024, 'KiB');
  return `${bytes} bytes`;
}

/** Explain why bytes that no decoder accepted are not an image. */
function notImageError(name: string, buf: Buffer, sniffedText: boolean, cause?: unknown): ImageInputError {
  const expected = formatFromName(name);
  const what = expected ? `, not ${FORMAT_NAMES[expected]} data` : '';
  if (sniffedText) return new ImageInputError('not_an_image', name, `not an image (the file starts with text${what})`, { cause });
  const first = buf.subarray(0, 4).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  return new ImageInputError('not_an_image', name, `not an image (unrecognised data starting with bytes ${first}${what})`, { cause });
}

function classifySharpError(err: unknown, name: string, buf: Buffer, format: SniffedFormat | null, text: boolean): ImageInputError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) {
    return new ImageInputError('too_many_pixels', name, `the image exceeds the pixel limit (${msg.split('\n')[0]})`, { cause: err });
  }
  if (format === null) return notImageError(name, buf, text, err);
  if (/unsupported image format|no known loader|not a known file format/i.test(msg) || !DECODABLE_FORMATS.has(format)) {
    return new ImageInputError('unsupported_format', name, `${FORMAT_NAMES[format]} images are not supported (use PNG, JPEG, WebP, GIF, TIFF or AVIF)`, {
      cause: err,
    });
  }
  // A known container whose data the decoder could not read to the end.
  return new ImageInputError('truncated', name, `truncated or corrupt ${FORMAT_NAMES[format]} data`, { cause: err });
}

/** What a path that is not a regular file is, for the message that refuses it. */
function nonFileKind(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** @throws ImageInputError('not_an_image') unless `st` is a regular file; a device or pipe is named by its path (`zero` alone says little). */
function refuseNonFile(st: Stats, name: string, file: string): void {
  const kind = nonFileKind(st);
  if (kind) throw new ImageInputError('not_an_image', name, `${file} is ${kind}, not an image file`);
}

function readProblem(err: unknown, name: string, file: string): ImageInputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ImageInputError('not_found', name, `file not found (${file})`, { cause: err });
  if (code === 'EISDIR') return new ImageInputError('not_an_image', name, `${file} is a folder, not an image file`, { cause: err });
  return new ImageInputError('not_found', name, `cannot read the file (${code ?? 'error'})`, { cause: err });
}

/**
 * Check that `file` can be an image before anything is read from it: it exists, is a regular
 * file (not a folder, device such as /dev/zero, named pipe or socket, which could be endless
 * or block), and is not over `maxBytes`. Only `stat` is used, so a FIFO is never opened.
 * @returns the file's size in bytes.
 * @throws ImageInputError with code 'not_found' | 'not_an_image' | 'too_large_file'.
 */
export async function checkImageFile(file: string, opts: Pick<DecodeOptions, 'maxBytes'> = {}): Promise<number> {
  const maxBytes = limitOrInfinity(opts.maxBytes, DEFAULT_MAX_BYTES);
  const name = path.basename(file);
  let st: Stats;
  try {
    st = await stat(file);
  } catch (err) {
    throw readProblem(err, name, file);
  }
  refuseNonFile(st, name, file);
  // Checked from stat so a huge file is refused without reading it.
  if (st.size > maxBytes) throw new ImageInputError('too_large_file', name, `${formatBytes(st.size)} exceeds the ${formatBytes(maxBytes)} file-size limit`);
  return st.size;
}

/**
 * Read an image file, never more than `maxBytes` + 1 bytes: checked with checkImageFile first,
 * then opened without blocking (O_NONBLOCK: a FIFO swapped in meanwhile cannot hang the open)
 * and checked again on the open descriptor (fstat), then read up to the limit, so a file that
 * grows while it is read is refused instead of filling memory.
 * @throws ImageInputError ('not_found' | 'not_an_image' | 'too_large_file').
 */
export async function readImageFile(file: string, opts: Pick<DecodeOptions, 'maxBytes'> = {}): Promise<Buffer> {
  const maxBytes = limitOrInfinity(opts.maxBytes, DEFAULT_MAX_BYTES);
  const name = path.basename(file);
  await checkImageFile(file, { maxBytes });
  let fh;
  try {
    fh = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw readProblem(err, name, file);
  }
  try {
    const st = await fh.stat();
    refuseNonFile(st, name, file);
    const tooLarge = (size: number) => new ImageInputError('too_large_file', name, `${formatBytes(size)} exceeds the ${formatBytes(maxBytes)} file-size limit`);
    if (st.size > maxBytes) throw tooLarge(st.size);
    // Read what stat promised plus one byte, then on in 64 KiB steps: a file that grew past the
    // limit is refused after at most maxBytes + 1 bytes; one that shrank simply ends early.
    const chunks: Buffer[] = [];
    let total = 0;
    for (let size = Math.min(st.size + 1, maxBytes + 1); ; size = Math.min(64 * 1024, maxBytes + 1 - total)) {
      const chunk = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(chunk, 0, size, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === size ? chunk : chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(total);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof ImageInputError) throw err;
    throw readProblem(err, name, file);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Decode an image file or buffer into 8-bit sRGB RGB pixels (HWC).
 *
 * Normalisation, in order of what users hit:
 * - EXIF orientation applied (a portrait phone photo comes out upright);
 * - an embedded ICC profile converted to sRGB; CMYK converted to sRGB (sharp's
 *   fallback CMYK profile when none is embedded), so colours are never inverted;
 * - transparency composited on WHITE: sharp's default flatten background is black,
 *   which turns transparent-background renders (e.g. im2latex pages, alpha≈0 except
 *   glyphs) into an all-black image;
 * - 16-bit → 8-bit; greyscale / palette / 1-bit → RGB;
 * - multi-frame files: GIF/WebP animations give their LAST frame (animations that
 *   build a figure end on the complete figure; the first is often almost empty),
 *   multi-page TIFF its first page, HEIF its primary image.
 *
 * Guards, checked before pixels are decoded: a path must be a regular file (a device, pipe or
 * folder is refused before it is opened: /dev/zero would never end), file size (`maxBytes`,
 * from stat for a path, and the read stops one byte past it) and pixel count of the frame
 * (`maxPixels`, from the header).
 *
 * @param input a file path or the encoded bytes.
 * @throws ImageInputError with code 'not_found' | 'empty_file' | 'too_large_file' |
 *   'not_an_image' | 'unsupported_format' | 'too_many_pixels' | 'truncated'.
 */
export async function decodeImage(input: Buffer | string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = limitOrInfinity(opts.maxPixels, DEFAULT_MAX_PIXELS);
  const maxBytes = limitOrInfinity(opts.maxBytes, DEFAULT_MAX_BYTES);
  const name = typeof input === 'string' ? path.basename(input) : (opts.name ?? 'image');

  let buf: Buffer;
  if (typeof input === 'string') {
    buf = await readImageFile(input, { maxBytes });
  } else {
    buf = input;
  }
  if (buf.length === 0) throw new ImageInputError('empty_file', name, 'the file is empty (0 bytes)');
  if (buf.length > maxBytes) {
    throw new ImageInputError('too_large_file', name, `${formatBytes(buf.length)} exceeds the ${formatBytes(maxBytes)} file-size limit`);
  }

  const sniffed = sniff(buf);
  if (sniffed.format !== null && !DECODABLE_FORMATS.has(sniffed.format)) {
    throw new ImageInputError(
      'unsupported_format',
      name,
      `${FORMAT_NAMES[sniffed.format]} images are not supported (use PNG, JPEG, WebP, GIF, TIFF or AVIF)`,
    );
  }
  // Text that is not SVG never reaches a decoder: the message can say what it is.
  if (sniffed.format === null && sniffed.text) throw notImageError(name, buf, true);

  // Header only: dimensions, frames, orientation. No pixel data is decoded here.
  let meta: Metadata;
  try {
    meta = await sharp(buf, { failOn: 'truncated', limitInputPixels: false }).metadata();
  } catch (err) {
    throw classifySharpError(err, name, buf, sniffed.format, sniffed.text);
  }
  if (meta.format === 'heif' && meta.compression === 'hevc') {
    // sharp's prebuilt libheif reads HEIC headers but has no HEVC decoder (patents).
    throw new ImageInputError('unsupported_format', name, 'HEIC (HEVC) images are not supported (export as JPEG, or use PNG, WebP or AVIF)');
  }
  const frames = Math.max(1, meta.pages ?? 1);
  const frameHeight = meta.pageHeight ?? meta.height;
  const pixels = meta.width * frameHeight;
  if (pixels > maxPixels) {
    throw new ImageInputError('too_many_pixels', name, `${meta.width}×${frameHeight} pixels exceeds the ${formatMegapixels(maxPixels)} MP limit`);
  }
  const frame = frames > 1 ? (ANIMATED_FORMATS.has(meta.format) ? frames - 1 : meta.format === 'heif' ? (meta.pagePrimary ?? 0) : 0) : 0;

  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await sharp(buf, {
      // 'truncated' (not the default 'warning'): a cut-off file is an error instead of a
      // silently grey-filled bottom half, while harmless libjpeg/libpng warnings on real
      // photos still decode.
      failOn: 'truncated',
      limitInputPixels: Number.isFinite(maxPixels) ? Math.floor(maxPixels) : false,
      autoOrient: true,
      ...(frames > 1 ? { page: frame, pages: 1 } : {}),
    })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw classifySharpError(err, name, buf, sniffed.format ?? (meta.format as SniffedFormat), false);
  }
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    // Defensive: the pipeline above always yields 3 uchar bands; anything else is a bug.
    throw new Error(`decodeImage: unexpected decoder output ${info.width}x${info.height}x${info.channels} (${data.length} bytes) for ${name}`);
  }
  return {
    data,
    width: info.width,
    height: info.height,
    source: {
      format: meta.format,
      width: meta.width,
      height: frameHeight,
      frames,
      frame,
      hadAlpha: meta.hasAlpha,
      orientation: meta.orientation ?? 1,
      space: meta.space,
      depth: meta.depth,
      bytes: buf.length,
    },
  };
}
