/**
 * The model the engine runs: its status (models.status and the `models.status` event, with the
 * defaults the engine reports: system text, decoding), loading a folder (the --model folder or
 * the active installed model at start, after models.use or a device change), waiting for the
 * latest load before an answer (require), and unloading the active model before it is removed
 * (deactivate).
 */
import type { ModelStatus } from '../../api/contract.js';
import { readInstalled } from '../models/index.js';
import type { ServiceContext } from './context.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';

/** The loaded model's state and the ways to change it. */
export interface LoadedModel {
  /** What is loaded (or loading, failed, none) now. */
  status(): ModelStatus;
  /** Whether the loaded model's manifest places OCR text in its prompt (prompt.ocr_text). */
  takesOcrText(): boolean;
  /** The folder the engine loads or has loaded (--model, or the active installed model); undefined for none. */
  currentDir(): string | undefined;
  /** The installed model chosen with models.use (settings.activeModel) when it is what is loaded, else null. */
  activeId(): string | null;
  /** Load `dir` in the engine (replacing the model loaded before); the status follows. Never rejects: a failure is the status 'error'. */
  load(dir: string, name?: string): Promise<void>;
  /** Make installed model `id` (in `dir`) the active one: remembered in the settings (saved before this resolves), loading in the background. */
  activate(id: string, dir: string, name: string): Promise<void>;
  /** Wait for the latest load (a load started meanwhile replaces it) and refuse when no model is ready. @throws ApiRequestError (engine). */
  require(): Promise<void>;
  /** Stop using `id` if it is the active model: unload it (so its files can go; running answers are stopped), forget it in the settings. */
  deactivate(id: string): Promise<void>;
  /** At start: load the --model folder, else the active installed model of the settings (if still installed). */
  loadAtStart(): Promise<void>;
  handlers: Pick<Handlers, 'models.status'>;
}

/** The loaded-model state of the service of `ctx` (nothing loaded until load or loadAtStart). */
export function createLoadedModel(ctx: ServiceContext): LoadedModel {
  const { options, engine } = ctx;
  let status: ModelStatus = { name: '', family: '', executionProvider: '', state: 'none' };
  let takesOcrText = false;
  let activeId: string | null = null;
  let currentModelDir: string | undefined;
  /** Settles when the latest model load has ended (ready or error). */
  let modelReady: Promise<void> = Promise.resolve();

  const setStatus = (next: ModelStatus): void => {
    status = next;
    ctx.emit('models.status', status);
  };

  const load = (dir: string, name = ''): Promise<void> => {
    currentModelDir = dir;
    const run = (async () => {
      setStatus({ name, family: '', executionProvider: '', state: 'loading' });
      try {
        const info = await engine.load(dir, options.executionProvider ?? ctx.settings.device);
        if (currentModelDir !== dir) return;
        takesOcrText = info.ocr_text_position !== undefined;
        const d = info.defaults;
        const defaults = d && { systemPrompt: d.system, do_sample: d.do_sample, temperature: d.temperature, top_p: d.top_p, max_new_tokens: d.max_new_tokens, num_beams: d.num_beams };
        setStatus({ name: info.name, family: info.family, executionProvider: info.execution_provider, ...(info.note ? { note: info.note } : {}), state: 'ready', ...(defaults ? { defaults } : {}) });
      } catch (err) {
        if (currentModelDir !== dir) return;
        takesOcrText = false;
        setStatus({ ...status, state: 'error', error: (err as Error).message });
      }
    })();
    modelReady = run;
    return run;
  };

  return {
    status: () => status,
    takesOcrText: () => takesOcrText,
    currentDir: () => currentModelDir,
    activeId: () => activeId,
    load,
    async activate(id, dir, name) {
      activeId = id;
      ctx.settings = { ...ctx.settings, activeModel: id };
      await ctx.saveSettings();
      void load(dir, name);
    },
    async require() {
      // A models.use while waiting replaces the load: wait for the latest one.
      for (let waited: Promise<void> | undefined; waited !== modelReady; ) {
        waited = modelReady;
        await waited;
      }
      if (status.state !== 'ready') {
        throw new ApiRequestError('engine', status.state === 'error' ? `the model could not be loaded: ${status.error}` : 'no model is loaded');
      }
    },
    async deactivate(id) {
      if (ctx.settings.activeModel === id) {
        delete ctx.settings.activeModel;
        await ctx.saveSettings();
      }
      if (activeId !== id) return;
      activeId = null;
      currentModelDir = undefined;
      takesOcrText = false;
      for (const handle of ctx.generations.values()) handle.cancel();
      await engine.stop();
      setStatus({ name: '', family: '', executionProvider: '', state: 'none' });
    },
    async loadAtStart() {
      if (options.modelDir) {
        void load(options.modelDir);
      } else if (typeof ctx.settings.activeModel === 'string') {
        const installed = await readInstalled(ctx.modelsDir, ctx.settings.activeModel).catch(() => undefined);
        if (installed) {
          activeId = installed.id;
          void load(installed.dir, installed.marker.name);
        }
      }
    },
    handlers: {
      'models.status': () => status,
    },
  };
}
