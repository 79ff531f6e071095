/**
 * The engine host for Node callers (CLI, server, tests): forks the engine process, matches
 * events to requests, streams tokens, cancels, and restarts the process after a crash (the
 * request in flight fails with EngineError 'crashed'; the next request reloads the model).
 * The Electron app uses the same protocol over utilityProcess.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionProvider } from './session.js';
import type { EngineErrorCode, EngineEvent, EngineRequest, GenerateRequest, GenerateResult, LoadedModelInfo } from './protocol.js';

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

/** Options of the engine process. */
export interface EngineHostOptions {
  /** Extra environment for the engine process. */
  env?: NodeJS.ProcessEnv;
}

/** Path of the engine entry next to this file, .ts when running from source under tsx. */
function engineEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return fileURLToPath(new URL(`./process/engine-main.${ext}`, import.meta.url));
}

/** Supervises one engine process. */
export class EngineHost {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lastLoad: { modelDir: string; executionProvider: ExecutionProvider; threads?: number } | undefined;
  private needsReload = false;

  constructor(private readonly options: EngineHostOptions = {}) {}

  /** The engine's process id, once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    const child = fork(engineEntry(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...this.options.env },
    });
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new EngineError('crashed', `engine process failed to start: ${err.message}`)));
      child.on('message', (event: EngineEvent) => {
        if (event.type === 'ready') resolve();
        else this.dispatch(event);
      });
      child.once('exit', (code, signal) => {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
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
   * @throws EngineError 'bad_model' with a one-line message.
   */
  async load(modelDir: string, executionProvider: ExecutionProvider = 'cpu', threads?: number): Promise<LoadedModelInfo> {
    this.lastLoad = { modelDir, executionProvider, ...(threads !== undefined ? { threads } : {}) };
    this.needsReload = false;
    return this.request<LoadedModelInfo>((id) => ({ type: 'load', id, modelDir, executionProvider, ...(threads !== undefined ? { threads } : {}) }));
  }

  /**
   * Start answering a request; tokens stream through `onToken` as text deltas.
   * @throws (via result) EngineError with code bad_image / bad_request / crashed / …
   */
  generate(request: GenerateRequest, onToken?: (tokenId: number, text: string) => void): GenerationHandle {
    let requestId: number | undefined;
    let cancelled = false;
    const result = (async () => {
      if (this.needsReload && this.lastLoad) await this.load(this.lastLoad.modelDir, this.lastLoad.executionProvider, this.lastLoad.threads);
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

  /** Stop the engine process. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.send({ type: 'shutdown' });
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  }
}
