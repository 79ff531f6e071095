/**
 * The engine process message protocol. The same messages travel over a Node child process
 * channel (CLI, server, tests) and an Electron utilityProcess parentPort (desktop app), so this
 * file is the only contract between the engine and its host. Messages are structured-cloned
 * (child processes are forked with `serialization: 'advanced'`), so image bytes travel as
 * Uint8Array without base64.
 */
import type { ExecutionProvider } from './execution-provider.js';
import type { GenerationConfig } from './generation/config.js';
import type { GenerationPreset } from './generation/presets.js';
import type { GraphDtype, GraphName, OcrTextPosition } from './package/manifest-types.js';
import type { PageTextBlock } from './text-ocr/engine.js';
import type { Rotation } from './text-ocr/orientation.js';

/** An image given to the engine: a file path, or the file's bytes with a display name for errors. */
export type ImageSource = { path: string } | { bytes: Uint8Array; name: string };

/** One earlier exchange of a conversation (OmniFusion appends answer, USER, question, BOT). */
export interface ChatTurn {
  question: string;
  answer: string;
}

/** What to answer: the images, the question, earlier turns, the system text and sampling overrides. */
export interface GenerateRequest {
  images: ImageSource[];
  question: string;
  history?: ChatTurn[];
  /**
   * The system text of the prompt, replacing the family's default (`LoadedModelInfo.defaults.system`);
   * '' means none; absent: the default. OmniFusion: the text put first, encoded as written in place of
   * the manifest's `prompt.system` ("This is a dialog with AI assistant.\n" for OmniFusion 1.1, which
   * ends with a newline: the text is not changed). Idefics3 / LLaVA: a `system` message before the
   * first user turn, rendered by the folder's chat template (SmolVLM's as "System: …<end_of_utterance>",
   * Qwen's ChatML as "<|im_start|>system …<|im_end|>"), its text tokenized as plain text like the
   * questions; a template that refuses a system role (it raises, as Gemma's do) makes the request a
   * bad_request saying so. Not a string: bad_request.
   */
  system?: string;
  /**
   * Which defaults `generation` overrides: the package's own (`model`, the default: for OmniFusion
   * its reference script's beams, bans and forced EOS) or chat defaults (`chat`: greedy, nothing
   * banned, 1024 tokens; generation/presets.ts).
   */
  defaults?: GenerationPreset;
  /** Overrides of those defaults (validated by resolveGenerationConfig). */
  generation?: Partial<GenerationConfig>;
  /**
   * Text read from each image (`ocr_text[i]` belongs to `images[i]`; null or blank for none), put
   * into the prompt as OCR tokens where the package's manifest says (`prompt.ocr_text`: position,
   * template, word separator, token cap; see models/omnifusion.ts). At most as many entries as
   * images. A package without `prompt.ocr_text` refuses a request with non-blank OCR text
   * (bad_request); `LoadedModelInfo.ocr_text_position` tells beforehand.
   */
  ocr_text?: (string | null)[];
}

/** How the OCR text of a request went into its prompt (present when some did). */
export interface OcrPromptInfo {
  position: OcrTextPosition;
  /** Tokens of recognised text that went in (each image's text encoded alone, template not counted). */
  tokens: number;
  /** Whether some text was cut to stay within the manifest's `prompt.ocr_text.max_tokens`. */
  truncated: boolean;
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
  /**
   * Prompt positions whose KV cache came from an earlier request (a follow-up, regenerate or edit
   * that begins like something already computed); only the other prompt_length − reused_prompt_tokens were prefilled.
   */
  reused_prompt_tokens: number;
  /** Earliest turns of `history` left out so the prompt fits the model's context (absent: none). */
  dropped_turns?: number;
  /** Something the user should know about this answer, one line (e.g. a prompt longer than the model was fine-tuned for); absent: nothing. */
  warning?: string;
  execution_provider: string;
  /** Where the decoder's KV cache lived between steps: 'gpu-buffer' only when it never left GPU memory (webgpu). */
  kv_cache: 'gpu-buffer' | 'cpu';
  timings: GenerateTimings;
  /** Present when the request's `ocr_text` put text into the prompt. */
  ocr?: OcrPromptInfo;
}

/**
 * What a request that overrides nothing gets (the GUI shows these as "Model default: …"): the
 * family's system text and the package's generation defaults, transformers' GenerationConfig names.
 */
