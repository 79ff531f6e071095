/**
 * The demo's sample page: draws a short, made-up café receipt to a PNG, so that
 * `bash scripts/demo.sh` has a real page to read in a plain clone (no test data, no download).
 *
 * Usage: node scripts/sample-page.mjs OUT.png   (prints OUT.png's path on stdout)
 *
 * Deterministic: the text is laid out by sharp's own Pango (bundled with sharp's libvips) in
 * KaTeX's Typewriter font, read from the katex package the app already depends on (MIT; the fonts
 * are SIL OFL 1.1), never a system font, onto a white page built from an SVG; the same sharp
 * version writes the same bytes. Page: 760×800 px, 8-bit grey PNG without alpha. The receipt adds up:
 * 7.00 + 3.25 + 5.60 + 3.10 = 18.95 (the total a question about it should find).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';

const require = createRequire(import.meta.url);
const FONT_FILE = require.resolve('katex/dist/fonts/KaTeX_Typewriter-Regular.ttf');
const FONT = 'KaTeX_Typewriter';

/** Page size in pixels. */
const WIDTH = 760;
const HEIGHT = 800;

/** The receipt's heading, centred (one line each). */
const HEADING = ['CORNER CAFE', '12 Harbour Street, Leeds'];

/** The receipt's body: monospace lines, so spaces line the columns up. */
const BODY = [
  '14/03/2024           10:42',
  '',
  'Flat white        2   7.00',
  'Blueberry muffin  1   3.25',
  'Croissant         2   5.60',
  'Orange juice      1   3.10',
  '',
  'Subtotal             18.95',
  'VAT 20% included      3.16',
  'TOTAL                18.95',
  '',
  'Paid by card         18.95',
];

const FOOTER = ['Thank you for your visit!'];

/**
 * One block of text as a grey-on-transparent image.
 * @param {string[]} lines the lines, drawn as plain text (no Pango markup).
 * @param {number} dpi text size: at 72 dpi the font is 12 pt = 12 px high.
 * @returns {Promise<{ input: Buffer, width: number, height: number }>} a PNG and its size in px.
 */
async function textBlock(lines, dpi) {
  const escaped = lines.join('\n').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const { data, info } = await sharp({ text: { text: escaped, font: FONT, fontfile: FONT_FILE, dpi, spacing: 10, rgba: true } })
    .png()
    .toBuffer({ resolveWithObject: true });
  return { input: data, width: info.width, height: info.height };
}

/**
 * Draw the receipt and write it to `out`.
 * @param {string} out the PNG file to write (its folder must exist).
 */
async function drawPage(out) {
  const page = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}"><rect width="100%" height="100%" fill="#ffffff"/></svg>`;
  const heading = await textBlock(HEADING.slice(0, 1), 260);
  const address = await textBlock(HEADING.slice(1), 150);
  const body = await textBlock(BODY, 160);
  const footer = await textBlock(FOOTER, 150);
  const centred = (block, top) => ({ input: block.input, left: Math.round((WIDTH - block.width) / 2), top });
  let top = 70;
  const layers = [];
  for (const [block, gap] of [[heading, 24], [address, 60], [body, 60], [footer, 0]]) {
    layers.push(centred(block, top));
    top += block.height + gap;
  }
  if (top > HEIGHT) throw new Error(`sample page: the text needs ${top} px, the page has ${HEIGHT}`);
  // sharp composites last in a pipeline: flatten to one grey channel in a second pass.
  const composed = await sharp(Buffer.from(page)).composite(layers).png().toBuffer();
  await sharp(composed).flatten({ background: '#ffffff' }).toColourspace('b-w').png({ compressionLevel: 9 }).toFile(out);
}

const out = process.argv[2];
if (!out || process.argv.length > 3) {
  process.stderr.write('usage: node scripts/sample-page.mjs OUT.png\n');
  process.exit(2);
}
try {
  await drawPage(out);
  process.stdout.write(`${path.resolve(out)}\n`);
} catch (err) {
  process.stderr.write(`sample-page: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
  process.exit(1);
}
