/**
 * `omnifusion ocr <image>`: equation OCR. The image is checked (degenerate selections are
 * refused before the engine starts: no model call), normalised for formulas and sent with a
 * recognition prompt, decoded greedily (core/ocr.ts), and the answer is cleaned and printed as
 * LaTeX, inline/display math, MathML or JSON.
 */
import path from 'node:path';
import { decodeImage } from '../core/images/decode.js';
import { checkFormulaImage } from '../core/images/formula.js';
import { formatLatex, ocrRequest, readOcrAnswer, type OcrFormat } from '../core/ocr.js';
import { EngineHost } from '../engine/host.js';
import type { ExecutionProvider } from '../engine/session.js';

/** A mistake in how `ocr` was called; printed as one line, exit code 2. */
export class OcrUsageError extends Error {}

export interface OcrOptions {
  model?: string;
  format: OcrFormat;
  maxNewTokens?: number;
  device: ExecutionProvider;
  threads?: number;
}

export async function ocr(image: string, o: OcrOptions, write: (text: string) => void): Promise<number> {
  const name = path.basename(image);
  // Image first: a degenerate selection is refused before any model is looked at or started.
  const decoded = await decodeImage(image);
  checkFormulaImage(decoded, name);
  const modelDir = o.model ?? process.env.OMNIFUSION_MODEL;
  if (!modelDir) throw new OcrUsageError('no model: pass --model DIR or set OMNIFUSION_MODEL (try --model test/fixtures/models/omnifusion-tiny)');
  const { request, notes } = await ocrRequest(decoded, { name, modelDir, ...(o.maxNewTokens !== undefined ? { maxNewTokens: o.maxNewTokens } : {}) });
  const host = new EngineHost();
  try {
    const info = await host.load(modelDir, o.device, o.threads);
    if (info.note) process.stderr.write(`note: ${info.note}\n`);
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