export interface ModelDefaultsInfo {
  /** OmniFusion: the manifest's `prompt.system`; the chat-template families: '' (their published templates add none). */
  system: string;
  do_sample: boolean;
  temperature: number;
  top_p: number;
  max_new_tokens: number;
  num_beams: number;
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
  /** The defaults the app's answers start from: the chat defaults over the package's (generation/presets.ts); absent from an engine that does not report them. */
  defaults?: ModelDefaultsInfo;
  /** Where the package puts OCR text in its prompt; absent when its manifest has no `prompt.ocr_text` (OCR tokens are refused). */
  ocr_text_position?: OcrTextPosition;
  /**
   * The onnx variant loaded per graph (transformers.js dtype names: fp32, int8, q4f16, …) of an
   * onnx-community folder; absent for an OmniFusion package (one set of graphs, named by its manifest).
   */
  dtypes?: Record<GraphName, GraphDtype>;
}

/** How to read the text of a page (`recognize_text`). */
export interface RecognizeTextOptions {
  /** Detect and correct a page turned by 90°, 180° or 270° (default true). */
  detect_rotation?: boolean;
  /** Lines recognised with a lower mean character probability are left out, 0..1 (default 0.5, PaddleOCR's drop_score). */
  min_confidence?: number;
  /** onnxruntime intra-op threads of the text-OCR sessions (default: onnxruntime's choice); fixed when the sessions are first created for that count. */
  threads?: number;
}

/** Milliseconds per stage of one `recognize_text` request. */
export interface RecognizeTextTimings {
  /** Waiting behind earlier text-OCR requests of the engine's OCR queue. */
  queued_ms: number;
  /** Creating the PP-OCRv4 sessions (first request of a process only; 0 after). */
  load_ms: number;
  decode_ms: number;
  detect_ms: number;
  recognize_ms: number;
  /** Decode + detect + recognise (no queueing, no loading), as `omnifusion ocr --text --json` reports it. */
  total_ms: number;
}

/** The text of a page (engine/text-ocr's PageText with snake_case timings). */
export interface RecognizeTextResult {
  /** Lines joined by "\n", blocks separated by an empty line. */
  text: string;
  /** Blocks in reading order; every line with its text, `box` (corners [tl, tr, br, bl] as [x, y] pixels of the decoded input image) and `confidence` (0..1). */
  blocks: PageTextBlock[];
  /** Clockwise turn, degrees, that made the page upright before reading. */
  rotation: Rotation;
  /** Size of the decoded input image, pixels (the frame of the boxes). */
  width: number;
  height: number;
  timings: RecognizeTextTimings;
}

/** Host → engine. */
export type EngineRequest =
  /**
   * `dtype` picks the onnx variant of every graph of an onnx-community folder that ships several
   * (see package/hf-folder.ts); a dtype the folder lacks is refused (bad_model) with the ones it
   * has; an OmniFusion package (manifest.json) has one set of graphs and refuses any dtype.
   */
  | { type: 'load'; id: number; modelDir: string; executionProvider: ExecutionProvider; threads?: number; dtype?: GraphDtype }
  | { type: 'generate'; id: number; request: GenerateRequest }
  /** Page text OCR (PP-OCRv4); needs no loaded model. Served by a queue of its own, see engine-server.ts. */
  | { type: 'recognize_text'; id: number; image: ImageSource; options?: RecognizeTextOptions }
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

/**
 * Error classes the engine reports; `message` is always one line for the user. `bad_model` also
 * covers missing or unloadable text-OCR models; `cancelled` ends a cancelled `recognize_text`
 * (a cancelled generation ends with `done`, finish_reason 'cancelled', and its partial answer).
 */
export type EngineErrorCode = 'bad_image' | 'bad_model' | 'bad_request' | 'not_loaded' | 'cancelled' | 'internal';

/** Engine → host. Every request with an id gets exactly one `loaded`/`done`/`recognized` or `error` with that id. */
export type EngineEvent =
  | { type: 'ready'; pid: number }
  | { type: 'loaded'; id: number; info: LoadedModelInfo }
  | { type: 'token'; id: number; token_id: number; text: string }
  | { type: 'done'; id: number; result: GenerateResult }
  | { type: 'recognized'; id: number; result: RecognizeTextResult }
  | { type: 'error'; id: number; code: EngineErrorCode; message: string };
