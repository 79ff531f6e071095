/**
 * The engine's request loop, separate from the transport so it can be tested in-process:
 * requests are served one at a time in arrival order; `cancel` is handled immediately.
 */
import { ImageInputError } from '../../core/images/index.js';
import { GenerationConfigError } from '../generation/index.js';
import { ModelPackageError } from '../package/manifest.js';
import { BadRequestError, VlmPipeline } from '../pipeline.js';
import type { EngineErrorCode, EngineEvent, EngineRequest } from '../protocol.js';

/** A message channel to the host. */
export interface EnginePort {
  send(event: EngineEvent): void;
  onMessage(listener: (request: EngineRequest) => void): void;
}

/** Map an error to the protocol's code and a one-line message (stack traces only for our own bugs). */
export function describeError(err: unknown): { code: EngineErrorCode; message: string } {
  if (err instanceof ImageInputError) return { code: 'bad_image', message: err.message };
  if (err instanceof ModelPackageError) return { code: 'bad_model', message: err.message };
  if (err instanceof BadRequestError || err instanceof GenerationConfigError) return { code: 'bad_request', message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: `internal engine error: ${message.split('\n')[0]}` };
}

/** Serves load/generate/cancel requests on one port. */
export class EngineServer {
  private pipeline: VlmPipeline | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly cancelled = new Set<number>();

  constructor(private readonly port: EnginePort) {}

  start(): void {
    this.port.onMessage((request) => this.receive(request));
    this.port.send({ type: 'ready', pid: process.pid });
  }

  private receive(request: EngineRequest): void {
    if (request.type === 'cancel') {
      this.cancelled.add(request.id);
      return;
    }
    if (request.type === 'shutdown') {
      void this.queue.then(async () => {
        await this.pipeline?.dispose();
        process.exit(0);
      });
      return;
    }
    this.queue = this.queue.then(() => this.serve(request));
  }

  private async serve(request: Extract<EngineRequest, { type: 'load' | 'generate' }>): Promise<void> {
    try {
      if (request.type === 'load') {
        const next = await VlmPipeline.load(request.modelDir, {
          executionProvider: request.executionProvider,
          ...(request.threads !== undefined ? { threads: request.threads } : {}),
        });
        await this.pipeline?.dispose();
        this.pipeline = next;
        this.port.send({ type: 'loaded', id: request.id, info: next.info });
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
      const { code, message } = describeError(err);
      if (code === 'internal') process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      this.port.send({ type: 'error', id: request.id, code, message });
    } finally {
      this.cancelled.delete(request.id);
    }
  }
}
