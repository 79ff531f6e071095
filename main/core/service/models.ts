/**
 * The models calls: the catalog (models.catalog), downloads running in the background with
 * their progress events (models.pull, models.cancel), importing a folder (models.import),
 * removing (models.remove) and choosing the active model (models.use). What is loaded is
 * loaded-model.ts's; how the list looks is models-view.ts's.
 */
import os from 'node:os';
import type { ModelProgress } from '../../api/contract.js';
import {
  CatalogError,
  DEFAULT_CATALOG_PATH,
  DEFAULT_HUB_URL,
  DTYPES,
  ModelError,
  findModel,
  importModel,
  isAlreadyInstalled,
  loadCatalog,
  modelDir as installedModelDir,
  pullModel,
  readInstalled,
  removeModel,
  type Catalog,
  type CatalogModel,
  type Dtype,
  type PullProgress,
} from '../models/index.js';
import type { ServiceContext } from './context.js';
import { ApiRequestError, oneLineMessage } from './errors.js';
import type { Handlers } from './handlers.js';
import type { LoadedModel } from './loaded-model.js';
import { describeModels } from './models-view.js';

/** The models calls and the downloads they started. */
export interface ModelCalls {
  handlers: Pick<Handlers, 'models.catalog' | 'models.pull' | 'models.cancel' | 'models.remove' | 'models.import' | 'models.use'>;
  /** Stop every running download and wait for each to end (what was downloaded is kept for a resume). */
  close(): Promise<void>;
}

/** A download's progress as the API reports it. */
function progressOf(p: PullProgress): ModelProgress {
  return {
    id: p.modelId,
    phase: p.phase,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    rateBytesPerSec: p.rateBytesPerSec,
    etaSec: p.etaSec,
    fileIndex: p.fileIndex,
    fileCount: p.fileCount,
    ...(p.file !== undefined ? { file: p.file } : {}),
  };
}

/** The end of a pull or import that failed: its last progress with the error (bytes never go back). */
function failedProgress(last: ModelProgress, err: unknown): ModelProgress {
  const code = err instanceof ModelError ? err.code : err instanceof ApiRequestError ? err.code : 'internal';
  const message = oneLineMessage(err);
  return { ...last, phase: code === 'cancelled' ? 'cancelled' : 'failed', rateBytesPerSec: 0, etaSec: null, error: { code, message } };
}

