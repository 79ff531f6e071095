/**
 * The engine as the service reaches it (the port): load a model, answer a question with streamed
 * tokens, read the text of a page image, stop. The service depends on this interface only.
 * EngineHost (main/engine/host.ts, which supervises the local engine process) implements it,
 * checked below at compile time; a remote engine (an OpenAI-compatible server such as vLLM,
 * Ollama or llama.cpp) can implement it later. Requests and results are the engine protocol's
 * types (main/engine/protocol.ts).
 */
import type { EngineHost } from '../../engine/host.js';
import type { ExecutionProvider } from '../../engine/session.js';
import type { GenerateRequest, GenerateResult, ImageSource, LoadedModelInfo, RecognizeTextResult } from '../../engine/protocol.js';

/**
 * What engines reject with: `code` is the protocol's EngineErrorCode (bad_model, bad_image,
 * bad_request, cancelled, internal, …) or 'crashed' when the engine went away during the request
 * (the service keeps a crashed answer as partial); `message` is one line for the user.
 */
export { EngineError } from '../../engine/host.js';

/** A running engine request: its result, and a way to stop it early (the result then settles soon). */
export interface Cancellable<T> {
  result: Promise<T>;
  cancel(): void;
}

/** The engine the service runs on. Every failure is an EngineError (see above). */
export interface InferenceEngine {
  /**
   * Load the model package in `modelDir` on `executionProvider` (replacing the model loaded
   * before); resolves with what was loaded (the provider it really runs on, where it puts OCR text).
   * @throws EngineError 'bad_model' (one line) when the folder is not a model the engine reads.
   */
  load(modelDir: string, executionProvider: ExecutionProvider): Promise<LoadedModelInfo>;
  /**
   * Answer `request` with the loaded model; text deltas stream through `onToken` (token id, text).
   * A cancelled answer resolves with finish_reason 'cancelled' and what was generated so far.
   */
  generate(request: GenerateRequest, onToken?: (tokenId: number, text: string) => void): Cancellable<GenerateResult>;
  /** Read the text of a page image (needs no loaded model); a cancelled reading rejects with EngineError 'cancelled'. */
  recognizeText(image: ImageSource): Cancellable<RecognizeTextResult>;
  /** Unload the model and release the engine (the host stops its process); a later call starts it again. */
  stop(): Promise<void>;
}

/** Compile-time check that the local engine host is an InferenceEngine (an error here names the mismatch). */
type Implements<Port, Impl extends Port> = [Port, Impl];
export type EngineHostIsAnInferenceEngine = Implements<InferenceEngine, EngineHost>;
