/**
 * Cheap container sniffing from the first bytes of a file. Used only to explain
 * refusals precisely (text vs. unknown binary vs. a real format sharp lacks); the
 * decoding itself is always sharp's decision.
 */

/** Formats recognised by their magic bytes. */
export type SniffedFormat =
  | 'png'
  | 'jpeg'
  | 'gif'
  | 'webp'
  | 'tiff'
  | 'heif'
  | 'svg'
  | 'bmp'
  | 'ico'
  | 'psd'
  | 'pdf'
  | 'jxl'
  | 'jp2';

/** Result of sniffing: a format, or whether unknown bytes look like text. */
export interface Sniffed {
  format: SniffedFormat | null;
  /** True when the first bytes contain no binary control characters (likely a text file). */
  text: boolean;
}

/**
 * Formats sharp 0.35's prebuilt libvips can decode. The others in SniffedFormat are
 * real image formats it lacks (BMP, ICO, PSD, PDF, JPEG XL, JPEG 2000): those get
 * `unsupported_format` rather than `not_an_image`. HEIF is decodable only when AV1
 * (AVIF); HEVC (HEIC) fails in sharp and is classified after the attempt.
 */
export const DECODABLE_FORMATS: ReadonlySet<SniffedFormat> = new Set(['png', 'jpeg', 'gif', 'webp', 'tiff', 'heif', 'svg']);

/** Display names used in messages ("not PNG data"). */
export const FORMAT_NAMES: Record<SniffedFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  gif: 'GIF',
  webp: 'WebP',
  tiff: 'TIFF',
  heif: 'HEIF/AVIF',
  svg: 'SVG',
  bmp: 'BMP',
  ico: 'ICO',
  psd: 'PSD',
  pdf: 'PDF',
  jxl: 'JPEG XL',
  jp2: 'JPEG 2000',
};

const EXTENSIONS: Record<string, SniffedFormat> = {
  png: 'png',
  apng: 'png',
  jpg: 'jpeg',
  jpeg: 'jpeg',
  jpe: 'jpeg',
  jfif: 'jpeg',
  gif: 'gif',
  webp: 'webp',
  tif: 'tiff',
  tiff: 'tiff',
  avif: 'heif',
  heic: 'heif',
  heif: 'heif',
  svg: 'svg',
  bmp: 'bmp',
  ico: 'ico',
  psd: 'psd',
  pdf: 'pdf',
  jxl: 'jxl',
  jp2: 'jp2',
  j2k: 'jp2',
};

/** The format a file name's extension promises, or null (no or unknown extension). */
export function formatFromName(name: string): SniffedFormat | null {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return null;
  return EXTENSIONS[name.slice(dot + 1).toLowerCase()] ?? null;
}

function startsWith(buf: Buffer, bytes: number[], offset = 0): boolean {
  if (buf.length < offset + bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[offset + i] !== bytes[i]) return false;
  return true;
}

function ascii(buf: Buffer, start: number, end: number): string {
  return buf.subarray(start, Math.min(end, buf.length)).toString('latin1');
}

/** Identify a format by magic bytes (first 4 KiB at most are looked at). */
export function sniff(buf: Buffer): Sniffed {
  const head = buf.subarray(0, 4096);
  let format: SniffedFormat | null = null;
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) format = 'png';
  else if (startsWith(head, [0xff, 0xd8, 0xff])) format = 'jpeg';
  else if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') format = 'gif';
  else if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') format = 'webp';
  else if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]) || startsWith(head, [0x49, 0x49, 0x2b, 0x00]))
    format = 'tiff';
  else if (ascii(head, 4, 8) === 'ftyp') format = 'heif';
  else if (startsWith(head, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20])) format = 'jp2';
  else if (startsWith(head, [0xff, 0x0a]) || startsWith(head, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) format = 'jxl';
  else if (ascii(head, 0, 2) === 'BM' && head.length >= 18 && [12, 40, 52, 56, 64, 108, 124].includes(head.readUInt32LE(14)))
    format = 'bmp';
  else if (startsWith(head, [0x00, 0x00, 0x01, 0x00])) format = 'ico';
  else if (ascii(head, 0, 4) === '8BPS') format = 'psd';
  else if (ascii(head, 0, 5) === '%PDF-') format = 'pdf';

  // Control characters other than \t \n \f \r (and any NUL) mean binary data.
  let text = head.length > 0;
  for (const b of head) {
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) {
      text = false;
      break;
    }
  }
  if (format === null && text && /<svg[\s>]/i.test(head.toString('utf8'))) format = 'svg';
  return { format, text };
}
