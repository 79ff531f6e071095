/**
 * The engine's request loop, separate from the transport so it can be tested in-process.
 *
 * Two queues, each serving its requests one at a time in arrival order; `cancel` is handled
 * immediately:
 * - the model queue: `load` and `generate` (the VLM);
 * - the text-OCR queue: `recognize_text` (PP-OCRv4, sessions created on its first request,
 *   whether or not a VLM is loaded).
 * The queues run side by side. onnxruntime-node runs each graph synchronously inside a
 * setImmediate, so the event loop alternates between them at graph-run granularity: a page's
 * OCR never waits for a whole generation (a 50-token answer can take a minute on CPU), and a
 * running generation waits at most one OCR graph run per decoder step (the detector on a page
 * of ≤ 1280 px, or one recognition batch of ≤ 2560 columns: tens to hundreds of ms on CPU), never
 * the whole page. Sharing one queue would instead stall attachment OCR behind answers, or an
 * answer's first token behind every page being read.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeImage, ImageInputError } from '../../media/images/index.js';
import { GenerationConfigError } from '../generation/index.js';
import { ModelPackageError } from '../package/errors.js';
import { GRAPH_NAMES, type GraphDtype, type GraphName } from '../package/manifest-types.js';
import { DTYPE_SUFFIXES } from '../package/hf-folder.js';
import { BadRequestError, VlmPipeline } from '../pipeline.js';
import { sharedTextOcrEngine, TextOcrCancelledError, TextOcrModelError, type TextOcrEngine } from '../text-ocr/index.js';
import type { EngineErrorCode, EngineEvent, EngineRequest, RecognizeTextResult } from '../protocol.js';

/** A message channel to the host. */
export interface EnginePort {
  send(event: EngineEvent): void;
  onMessage(listener: (request: EngineRequest) => void): void;
}

/** Map an error to the protocol's code and a one-line message (stack traces only for our own bugs). */
export function describeError(err: unknown): { code: EngineErrorCode; message: string } {
  if (err instanceof ImageInputError) return { code: 'bad_image', message: err.message };
  if (err instanceof ModelPackageError || err instanceof TextOcrModelError) return { code: 'bad_model', message: err.message };
  if (err instanceof BadRequestError || err instanceof GenerationConfigError) return { code: 'bad_request', message: err.message };
  if (err instanceof TextOcrCancelledError) return { code: 'cancelled', message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: `internal engine error: ${message.split('\n')[0]}` };
}

type RecognizeRequest = Extract<EngineRequest, { type: 'recognize_text' }>;

const isFile = (p: string): Promise<boolean> => stat(p).then((s) => s.isFile(), () => false);

/**
 * The onnx variants of a model folder in the onnx-community layout: the dtypes (transformers.js
 * names, in their order of preference) for which every graph has its `onnx/<graph><suffix>.onnx`.
 */
export async function availableDtypes(dir: string): Promise<GraphDtype[]> {
  const found: GraphDtype[] = [];
  for (const [dtype, suffix] of Object.entries(DTYPE_SUFFIXES) as [GraphDtype, string][]) {
    let all = true;
    for (const graph of GRAPH_NAMES) all = all && (await isFile(path.join(dir, 'onnx', `${graph}${suffix}.onnx`)));
    if (all) found.push(dtype);
  }
  return found;
}

/**
 * Check a requested dtype against the folder before loading: an unknown name is a bad request; an
 * OmniFusion package (manifest.json) has one set of graphs; an onnx-community folder must have
 * that variant of every graph, else the message lists the variants it has.
 * @throws BadRequestError, ModelPackageError.
 */
export async function checkDtype(modelDir: string, dtype: unknown): Promise<void> {
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SUFFIXES, dtype)) {
    throw new BadRequestError(`unknown dtype ${JSON.stringify(dtype)} (one of ${Object.keys(DTYPE_SUFFIXES).join(', ')})`);
  }
  const folder = path.resolve(modelDir);
  // A folder that is missing or unreadable gets loadManifest's own message.
  if (await isFile(path.join(folder, 'manifest.json'))) {
    // One set of graphs, of the precision its KV cache has: that dtype is accepted (it changes nothing).
    const has = await omnifusionDtype(folder);
    if (has === dtype) return;
    throw new ModelPackageError(`${folder} is an OmniFusion package with one set of graphs${has ? ` (${has})` : ''}: it has no ${dtype} variant${has ? `; drop --dtype or use --dtype ${has}` : ''}`);
  }
  if (!(await isFile(path.join(folder, 'config.json')))) return;
  const present = await availableDtypes(folder);
  if (!present.includes(dtype as GraphDtype)) {
    throw new ModelPackageError(`${folder} has no ${dtype} graphs (onnx/*${DTYPE_SUFFIXES[dtype as GraphDtype]}.onnx); it has: ${present.join(', ') || 'none'}`);
  }
}

/** The dtype of an OmniFusion package's graphs (fp32 or fp16, as its text_config.kv_cache_dtype), if its manifest says. */
async function omnifusionDtype(folder: string): Promise<GraphDtype | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as { text_config?: { kv_cache_dtype?: unknown } };
    const kv = manifest.text_config?.kv_cache_dtype;
    return kv === 'float32' ? 'fp32' : kv === 'float16' ? 'fp16' : undefined;
  } catch {
    return undefined;
  }
}

