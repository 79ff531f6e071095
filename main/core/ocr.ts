/**
 * Equation OCR, independent of how the model is run: a decoded image is checked (degenerate
 * selections are refused with ImageInputError('degenerate')), normalised for formulas
 * (images/formula.ts) and turned into a greedy generation request with the recognition prompt;
 * the model's answer is cleaned to bare LaTeX and validated by parsing it with KaTeX.
 * Used by the `omnifusion ocr` CLI and by the API's `ocr.recognize` call.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import katex from 'katex';
import sharp from 'sharp';
import type { DecodedImage } from '../media/images/decode.js';
import { checkFormulaImage, prepareFormulaImage } from '../media/images/formula.js';
import type { GenerateRequest } from '../engine/protocol.js';

export const OCR_PROMPT = 'Convert the formula in the image to LaTeX. Answer with the LaTeX only.';

export const OCR_FORMATS = ['latex', 'inline', 'display', 'mathml', 'json'] as const;
export type OcrFormat = (typeof OCR_FORMATS)[number];

/** Square input size used when the model's manifest cannot be read here (the engine reports why). */
const DEFAULT_TARGET_SIZE = 336;

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

/** `latex` in `format`: bare, `$…$`, `$$…$$` or MathML (for word processors). */
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

/** The model's square input size from its manifest (crop_size), or DEFAULT_TARGET_SIZE. */
export async function ocrTargetSize(modelDir: string): Promise<number> {
  try {
    const m = JSON.parse(await readFile(path.join(modelDir, 'manifest.json'), 'utf8')) as { preprocessing?: { crop_size?: { height?: number; width?: number } } };
    const size = Math.max(m.preprocessing?.crop_size?.height ?? 0, m.preprocessing?.crop_size?.width ?? 0);
    return size > 0 ? size : DEFAULT_TARGET_SIZE;
  } catch {
    return DEFAULT_TARGET_SIZE;
  }
}

/**
 * The generation request that recognises the formula in `decoded`: the image prepared for
 * formulas (sized for the model in `modelDir`), as PNG bytes, with the recognition prompt and
 * greedy decoding; plus the notes on what preparation did.
 * @throws ImageInputError('degenerate') for images that cannot hold a formula.
 */
export async function ocrRequest(
  decoded: DecodedImage,
  o: { name: string; modelDir: string; maxNewTokens?: number },
): Promise<{ request: GenerateRequest; notes: string[] }> {
  checkFormulaImage(decoded, o.name);
  const prepared = await prepareFormulaImage(decoded, { targetSize: await ocrTargetSize(o.modelDir) });
  const { image: img } = prepared;
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png()
    .toBuffer();
  const generation = { do_sample: false, num_beams: 1, ...(o.maxNewTokens !== undefined ? { max_new_tokens: o.maxNewTokens } : {}) };
  // Chat defaults: newlines and repeated cells (`0 & 0`) must be possible in LaTeX.
  return { request: { images: [{ bytes: new Uint8Array(png), name: o.name }], question: OCR_PROMPT, defaults: 'chat', generation }, notes: [...prepared.notes] };
}

/** The model's answer as LaTeX, and whether KaTeX parses it. */
export function readOcrAnswer(answer: string): { latex: string; valid: boolean; error?: string } {
  const latex = cleanLatex(answer);
  const check = validateLatex(latex);
  return { latex, valid: check.valid, ...(check.error ? { error: check.error } : {}) };
}
