/**
 * The Node implementation of the typed API (main/api/contract.ts): the conversation store plus
 * the engine. The Electron main process serves it over IPC and `omnifusion serve` over
 * HTTP + WebSocket; both get exactly this object. This file composes it: it takes the data
 * folder, opens the store, the engine and the settings into one shared context
 * (service/context.ts) and merges the domain modules' handlers (service/*.ts), each call handled
 * by exactly one of them.
 */
import type { ApiErrorPayload, ApiEvents, EventName, OmniFusionApi } from '../api/contract.js';
import type { ServedAttachment } from './images/served.js';
import { lockDataDir, openStore, type DataLock } from './store/index.js';
import { EngineHost } from '../engine/host.js';
import { createAttachments } from './service/attachments.js';
import { createCapture } from './service/capture.js';
import { createContext } from './service/context.js';
import { createConversations } from './service/conversations.js';
import { describeError } from './service/errors.js';
import { createFormulaOcr } from './service/formula-ocr.js';
import { createGeneration } from './service/generation.js';
import { dispatch, handlerTable } from './service/handlers.js';
import { createImageTexts } from './service/image-text.js';
import { createLoadedModel } from './service/loaded-model.js';
import { createModelCalls } from './service/models.js';
import { createNotices } from './service/notices.js';
import type { ApiServiceOptions } from './service/options.js';
import { createSettingsCalls, loadSettings } from './service/user-settings.js';

export type { ApiServiceOptions, CaptureController } from './service/options.js';
export { ApiRequestError } from './service/errors.js';
export { MAX_ATTACHMENT_NAME, MAX_FOLDER_NAME, MAX_TITLE } from './service/validation.js';
export { pathTo } from './service/convert.js';
export { describeModels, partialDownloadBytes, type ModelsView } from './service/models-view.js';
export type { Cancellable, InferenceEngine } from './service/engine-port.js';

/** The API plus what the transports need: attachment files, error payloads, shutdown. */
export interface ApiService extends OmniFusionApi {
  /** Push an event that originates in the shell (e.g. capture.attached) to every client. */
  publish<E extends EventName>(event: E, payload: ApiEvents[E]): void;
  /** The page-safe rendition of an attachment (images/served.ts); undefined when unknown. */
  attachmentFile(sha256: string): Promise<ServedAttachment | undefined>;
  describeError(err: unknown): ApiErrorPayload;
  close(): Promise<void>;
}

/**
 * Take the data folder (an exclusive lock: one OmniFusion process per folder), open the store,
 * start the engine (loading the model in the background) and return the API. `close()` releases
 * the folder.
 * @throws StoreError 'locked' when another process (serve or the app) uses the data folder;
 *   StoreError when the history database cannot be opened (e.g. from a newer app version).
 */
export async function createApiService(options: ApiServiceOptions): Promise<ApiService> {
  const dataLock = await lockDataDir(options.dataDir, {
    onLost: (message) => process.stderr.write(`note: ${message}\n`),
    onWait: (message) => process.stderr.write(`note: ${message}\n`),
  });
  try {
    return await openApiService(options, dataLock);
  } catch (err) {
    await dataLock.release();
    throw err;
  }
}

async function openApiService(options: ApiServiceOptions, dataLock: DataLock): Promise<ApiService> {
  const store = openStore({ dataDir: options.dataDir });
  const engine = options.engine ?? new EngineHost(options.launcher ? { launcher: options.launcher } : {});
  const loaded = await loadSettings(options.dataDir, options.platform ?? process.platform);
  const notices = createNotices(loaded.notes, store.recovered);
  const ctx = createContext(options, store, engine, loaded.file, loaded.settings);

  const capture = createCapture(ctx);
  const model = createLoadedModel(ctx);
  const models = createModelCalls(ctx, model);
  await model.loadAtStart();
  const texts = createImageTexts(ctx);
  const attachments = createAttachments(ctx, texts);
  const conversations = createConversations(ctx);
  const handlers = handlerTable(
    conversations.handlers,
    attachments.handlers,
    texts.handlers,
    createGeneration(ctx, { loaded: model, texts, attachments, conversations }),
    model.handlers,
    notices,
    models.handlers,
    createFormulaOcr(ctx, model),
    createSettingsCalls(ctx, { capture, loaded: model }),
    capture.handlers,
  );

  return {
    publish: ctx.emit,
    call: (name, request) => dispatch(handlers, name, request),
    on: ctx.on,
    attachmentFile: attachments.file,
    describeError,
    async close() {
      ctx.closing = true;
      await models.close();
      for (const handle of ctx.generations.values()) handle.cancel();
      texts.cancelAll();
      await engine.stop();
      store.close();
      await dataLock.release();
    },
  };
}