/** Serves load/generate/recognize_text/cancel requests on one port. */
export class EngineServer {
  private pipeline: VlmPipeline | undefined;
  private queue: Promise<void> = Promise.resolve();
  private ocrQueue: Promise<void> = Promise.resolve();
  private readonly cancelled = new Set<number>();
  /** Text-OCR requests queued or running, by id, to abort on `cancel`. */
  private readonly ocrAborts = new Map<number, AbortController>();

  constructor(private readonly port: EnginePort) {}

  start(): void {
    this.port.onMessage((request) => this.receive(request));
    this.port.send({ type: 'ready', pid: process.pid });
  }

  private receive(request: EngineRequest): void {
    if (request.type === 'cancel') {
      const ocr = this.ocrAborts.get(request.id);
      if (ocr) ocr.abort();
      else this.cancelled.add(request.id);
      return;
    }
    if (request.type === 'shutdown') {
      void Promise.all([this.queue, this.ocrQueue]).then(async () => {
        await this.pipeline?.dispose();
        process.exit(0);
      });
      return;
    }
    if (request.type === 'recognize_text') {
      const abort = new AbortController();
      this.ocrAborts.set(request.id, abort);
      const queuedAt = performance.now();
      this.ocrQueue = this.ocrQueue.then(() => this.serveText(request, abort.signal, queuedAt));
      return;
    }
    this.queue = this.queue.then(() => this.serve(request));
  }

  private fail(id: number, err: unknown): void {
    const { code, message } = describeError(err);
    if (code === 'internal') process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    this.port.send({ type: 'error', id, code, message });
  }

  private async serve(request: Extract<EngineRequest, { type: 'load' | 'generate' }>): Promise<void> {
    try {
      if (request.type === 'load') {
        if (request.dtype !== undefined) await checkDtype(request.modelDir, request.dtype);
        const next = await VlmPipeline.load(request.modelDir, {
          executionProvider: request.executionProvider,
          ...(request.threads !== undefined ? { threads: request.threads } : {}),
          ...(request.dtype !== undefined ? { dtype: request.dtype } : {}),
        });
        await this.pipeline?.dispose();
        this.pipeline = next;
        // Which onnx variant each graph of an onnx-community folder was loaded from.
        const dtypes = 'dtypes' in next.manifest ? (next.manifest.dtypes as Record<GraphName, GraphDtype>) : undefined;
        this.port.send({ type: 'loaded', id: request.id, info: { ...next.info, ...(dtypes ? { dtypes } : {}) } });
        return;
      }
      if (!this.pipeline) {
        this.port.send({ type: 'error', id: request.id, code: 'not_loaded', message: 'no model is loaded' });
        return;
      }
      const result = await this.pipeline.generate(request.request, {
        onToken: (token_id, text) => this.port.send({ type: 'token', id: request.id, token_id, text }),
        isCancelled: () => this.cancelled.has(request.id),
      });
      this.port.send({ type: 'done', id: request.id, result });
    } catch (err) {
      this.fail(request.id, err);
    } finally {
      this.cancelled.delete(request.id);
    }
  }

  /** Read a page's text: decode first (a bad image never loads the models), then the shared PP-OCRv4 sessions. */
  private async serveText(request: RecognizeRequest, signal: AbortSignal, queuedAt: number): Promise<void> {
    const started = performance.now();
    try {
      if (signal.aborted) throw new TextOcrCancelledError();
      const o = request.options ?? {};
      if (o.min_confidence !== undefined && !(typeof o.min_confidence === 'number' && o.min_confidence >= 0 && o.min_confidence <= 1)) {
        throw new BadRequestError(`min_confidence must be a number from 0 to 1, got ${JSON.stringify(o.min_confidence)}`);
      }
      if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 0)) {
        throw new BadRequestError(`threads must be a whole number ≥ 0, got ${JSON.stringify(o.threads)}`);
      }
      if (o.detect_rotation !== undefined && typeof o.detect_rotation !== 'boolean') {
        throw new BadRequestError(`detect_rotation must be true or false, got ${JSON.stringify(o.detect_rotation)}`);
      }
      const image = request.image;
      if (!image || typeof image !== 'object' || !('path' in image || 'bytes' in image)) throw new BadRequestError('image must be {path} or {bytes, name}');
      const decoded = 'path' in image ? await decodeImage(image.path) : await decodeImage(Buffer.from(image.bytes), { name: image.name });
      const decodeMs = performance.now() - started;
      const loadStart = performance.now();
      const engine: TextOcrEngine = await sharedTextOcrEngine(o.threads ? { threads: o.threads } : {});
      const loadMs = performance.now() - loadStart;
      const page = await engine.read(decoded, {
        signal,
        ...(o.detect_rotation !== undefined ? { detectRotation: o.detect_rotation } : {}),
        ...(o.min_confidence !== undefined ? { minConfidence: o.min_confidence } : {}),
      });
      const result: RecognizeTextResult = {
        text: page.text,
        blocks: page.blocks,
        rotation: page.rotation,
        width: page.width,
        height: page.height,
        timings: {
          queued_ms: Math.round(started - queuedAt),
          // Under a millisecond when the sessions already exist.
          load_ms: Math.round(loadMs),
          decode_ms: Math.round(decodeMs),
          detect_ms: page.timings.detectMs,
          recognize_ms: page.timings.recognizeMs,
          total_ms: Math.round(decodeMs) + page.timings.totalMs,
        },
      };
      this.port.send({ type: 'recognized', id: request.id, result });
    } catch (err) {
      this.fail(request.id, err);
    } finally {
      this.ocrAborts.delete(request.id);
    }
  }
}
