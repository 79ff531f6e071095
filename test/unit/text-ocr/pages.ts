/**
 * Synthetic pages for the text-OCR tests: text rendered by librsvg (through sharp) from an SVG,
 * in the DejaVu/Liberation fonts Debian installs. Not a test file itself.
 */
import sharp from 'sharp';

export interface TextRun {
  x: number;
  /** Baseline, pixels from the top. */
  y: number;
  text: string;
  /** Font size, pixels (default 32). */
  size?: number;
  font?: 'sans-serif' | 'serif' | 'monospace';
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An SVG page: white background, black text runs. */
export function pageSvg(width: number, height: number, runs: readonly TextRun[]): Buffer {
  const texts = runs
    .map((r) => `<text x="${r.x}" y="${r.y}" font-family="${r.font ?? 'sans-serif'}" font-size="${r.size ?? 32}" fill="#000">${escapeXml(r.text)}</text>`)
    .join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>${texts}</svg>`);
}

/** Lines of prose laid out top to bottom from (x, y), `gap` pixels apart. */
export function paragraph(lines: readonly string[], x: number, y: number, size = 32, gap = size * 1.5): TextRun[] {
  return lines.map((text, i) => ({ x, y: y + i * gap, text, size }));
}

/** The page rendered to PNG bytes, optionally turned clockwise by `rotate` degrees. */
export async function renderPage(width: number, height: number, runs: readonly TextRun[], rotate: 0 | 90 | 180 | 270 = 0): Promise<Buffer> {
  const png = await sharp(pageSvg(width, height, runs)).flatten({ background: '#fff' }).png().toBuffer();
  return rotate ? sharp(png).rotate(rotate).png().toBuffer() : png;
}

/** Six lines of an ordinary printed page. */
export const PROSE = [
  'Reading the text of a page works offline.',
  'The quick brown fox jumps over the lazy dog.',
  'Every line has a box and a confidence.',
  'Pages may arrive upside down or sideways.',
  'Numbers like 2024 and 3.14 are read too.',
  'This is the last line of the sample page.',
];
