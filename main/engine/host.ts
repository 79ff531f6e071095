/**
 * The engine host for Node callers (CLI, server, tests): forks the engine process, matches
 * events to requests, streams tokens, cancels, and restarts the process after a crash (the
 * request in flight fails with EngineError 'crashed'; the next request reloads the model).
 * The Electron app uses the same protocol over utilityProcess.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { engineEnvironment } from './process/environment.js';
import type { ExecutionProvider } from './execution-provider.js';
import type { GraphDtype } from './package/manifest-types.js';
import type {
  EngineErrorCode,
  EngineEvent,
  EngineRequest,
  GenerateRequest,
  GenerateResult,
  ImageSource,
  LoadedModelInfo,
  RecognizeTextOptions,
  RecognizeTextResult,
} from './protocol.js';

/** A failed engine request; `message` is one line for the user. */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode | 'crashed',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: EngineError): void;
  onToken?: (tokenId: number, text: string) => void;
}

/** A running generation: its result, and a way to stop it between decoder steps. */
export interface GenerationHandle {
  result: Promise<GenerateResult>;
  cancel(): void;
}

/** A running page-text recognition: its result, and a way to stop it between graph runs (the result then rejects with EngineError 'cancelled'). */
export interface TextRecognitionHandle {
  result: Promise<RecognizeTextResult>;
  cancel(): void;
}

/** A started engine process, whatever starts it (Node fork here, Electron utilityProcess in main/app). */
export interface EngineProcess {
  readonly pid: number | undefined;
  send(request: EngineRequest): void;
  onMessage(listener: (event: EngineEvent) => void): void;
  /** Called once when the process is gone; `why` is e.g. "exit code 1" or "signal SIGKILL". */
  onExit(listener: (why: string) => void): void;
  kill(): void;
}

/** Starts an engine process running `entry` (the compiled or source engine-main file). */
export type EngineLauncher = (entry: string) => EngineProcess;

/** Options of the engine process. */
export interface EngineHostOptions {
  /** Extra environment for the engine process (Node launcher). */
  env?: NodeJS.ProcessEnv;
  /** How to start the process; default: a Node child process with an IPC channel. */
  launcher?: EngineLauncher;
}

/** Path of the engine entry next to this file, .ts when running from source under tsx. */
export function engineEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return fileURLToPath(new URL(`./process/engine-main.${ext}`, import.meta.url));
}

/** The Node launcher: `child_process.fork` with structured-clone IPC (image bytes travel as Uint8Array). */
export function nodeLauncher(env: NodeJS.ProcessEnv = {}): EngineLauncher {
  return (entry) => {
    const child: ChildProcess = fork(entry, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Its own process group: a terminal's Ctrl+C reaches the host, which cancels and keeps the
      // partial answer, even while the engine is still starting. It exits when the IPC channel closes.
      // (On Windows a detached child would get a console window of its own.)
      detached: process.platform !== 'win32',
      env: engineEnvironment(process.env, env),
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (request) => {
        if (child.connected) child.send(request);
      },
      onMessage: (listener) => child.on('message', (m) => listener(m as EngineEvent)),
      onExit: (listener) => {
        let told = false;
        const tell = (why: string): void => {
          if (!told) listener(why);
          told = true;
        };
        child.once('error', (err) => tell(`failed to start: ${err.message}`));
        child.once('exit', (code, signal) => tell(signal ? `signal ${signal}` : `exit code ${code}`));
      },
      kill: () => child.kill('SIGKILL'),
    };
  };
}

/** How to load a model beyond its folder, provider and threads. */
export interface LoadModelOptions {
  /** The onnx variant of an onnx-community folder that ships several (fp32, fp16, int8, q4f16, …). */
  dtype?: GraphDtype;
}

/** Supervises one engine process. */
export class EngineHost {
  private child: EngineProcess | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lastLoad: { modelDir: string; executionProvider: ExecutionProvider; threads?: number; options: LoadModelOptions } | undefined;
  private needsReload = false;

  constructor(private readonly options: EngineHostOptions = {}) {}

