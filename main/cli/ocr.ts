/**
 * `omnifusion ocr <image>`: equation OCR. The image is checked (degenerate selections are
 * refused before the engine starts: no model call), normalised for formulas
 * (core/images/formula.ts), sent as PNG bytes with a recognition prompt, decoded greedily,
 * and the answer is cleaned and printed as LaTeX, inline/display math, MathML or JSON.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import katex from 'katex';
import sharp from 'sharp';
import { decodeImage } from '../core/images/decode.js';
import { checkFormulaImage, prepareFormulaImage } from '../core/images/formula.js';
import { EngineHost } from '../engine/host.js';
import type { ExecutionProvider } from '../engine/session.js';

/** A mistake in how `ocr` was called; printed as one line, exit code 2. */
export class OcrUsageError extends Error {}

export const OCR_FORMATS = ['latex', 'inline', 'display', 'mathml', 'json'] as const;
export type OcrFormat = (typeof OCR_FORMATS)[number];

export const OCR_PROMPT = 'Convert the formula in the image to LaTeX. Answer with the LaTeX only.';

/** Square input size used when the model's manifest cannot be read here (the engine reports why). */
const DEFAULT_TARGET_SIZE = 336;

export interface OcrOptions {
  model?: string;
  format: OcrFormat;
  maxNewTokens?: number;
  device: ExecutionProvider;
  threads?: number;
}

/** Strip what models wrap LaTeX in: ``` fences, $$…$$, $…$, \[…\], \(…\), surrounding whitespace. */
export function cleanLatex(answer: string): string {
  let s = answer.trim();
  for (let changed = true; changed; ) {
    const before = s;
    s = s.replace(/^```[a-zA-Z]*\s*\n?([\s\S]*?)\n?\s*```$/, '$1').trim();
    s = s.replace(/^\$\$((?:(?!\$\$)[\s\S])*)\$\$$/, '$1').trim();
    s = s.replace(/^\$([^$]*)\$$/, '$1').trim();
    s = s.replace(/^\\\[([\s\S]*)\\\]$/, '$1').trim();
    s = s.replace(/^\\\(([\s\S]*)\\\)$/, '$1').trim();
    changed = s !== before;
  }
  return s;
}

/**
 * Whether KaTeX parses `latex` (throwOnError, and strict: non-LaTeX input such as Unicode
 * letters in math mode counts as invalid); the error message (one line) when it does not.
 */
export function validateLatex(latex: string): { valid: boolean; error?: string } {
  try {
    katex.renderToString(latex, { throwOnError: true, strict: 'error', displayMode: true });
    return { valid: true };
  } catch (err) {
    return { valid: false, error: ((err as Error).message ?? String(err)).replace(/\s*\n\s*/g, ' ') };
  }
}

/** The model's square input size from its manifest (crop_size), or DEFAULT_TARGET_SIZE. */
async function targetSize(modelDir: string): Promise<number> {
  try {
    const m = JSON.parse(await readFile(path.join(modelDir, 'manifest.json'), 'utf8')) as { preprocessing?: { crop_size?: { height?: number; width?: number } } };
    const size = Math.max(m.preprocessing?.crop_size?.height ?? 0, m.preprocessing?.crop_size?.width ?? 0);
    return size > 0 ? size : DEFAULT_TARGET_SIZE;
  } catch {
    return DEFAULT_TARGET_SIZE;
  }
}

/** Print `latex` in `format`. */
export function formatLatex(latex: string, format: Exclude<OcrFormat, 'json'>): string {
  switch (format) {
    case 'latex':
      return latex;
    case 'inline':
      return `$${latex}$`;
    case 'display':
      return `$$${latex}$$`;
    case 'mathml':
      return katex.renderToString(latex, { output: 'mathml', throwOnError: false, strict: 'ignore', displayMode: true });
  }
}

export async function ocr(image: string, o: OcrOptions, write: (text: string) => void): Promise<number> {
  const name = path.basename(image);
  // Image first: a degenerate selection is refused before any model is looked at or started.
  const decoded = await decodeImage(image);
  checkFormulaImage(decoded, name);
  const modelDir = o.model ?? process.env.OMNIFUSION_MODEL;
  if (!modelDir) throw new OcrUsageError('no model: pass --model DIR or set OMNIFUSION_MODEL (try --model test/fixtures/models/omnifusion-tiny)');
  const prepared = await prepareFormulaImage(decoded, { targetSize: await targetSize(modelDir) });
  const { image: img } = prepared;
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png()
    .toBuffer();
  const host = new EngineHost();
  try {
    const info = await host.load(modelDir, o.device, o.threads);
    if (info.note) process.stderr.write(`note: ${info.note}\n`);
    const generation = { do_sample: false, num_beams: 1, ...(o.maxNewTokens !== undefined ? { max_new_tokens: o.maxNewTokens } : {}) };
    const result = await host.generate({ images: [{ bytes: new Uint8Array(png), name }], question: OCR_PROMPT, generation }, () => undefined).result;
    const latex = cleanLatex(result.answer);
    if (o.format === 'json') {
      const check = validateLatex(latex);
      write(`${JSON.stringify({ latex, valid: check.valid, ...(check.error ? { error: check.error } : {}), raw: result.answer, finish_reason: result.finish_reason, timings: result.timings, notes: prepared.notes })}\n`);
    } else {
      write(`${formatLatex(latex, o.format)}\n`);
    }
    return 0;
  } finally {
    await host.stop();
  }
}