/** The models calls of the service of `ctx`; `loaded` is the model the engine runs. */
export function createModelCalls(ctx: ServiceContext, loaded: LoadedModel): ModelCalls {
  const { options, modelsDir, emit } = ctx;
  const hubUrl = options.hubUrl ?? DEFAULT_HUB_URL;
  const catalogPath = options.catalogPath ?? DEFAULT_CATALOG_PATH;
  const ramBytes = options.ramBytes ?? os.totalmem();
  /** Downloads running in this service, by model id. */
  const pulls = new Map<string, { controller: AbortController; last: ModelProgress; done: Promise<void> }>();

  /** The catalog, or the one-line reason it cannot be read. */
  const readCatalog = async (): Promise<{ catalog?: Catalog; error?: string }> => {
    try {
      return { catalog: await loadCatalog(catalogPath) };
    } catch (err) {
      if (err instanceof CatalogError) return { error: err.message };
      throw err;
    }
  };

  /** The catalog's model `id`. @throws ApiRequestError (bad_request: no id or no catalog; not_found: not in it). */
  const catalogModel = async (id: unknown): Promise<CatalogModel> => {
    if (typeof id !== 'string' || !id) throw new ApiRequestError('bad_request', 'give the id of a catalog model');
    const { catalog, error } = await readCatalog();
    if (!catalog) throw new ApiRequestError('bad_request', error!);
    try {
      return findModel(catalog, id);
    } catch (err) {
      if (err instanceof CatalogError) throw new ApiRequestError('not_found', err.message);
      throw err;
    }
  };

  /** Start pulling a catalog model in the background; events report progress and the end. */
  const startPull = (model: CatalogModel, dtype: Dtype): void => {
    const controller = new AbortController();
    const id = model.id;
    const entry = {
      controller,
      last: { id, phase: 'resolving', bytesDone: 0, bytesTotal: 0, rateBytesPerSec: 0, etaSec: null, fileIndex: 0, fileCount: 0 } as ModelProgress,
      done: Promise.resolve(),
    };
    pulls.set(id, entry);
    emit('models.progress', entry.last);
    entry.done = pullModel(model, {
      ...options.download,
      modelsDir,
      dtype,
      baseUrl: hubUrl,
      ...(options.hubToken ? { token: options.hubToken } : {}),
      signal: controller.signal,
      onProgress: (p) => {
        entry.last = progressOf(p);
        emit('models.progress', entry.last);
      },
    }).then(
      (result) => {
        pulls.delete(id);
        if (result.alreadyInstalled) {
          const bytes = Object.values(result.marker.files).reduce((sum, f) => sum + f.bytes, 0);
          const fileCount = Object.keys(result.marker.files).length;
          emit('models.progress', { id, phase: 'done', bytesDone: bytes, bytesTotal: Math.max(bytes, entry.last.bytesTotal), rateBytesPerSec: 0, etaSec: 0, fileIndex: Math.max(0, fileCount - 1), fileCount });
        }
        emit('models.installed', { id, ...(result.marker.dtype ? { dtype: result.marker.dtype } : {}), from: 'hub' });
      },
      (err: unknown) => {
        pulls.delete(id);
        emit('models.progress', failedProgress(entry.last, err));
      },
    );
  };

  /** The --model folder while it is what the engine runs (not replaced by models.use). */
  const startFolder = (): { startFolder?: { dir: string; name: string; family: string } } => {
    const dir = ctx.options.modelDir;
    if (!dir || loaded.currentDir() !== dir) return {};
    const status = loaded.status();
    return { startFolder: { dir, name: status.name, family: status.family } };
  };

  const handlers: ModelCalls['handlers'] = {
    'models.catalog': async () => {
      const { catalog, error } = await readCatalog();
      return describeModels({
        ...(catalog ? { catalog } : {}),
        ...(error ? { catalogError: error } : {}),
        modelsDir,
        ramBytes,
        activeId: loaded.activeId(),
        pulling: new Map([...pulls].map(([id, p]) => [id, p.last])),
        ...startFolder(),
      });
    },
    'models.pull': async ({ id, dtype }) => {
      const model = await catalogModel(id);
      if (pulls.has(model.id)) throw new ApiRequestError('bad_request', `${model.name} is already downloading`);
      if (model.source.kind !== 'hub') throw new ApiRequestError('bad_request', `${model.name} has no download: export it (${model.source.exporter}) and import the folder`);
      if (dtype !== undefined && (!(DTYPES as readonly string[]).includes(dtype) || !(dtype in model.dtypes))) {
        throw new ApiRequestError('bad_request', `${model.name} has no ${String(dtype)} weights (it has: ${Object.keys(model.dtypes).join(', ')})`);
      }
      const chosen = (dtype as Dtype | undefined) ?? model.defaultDtype.cpu;
      startPull(model, chosen);
      return { id: model.id, dtype: chosen, started: true };
    },
    'models.cancel': async ({ id }) => {
      const running = pulls.get(id);
      if (!running) return { cancelled: false };
      running.controller.abort();
      await running.done;
      return { cancelled: true };
    },
    'models.remove': async ({ id }) => {
      if (typeof id !== 'string' || !id) throw new ApiRequestError('bad_request', 'give the id of an installed model');
      installedModelDir(modelsDir, id); // checks the id
      const running = pulls.get(id);
      if (running) {
        running.controller.abort();
        await running.done;
      }
      await loaded.deactivate(id);
      return removeModel(modelsDir, id);
    },
    'models.import': async ({ dir, id, replace, askToReplace }) => {
      if (typeof dir !== 'string' || !dir.trim()) throw new ApiRequestError('bad_request', 'give the folder to import');
      if (id !== undefined && (typeof id !== 'string' || !id)) throw new ApiRequestError('bad_request', 'the id to import as must be a model id');
      if (replace !== undefined && typeof replace !== 'boolean') throw new ApiRequestError('bad_request', 'replace must be true or false');
      if (askToReplace !== undefined && typeof askToReplace !== 'boolean') throw new ApiRequestError('bad_request', 'askToReplace must be true or false');
      const { catalog } = await readCatalog();
      let last: ModelProgress | undefined;
      try {
        const installed = await importModel(dir.trim(), {
          modelsDir,
          ...(catalog ? { catalog } : {}),
          ...(id ? { id } : {}),
          ...(replace ? { replace: true } : {}),
          ...(options.download?.statfs ? { statfs: options.download.statfs } : {}),
          onProgress: (p) => {
            last = progressOf(p);
            emit('models.progress', last);
          },
        });
        emit('models.installed', { id: installed.id, ...(installed.marker.dtype ? { dtype: installed.marker.dtype } : {}), from: 'import' });
        return { id: installed.id };
      } catch (err) {
        if (last) emit('models.progress', failedProgress(last, err));
        if (isAlreadyInstalled(err) && askToReplace) return { id: String(err.details.id), alreadyInstalled: true };
        if (isAlreadyInstalled(err)) throw new ApiRequestError('bad_request', `${err.message}; import it with replace to install over it, or under another id`);
        throw err;
      }
    },
    'models.use': async ({ id }) => {
      if (typeof id !== 'string' || !id) throw new ApiRequestError('bad_request', 'give the id of an installed model');
      const installed = await readInstalled(modelsDir, id);
      if (!installed) throw new ApiRequestError('not_found', `model "${id}" is not installed (download it first)`);
      await loaded.activate(id, installed.dir, installed.marker.name);
      return loaded.status();
    },
  };

  return {
    handlers,
    async close() {
      for (const pull of pulls.values()) pull.controller.abort();
      await Promise.all([...pulls.values()].map((p) => p.done));
    },
  };
}
