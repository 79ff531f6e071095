/**
 * Synthetic pages for the text-OCR tests: text rendered by librsvg (through sharp) from an SVG,
 * in the DejaVu/Liberation fonts Debian installs (prose, prose with inline math, a line chart
 * with tick labels), and a label-matching helper. Not a test file itself.
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

/** A piece of a math line: plain text, or an italic variable, a subscript or a superscript. */
type MathPiece = string | { i: string } | { sub: string } | { sup: string };

/** Six lines of prose with inline math (italic variables, subscripts, superscripts, minus signs). */
export const MATH_PROSE: MathPiece[][] = [
  ['The potential ', { i: 'V' }, { sub: 'i' }, ' of cell ', { i: 'C' }, { sub: 'j' }, ' is related to the charge density ', { i: 'σ' }, { sub: 'j' }, '.'],
  ['For every ', { i: 'x' }, ' > 0 we have ', { i: 'f' }, '(x) = x', { sup: '2' }, ' - 2x + 1, so the minimum is at ', { i: 'x' }, ' = 1.'],
  ['The sum of ', { i: 'a' }, { sub: 'n' }, ' over n from 1 to N equals ', { i: 'S' }, { sub: 'N' }, ', and it converges.'],
  ['Let ', { i: 'k' }, ' be the wave number and ', { i: 'ω' }, ' the angular frequency of the mode.'],
  ['We assume that ', { i: 'E' }, { sub: '0' }, ' is constant over the whole surface of the cell.'],
  ['Then ', { i: 'y' }, ' = -3 when ', { i: 't' }, ' = 2, and the error is below 0.05 in each case.'],
];

/**
 * MATH_PROSE set in serif at `size` px, `margin` px from every edge (0: cropped tight to the
 * text, as a screenshot of a paragraph), 40 × size wide. `text` is what it reads, line by line
 * (a subscript or superscript follows its base letter).
 */
export function mathPageSvg(size: number, margin: number): { svg: Buffer; text: string } {
  const gap = size * 1.45;
  const width = Math.round(size * 40 + 2 * margin);
  const height = Math.round(margin * 2 + gap * (MATH_PROSE.length - 1) + size * 1.2);
  const lines = MATH_PROSE.map((pieces, i) => {
    let shift = 0;
    const spans = pieces.map((p) => {
      const [t, style] = typeof p === 'string' ? [p, ''] : 'i' in p ? [p.i, 'i'] : 'sub' in p ? [p.sub, 'sub'] : [p.sup, 'sup'];
      const want = style === 'sub' ? size * 0.25 : style === 'sup' ? -size * 0.35 : 0;
      const dy = want - shift;
      shift = want;
      const attrs = [dy ? `dy="${dy.toFixed(1)}"` : '', style === 'i' || style === 'sub' ? 'font-style="italic"' : '', style === 'sub' || style === 'sup' ? `font-size="${(size * 0.7).toFixed(1)}"` : ''];
      return `<tspan ${attrs.join(' ')}>${escapeXml(t)}</tspan>`;
    });
    return `<text x="${margin}" y="${(margin + size + i * gap).toFixed(1)}" font-family="serif" font-size="${size}" xml:space="preserve">${spans.join('')}</text>`;
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>${lines.join('')}</svg>`);
  return { svg, text: MATH_PROSE.map((pieces) => pieces.map((p) => (typeof p === 'string' ? p : Object.values(p)[0])).join('')).join('\n') };
}

/**
 * A 300×220 line chart (a sine curve) with axes, tick labels -2 … 2 on x and -1, 0, 1 on y in
 * sans-serif at `size` px, and italic axis titles "x" and "y". `labels` lists every label drawn.
 */
export function chartSvg(size: number): { svg: Buffer; labels: string[] } {
  const [W, H] = [300, 220];
  const [x0, x1, y0, y1] = [40, W - 20, H - 40, 15];
  const xAt = (v: number) => x0 + ((v + 2) / 4) * (x1 - x0 - 10) + 5;
  const yAt = (v: number) => y0 - ((v + 1) / 2) * (y0 - y1 - 10) - 5;
  const parts = [`<rect width="100%" height="100%" fill="#fff"/>`, `<path d="M${x0} ${y1}V${y0}H${x1}" fill="none" stroke="#000"/>`];
  const labels: string[] = [];
  for (let v = -2; v <= 2; v++) {
    parts.push(`<path d="M${xAt(v)} ${y0}v4" stroke="#000"/><text x="${xAt(v)}" y="${y0 + 6 + size}" font-family="sans-serif" font-size="${size}" text-anchor="middle">${v}</text>`);
    labels.push(String(v));
  }
  for (let v = -1; v <= 1; v++) {
    parts.push(`<path d="M${x0 - 4} ${yAt(v)}h4" stroke="#000"/><text x="${x0 - 7}" y="${yAt(v) + size * 0.35}" font-family="sans-serif" font-size="${size}" text-anchor="end">${v}</text>`);
    labels.push(String(v));
  }
  const title = (x: number, y: number, t: string) => `<text x="${x}" y="${y}" font-family="serif" font-style="italic" font-size="${size * 1.1}" text-anchor="middle">${t}</text>`;
  parts.push(title((x0 + x1) / 2, H - 6, 'x'), title(12, (y0 + y1) / 2, 'y'));
  labels.push('x', 'y');
  const curve = Array.from({ length: 41 }, (_, i) => -2 + i / 10).map((t) => `${xAt(t).toFixed(1)},${yAt(Math.sin(t * 1.5)).toFixed(1)}`);
  parts.push(`<polyline points="${curve.join(' ')}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`);
  return { svg: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`), labels };
}

/** Which of `labels` appear as whitespace-separated tokens of `text` (each token used once). */
export function labelsFound(text: string, labels: readonly string[]): { found: string[]; missing: string[] } {
  const tokens = text.split(/\s+/).filter(Boolean);
  const found: string[] = [];
  const missing: string[] = [];
  for (const l of labels) {
    const i = tokens.indexOf(l);
    if (i >= 0) {
      tokens.splice(i, 1);
      found.push(l);
    } else missing.push(l);
  }
  return { found, missing };
}
