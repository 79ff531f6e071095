/**
 * The engine process message protocol. The same messages travel over a Node child process
 * channel (CLI, server, tests) and an Electron utilityProcess parentPort (desktop app), so this
 * file is the only contract between the engine and its host. Messages are structured-cloned
 * (child processes are forked with `serialization: 'advanced'`), so image bytes travel as
 * Uint8Array without base64.
 */
import type { ExecutionProvider } from './session.js';
import type { GenerationConfig } from './generation/config.js';

/** An image given to the engine: a file path, or the file's bytes with a display name for errors. */
export type ImageSource = { path: string } | { bytes: Uint8Array; name: string };

/** One earlier exchange of a conversation (OmniFusion appends answer, USER, question, BOT). */
export interface ChatTurn {
  question: string;
  answer: string;
}

/** What to answer: the images, the question, earlier turns and sampling overrides. */
export interface GenerateRequest {
  images: ImageSource[];
  question: string;
  history?: ChatTurn[];
  /** Overrides of the model's generation defaults (validated by resolveGenerationConfig). */
  generation?: Partial<GenerationConfig>;
}

/** Time spent per stage of one request, in milliseconds (tokens/s for decode). */
export interface GenerateTimings {
  /** Decode, preprocess and vision encoder + adapter for all images. */
  image_ms: number;
  /** Prompt assembly and the decoder's first (prefill) run. */
  prefill_ms: number;
  /** From request start to the first streamed token (beam search streams its answer only at the end). */
  ttft_ms: number;
  /** Decoder steps after the prefill per second of their wall time; a step advances every beam by one token (0 when only one token). */
  decode_tokens_per_s: number;
  total_ms: number;
}

/** Why generation stopped. */
export type FinishReason = 'eos' | 'length' | 'stop_string' | 'cancelled';

/** The outcome of one request. `token_ids` are all generated ids, EOS included when generated. */
export interface GenerateResult {
  answer: string;
  token_ids: number[];
  finish_reason: FinishReason;
  prompt_length: number;
  execution_provider: string;
  timings: GenerateTimings;
}

/** Facts about the loaded model, sent once loading is done. */
export interface LoadedModelInfo {
  name: string;
  family: string;
  dir: string;
  execution_provider: string;
  /** Why the provider differs from the one requested, if it does (for example "webgpu unavailable … using cpu"). */
  note?: string;
  load_ms: number;
}

/** Host → engine. */
export type EngineRequest =
  | { type: 'load'; id: number; modelDir: string; executionProvider: ExecutionProvider; threads?: number }
  | { type: 'generate'; id: number; request: GenerateRequest }
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

/** Error classes the engine reports; `message` is always one line for the user. */
export type EngineErrorCode = 'bad_image' | 'bad_model' | 'bad_request' | 'not_loaded' | 'internal';

/** Engine → host. Every request with an id gets exactly one `loaded`/`done` or `error` with that id. */
export type EngineEvent =
  | { type: 'ready'; pid: number }
  | { type: 'loaded'; id: number; info: LoadedModelInfo }
  | { type: 'token'; id: number; token_id: number; text: string }
  | { type: 'done'; id: number; result: GenerateResult }
  | { type: 'error'; id: number; code: EngineErrorCode; message: string };
