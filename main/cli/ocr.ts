/**
 * `omnifusion ocr <image>`: equation OCR. The image is checked (degenerate selections are
 * refused before the engine starts: no model call), normalised for formulas and sent with a
 * recognition prompt, decoded greedily (core/ocr.ts), and the answer is cleaned and printed as
 * LaTeX, inline/display math, MathML or JSON.
 *
 * `omnifusion ocr --text <image> [--json]`: the text of a page (engine/text-ocr, the PP-OCRv4
 * models shipped with the app), so it needs no model folder. It runs in this process: the CLI
 * has no UI thread to keep free, and the models load in a fraction of a second.
 */
import path from 'node:path';
import { decodeImage } from '../media/images/decode.js';
import { checkFormulaImage } from '../media/images/formula.js';
import { formatLatex, ocrRequest, readOcrAnswer, type OcrFormat } from '../core/ocr.js';
import { EngineHost } from '../engine/host.js';
import type { ExecutionProvider } from '../engine/session.js';
import { recognizePageText } from '../engine/text-ocr/index.js';
import { ModelPackageError } from '../engine/package/manifest.js';
import { defaultDataDir } from '../core/paths.js';
import { noModelMessage, resolveModelArg, resolveModelsDir } from './models.js';
import { loadNote } from './device.js';

/** A mistake in how `ocr` was called; printed as one line, exit code 2. */
export class OcrUsageError extends Error {}

export interface OcrOptions {
  model?: string;
  format: OcrFormat;
  maxNewTokens?: number;
  device: ExecutionProvider;
  /** Whether --device was typed (a fallback note is printed then, not for the default auto). */
  deviceTyped?: boolean;
  threads?: number;
  /** Read the text of a page instead of a formula. */
  text?: boolean;
  /** With `text`: print JSON (blocks, lines, boxes, confidences, rotation, timings). */
  json?: boolean;
}

/** Options that only mean something for formula OCR, by their flag. */
const FORMULA_ONLY = { model: '--model', format: '--format', maxNewTokens: '--max-new-tokens', device: '--device' } as const;

/**
 * Check the flag combination before any work.
 * @param given which options the user typed (not defaults).
 * @throws OcrUsageError
 */
export function checkOcrFlags(o: OcrOptions, given: (key: keyof OcrOptions) => boolean): void {
  if (o.text) {
    for (const [key, flag] of Object.entries(FORMULA_ONLY) as [keyof typeof FORMULA_ONLY, string][]) {
      // --text runs on the CPU: --device cpu, or auto (the default, typed or not), says nothing else.
      if (given(key) && !(key === 'device' && (o.device === 'cpu' || o.device === 'auto'))) {
        throw new OcrUsageError(`${flag} is for formula OCR; --text uses the built-in text models${key === 'format' ? ' (add --json for JSON)' : ''}`);
      }
    }
  } else if (o.json) {
    throw new OcrUsageError('--json goes with --text; formula OCR prints JSON with --format json');
  }
}

/** `ocr --text`: print the page text, or with `json` the full result as one JSON object. */
export async function ocrText(image: string, o: OcrOptions, write: (text: string) => void): Promise<number> {
  const page = await recognizePageText(image, { ...(o.threads ? { threads: o.threads } : {}) });
  if (o.json) {
    const { decodeMs, detectMs, recognizeMs, totalMs } = page.timings;
    write(
      `${JSON.stringify({
        text: page.text,
        rotation: page.rotation,
        width: page.width,
        height: page.height,
        blocks: page.blocks,
        timings: { decode_ms: decodeMs, detect_ms: detectMs, recognize_ms: recognizeMs, total_ms: totalMs },
      })}\n`,
    );
  } else if (page.text) {
    write(`${page.text}\n`);
  } else {
    process.stderr.write(`note: no text found in ${path.basename(image)}\n`);
  }
  return 0;
}

export async function ocr(image: string, o: OcrOptions, write: (text: string) => void): Promise<number> {
  if (o.text) return ocrText(image, o, write);
  const name = path.basename(image);
  // Image first: a degenerate selection is refused before any model is looked at or started.
  const decoded = await decodeImage(image);
  checkFormulaImage(decoded, name);
  const modelArg = o.model ?? process.env.OMNIFUSION_MODEL;
  const modelsDir = resolveModelsDir(undefined, defaultDataDir());
  if (!modelArg) throw new OcrUsageError(await noModelMessage(modelsDir));
  const model = await resolveModelArg(modelArg, modelsDir);
  if (model.problem !== undefined) throw new ModelPackageError(model.problem);
  const modelDir = model.dir;
  const { request, notes } = await ocrRequest(decoded, { name, modelDir, ...(o.maxNewTokens !== undefined ? { maxNewTokens: o.maxNewTokens } : {}) });
  const host = new EngineHost();
  try {
    const info = await host.load(modelDir, o.device, o.threads);
    const note = loadNote(info.note, o.device, o.deviceTyped === true);
    if (note) process.stderr.write(note);
    const result = await host.generate(request, () => undefined).result;
    const { latex, valid, error } = readOcrAnswer(result.answer);
    if (o.format === 'json') {
      write(`${JSON.stringify({ latex, valid, ...(error ? { error } : {}), raw: result.answer, finish_reason: result.finish_reason, timings: result.timings, notes })}\n`);
    } else {
      write(`${formatLatex(latex, o.format)}\n`);
    }
    return 0;
  } finally {
    await host.stop();
  }
}
