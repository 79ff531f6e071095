/**
 * What a page is shown of an attachment: only raster images a browser decodes natively, with
 * response headers that make the bytes inert (no script, no sniffing, no embedding elsewhere).
 *
 * SVG is a document, not a picture: its `<script>`, event handlers and `<foreignObject>` run when
 * the file is opened by URL on the app's origin. So an SVG is rasterised on import
 * (`storedRendition`) and its source is never stored or served; formats a browser cannot show
 * (TIFF, HEIF, and SVG stored by versions before this rule) are turned into PNG when served
 * (`servedRendition`), and so is a CMYK JPEG, as the pixels the model sees (a browser's own CMYK
 * decoding differs). Both the web bridge and Electron's app:// handler use these.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeImage, type DecodedImage } from '../../media/images/decode.js';

/** Formats served byte for byte (every current browser decodes them, none can carry script). */
export const BROWSER_RASTER_MIME: Readonly<Record<string, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
};
const SERVED_AS_IS = new Set(Object.values(BROWSER_RASTER_MIME));

/**
 * Headers for every attachment response. `default-src 'none'; sandbox` means that even a file a
 * browser misreads as a document gets no script, no plugins, no same-origin access; `nosniff`
 * keeps the declared raster type; CORP same-origin stops other sites embedding it to probe which
 * files a user has.
 */
export const ATTACHMENT_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; sandbox",
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'content-disposition': 'inline',
  'cache-control': 'private, max-age=31536000, immutable',
};

/** The bytes to store for an imported image and their MIME type. */
export interface StoredRendition {
  bytes: Uint8Array;
  mime: string;
}

/**
 * What to store for an image the user added: the file itself when it is a browser raster, TIFF or
 * HEIF (kept exact for the model; shown through `servedRendition`), and for SVG the PNG of what
 * the decoder rendered (the picture the model sees; the markup is dropped).
 * @param original the file's bytes; `decoded` its decodeImage result.
 */
export async function storedRendition(original: Uint8Array, decoded: DecodedImage): Promise<StoredRendition> {
  const format = decoded.source.format;
  if (format === 'svg') {
    const png = await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 3 } }).png().toBuffer();
    return { bytes: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), mime: 'image/png' };
  }
  const mime = BROWSER_RASTER_MIME[format] ?? (format === 'tiff' ? 'image/tiff' : format === 'heif' ? 'image/heif' : 'application/octet-stream');
  return { bytes: original, mime };
}

/** An attachment as served: a file to stream as is, or PNG bytes made for the browser. */
export type ServedAttachment = { mime: string; path: string } | { mime: 'image/png'; bytes: Uint8Array };

/**
 * The rendition of a stored attachment that a page may load. A browser raster is its own file;
 * anything else is decoded (first page, no script: librsvg runs none and loads nothing for a
 * buffer) and re-encoded as PNG, or refused (undefined) when it does not decode.
 */
export async function servedRendition(file: { path: string; mime: string }): Promise<ServedAttachment | undefined> {
  if (file.mime === 'image/jpeg' && (await isCmyk(file.path))) return modelPixels(file.path);
  if (SERVED_AS_IS.has(file.mime)) return { path: file.path, mime: file.mime };
  try {
    const png = await sharp(await readFile(file.path), { limitInputPixels: 100_000_000, failOn: 'truncated' })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .png()
      .toBuffer();
    return { mime: 'image/png', bytes: new Uint8Array(png.buffer, png.byteOffset, png.byteLength) };
  } catch {
    return undefined;
  }
}

/**
 * Whether a JPEG holds CMYK (or YCCK) pixels. Browsers decode those their own way (Chromium
 * without the file's profile, often a visibly different picture: a mean difference of 14/255 per
 * channel on a real scan), so the window would not show what the model sees. Header only.
 */
async function isCmyk(file: string): Promise<boolean> {
  try {
    return (await sharp(file).metadata()).space === 'cmyk';
  } catch {
    return false;
  }
}

/** The pixels the model gets (decodeImage: the same conversion to sRGB), as PNG. Undefined when they do not decode. */
async function modelPixels(file: string): Promise<ServedAttachment | undefined> {
  try {
    const decoded = await decodeImage(file);
    const png = await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 3 } }).png().toBuffer();
    return { mime: 'image/png', bytes: new Uint8Array(png.buffer, png.byteOffset, png.byteLength) };
  } catch {
    return undefined;
  }
}