  /** The engine's process id, once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const launch = this.options.launcher ?? nodeLauncher(this.options.env);
    const child = launch(engineEntry());
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.onMessage((event) => {
        if (event.type === 'ready') resolve();
        else this.dispatch(event);
      });
      child.onExit((why) => {
        reject(new EngineError('crashed', `engine process stopped (${why})`));
        this.onExit(why);
      });
    });
    return this.ready;
  }

  private onExit(why: string): void {
    this.child = undefined;
    this.ready = undefined;
    this.needsReload = this.lastLoad !== undefined;
    for (const [id, p] of this.pending) {
      p.reject(new EngineError('crashed', `engine process stopped (${why}) during the request`));
      this.pending.delete(id);
    }
  }

  private dispatch(event: EngineEvent): void {
    if (event.type === 'ready') return;
    const p = this.pending.get(event.id);
    if (!p) return;
    if (event.type === 'token') {
      p.onToken?.(event.token_id, event.text);
      return;
    }
    this.pending.delete(event.id);
    if (event.type === 'error') p.reject(new EngineError(event.code, event.message));
    else p.resolve(event.type === 'loaded' ? event.info : event.result);
  }

  private async request<T>(make: (id: number) => EngineRequest, onToken?: Pending['onToken'], cancelled?: () => boolean): Promise<T> {
    await this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(onToken ? { onToken } : {}) });
      this.child!.send(make(id));
      // A cancel that came before the request had an id is delivered right behind it.
      if (cancelled?.()) this.child!.send({ type: 'cancel', id });
    });
  }

  /**
   * Load a model package in the engine (replacing the previous one).
   * @param options.dtype which onnx variant of an onnx-community folder to load (default: the first
   *   present of fp32, fp16, q8, int8, …); refused for an OmniFusion package.
   * @throws EngineError 'bad_model' with a one-line message (a dtype the folder lacks names the ones it has).
   */
  async load(modelDir: string, executionProvider: ExecutionProvider = 'cpu', threads?: number, options: LoadModelOptions = {}): Promise<LoadedModelInfo> {
    this.lastLoad = { modelDir, executionProvider, ...(threads !== undefined ? { threads } : {}), options };
    this.needsReload = false;
    return this.request<LoadedModelInfo>((id) => ({
      type: 'load',
      id,
      modelDir,
      executionProvider,
      ...(threads !== undefined ? { threads } : {}),
      ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    }));
  }

  /**
   * Start answering a request; tokens stream through `onToken` as text deltas.
   * @throws (via result) EngineError with code bad_image / bad_request / crashed / …
   */
  generate(request: GenerateRequest, onToken?: (tokenId: number, text: string) => void): GenerationHandle {
    let requestId: number | undefined;
    let cancelled = false;
    const result = (async () => {
      if (this.needsReload && this.lastLoad) await this.load(this.lastLoad.modelDir, this.lastLoad.executionProvider, this.lastLoad.threads, this.lastLoad.options);
      return this.request<GenerateResult>(
        (id) => {
          requestId = id;
          return { type: 'generate', id, request };
        },
        onToken,
        () => cancelled,
      );
    })();
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      if (requestId !== undefined) this.child?.send({ type: 'cancel', id: requestId });
    };
    return { result, cancel };
  }

  /**
   * Read the text of a page image in the engine process (PP-OCRv4; see engine/text-ocr). Needs no
   * loaded model: the OCR sessions are created on the first call. Requests go to the engine's
   * text-OCR queue, which runs beside generation (see engine-server.ts), so reading a page never
   * waits for an answer to finish and delays a running answer by at most one graph run per step.
   * A crashed engine is restarted for the next request (the VLM is reloaded only by the next generate).
   * @throws (via result) EngineError with code bad_image (unreadable image), bad_request (bad
   *   options), bad_model (text-OCR models missing), cancelled, crashed, internal.
   */
  recognizeText(image: ImageSource, options?: RecognizeTextOptions): TextRecognitionHandle {
    let requestId: number | undefined;
    let cancelled = false;
    const result = this.request<RecognizeTextResult>(
      (id) => {
        requestId = id;
        return { type: 'recognize_text', id, image, ...(options ? { options } : {}) };
      },
      undefined,
      () => cancelled,
    );
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      if (requestId !== undefined) this.child?.send({ type: 'cancel', id: requestId });
    };
    return { result, cancel };
  }

  /** Stop the engine process. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.onExit(() => resolve());
      child.send({ type: 'shutdown' });
      setTimeout(() => child.kill(), 5000).unref();
    });
  }
}
