/**
 * The Node implementation of the typed API (main/api/contract.ts): the conversation store plus
 * the engine host. The Electron main process serves it over IPC and `omnifusion serve` over
 * HTTP + WebSocket; both get exactly this object.
 */
import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type {
  ApiErrorPayload,
  ApiEvents,
  AttachmentInfo as ApiAttachment,
  CallName,
  CallRequest,
  CallResponse,
  ConversationSummary as ApiConversationSummary,
  EventName,
  Message as ApiMessage,
  ModelStatus,
  AppNotice,
  OmniFusionApi,
  ImageText,
  ModelEntry,
  ModelProgress,
  ModelsCatalog,
  Settings,
} from '../api/contract.js';
import { readSettingsFile, settingProblem, writeSettingsFile, type StoredSettings } from './settings.js';
import { defaultHotkey, isAvoidedAccelerator, CAPTURE_COMMAND, type CaptureStatus } from '../api/capture.js';
import { decodeImage, ImageInputError } from '../media/images/index.js';
import { servedRendition, storedRendition, type ServedAttachment } from './images/served.js';
import { questionTooLong, searchTooLong } from '../api/limits.js';
import { failedLayout, imageTextFromStored, layoutOf, pendingImageText, PAGE_TEXT_SOURCE, useOcrTokens } from './page-text.js';
import { ocrRequest, readOcrAnswer } from './ocr.js';
import { lockDataDir, openStore, StoreError, type ConversationStore, type DataLock, type ConversationSummary as StoreConversationSummary, type Message, type AttachmentInfo } from './store/index.js';
import { EngineError, EngineHost, type EngineLauncher, type GenerationHandle } from '../engine/host.js';
import type { ExecutionProvider } from '../engine/session.js';
import type { ChatTurn, GenerateResult } from '../engine/protocol.js';
import {
  CatalogError,
  DEFAULT_CATALOG_PATH,
  DEFAULT_HUB_URL,
  DTYPES,
  ModelError,
  PARTIAL_DIR,
  approxDownloadBytes,
  defaultModelChoice,
  filesFor,
  findModel,
  importModel,
  isAlreadyInstalled,
  listInstalled,
  loadCatalog,
  modelDir as installedModelDir,
  pullModel,
  readInstalled,
  removeModel,
  type Catalog,
  type CatalogModel,
  type Dtype,
  type InstalledModel,
  type PullOptions,
  type PullProgress,
} from './models/index.js';

/** Where the app keeps its data and which model it runs. */
export interface ApiServiceOptions {
  /** The app's data folder: history database, attachments, settings. */
  dataDir: string;
  /** Model package folder; without one, sending a message reports that no model is loaded. */
  modelDir?: string;
  executionProvider?: ExecutionProvider;
  /** How the engine process is started (Electron passes a utilityProcess launcher). */
  launcher?: EngineLauncher;
  /** The desktop shell's capture; without it (the browser UI) capture.status is 'unavailable'. */
  capture?: CaptureController;
  /** process.platform, for the default hotkey and the system shortcuts it must avoid. */
  platform?: string;
  /** Read the text of every added image in the background (default true). */
  readImageText?: boolean;
  /** Folder of installed models (default: `<dataDir>/models`). */
  modelsDir?: string;
  /** Hub base URL models are downloaded from (default https://huggingface.co). */
  hubUrl?: string;
  /** Hub access token for gated or private models (sent only to hubUrl's origin). */
  hubToken?: string;
  /** The model catalog file (default: resources/catalog.json). */
  catalogPath?: string;
  /** Download tuning (tests): retries and their sleep, progress interval, stall timeout, the free-space probe. */
  download?: Pick<PullOptions, 'retry' | 'sleep' | 'random' | 'progressIntervalMs' | 'stallTimeoutMs' | 'statfs'>;
  /** Physical memory the default model is chosen for (default os.totalmem()). */
  ramBytes?: number;
}

/** The Electron shell's capture: its hotkey follows settings.captureHotkey; start() runs the flow. */
export interface CaptureController {
  /** Register `accelerator` (releasing the previous one) and report the result. */
  set(accelerator: string): CaptureStatus;
  status(): CaptureStatus;
  /** Called when the state changes on its own (e.g. confirmed by the first press on Wayland). */
  onChange(listener: (status: CaptureStatus) => void): void;
  /** Run the capture flow now (resolves once it has started). */
  start(): void;
}

/** The API plus what the transports need: attachment files, error payloads, shutdown. */
export interface ApiService extends OmniFusionApi {
  /** Push an event that originates in the shell (e.g. capture.attached) to every client. */
  publish<E extends EventName>(event: E, payload: ApiEvents[E]): void;
  /** The page-safe rendition of an attachment (images/served.ts); undefined when unknown. */
  attachmentFile(sha256: string): Promise<ServedAttachment | undefined>;
  describeError(err: unknown): ApiErrorPayload;
  close(): Promise<void>;
}

/** A request the service refuses; one line for the user. */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    readonly code: ApiErrorPayload['code'],
    message: string,
  ) {
    super(message);
  }
}

/** The settings file: the settings, plus the active installed model (models.use). */

function defaultSettings(platform: string): Settings {
  return { theme: 'system', maxNewTokens: 512, decoding: 'greedy', captureHotkey: defaultHotkey(platform), captureMode: 'ask', captureOpens: 'quick-ask', device: 'auto' };
}
/** Images a user may attach to one message; OmniFusion puts each one's 576 features in the prompt. */
const MAX_IMAGES_PER_MESSAGE = 8;

/**
 * How Regenerate samples a new answer: temperature 0.8, nucleus 0.9 (Ollama's default sampling
 * parameters, a common choice for local chat), one beam; each regenerate draws a new seed.
 */
const REGENERATE_SAMPLING = { do_sample: true, num_beams: 1, temperature: 0.8, top_p: 0.9 } as const;

/**
 * A request field that must be text (absent → ''): requests come from a page or over HTTP, so a
 * wrong type is the caller's mistake, answered in one line, not an internal error.
 * @throws ApiRequestError (bad_request) naming the field.
 */
/** Longest conversation title, characters. */
export const MAX_TITLE = 200;
/** Longest attachment file name, characters. */
export const MAX_ATTACHMENT_NAME = 255;

/** A conversation title from a request, trimmed ('' when absent). @throws ApiRequestError (bad_request). */
function titleText(value: unknown): string {
  const title = text(value, 'title').trim();
  if ([...title].length > MAX_TITLE) throw new ApiRequestError('bad_request', `the title is longer than ${MAX_TITLE} characters`);
  return title;
}

/** A question from a request, trimmed; refused over MAX_QUESTION_CHARS before anything reads it further. @throws ApiRequestError (bad_request). */
function questionText(value: unknown): string {
  const raw = text(value, 'text');
  const tooLong = questionTooLong(raw);
  if (tooLong) throw new ApiRequestError('bad_request', tooLong);
  const question = raw.trim();
  if (!question) throw new ApiRequestError('bad_request', 'the message is empty');
  return question;
}

/** A search query from a request; refused over MAX_SEARCH_CHARS. @throws ApiRequestError (bad_request). */
function searchText(value: unknown): string {
  const query = text(value, 'query');
  const tooLong = searchTooLong(query);
  if (tooLong) throw new ApiRequestError('bad_request', tooLong);
  return query;
}

/** An attachment's file name from a request ('' when absent). @throws ApiRequestError (bad_request) naming the field. */
function fileName(value: unknown): string {
  if (value !== undefined && value !== null && typeof value !== 'string') throw new ApiRequestError('bad_request', 'name must be text (the file name)');
  const name = text(value, 'name');
  if ([...name].length > MAX_ATTACHMENT_NAME) throw new ApiRequestError('bad_request', `name is longer than ${MAX_ATTACHMENT_NAME} characters`);
  if (/\p{Cc}/u.test(name)) throw new ApiRequestError('bad_request', 'name has control characters');
  return name;
}

function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ApiRequestError('bad_request', `${field} must be text`);
  return value;
}

/** A request field that must be a list of attachment hashes (absent → []). @throws ApiRequestError (bad_request). */
function hashes(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))) {
    throw new ApiRequestError('bad_request', `${field} must be a list of sha256 hashes of added images`);
  }
  return value;
}

function toId(id: string, what: string): number {
  const n = Number(id);
  if (!Number.isSafeInteger(n) || n < 1) throw new ApiRequestError('bad_request', `${what} "${id}" is not a valid id`);
  return n;
}

function toAttachment(a: AttachmentInfo, name = a.name ?? ''): ApiAttachment {
  return { sha256: a.sha256, mime: a.mime, bytes: a.byteSize, width: a.width ?? 0, height: a.height ?? 0, name, url: `/files/${a.sha256}` };
}

function toSummary(s: StoreConversationSummary): ApiConversationSummary {
  return { id: String(s.id), title: s.title, updatedAt: s.updatedAt, preview: s.lastMessage?.preview ?? '', ocrTokens: s.ocrTokens, pinned: s.pinned, folder: s.folder };
}

/** Longest folder name, in characters. */
export const MAX_FOLDER_NAME = 60;

/**
 * A folder name from a request, NFC-normalised (so "Re\u0301ceipts" and "Réceipts" are one folder)
 * and trimmed; null stays null (no folder). Format characters (\p{Cf}: zero-width spaces and
 * joiners, bidi marks and overrides, soft hyphens) are refused, since they make names that look
 * blank, look like another folder or display reversed; a zero-width joiner between two emoji
 * (one emoji sequence, like a family) is allowed.
 * @throws ApiRequestError (bad_request) naming the problem.
 */
function folderName(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new ApiRequestError('bad_request', 'folder must be text, or null for no folder');
  const normal = value.normalize('NFC');
  const emojiJoinersOut = normal.replace(/(?<=\p{Extended_Pictographic}[\u{FE0F}\p{Emoji_Modifier}]?)\u200D(?=\p{Extended_Pictographic})/gu, '');
  if (/\p{Cf}/u.test(emojiJoinersOut)) throw new ApiRequestError('bad_request', 'the folder name has invisible or direction-changing characters');
  const name = normal.trim();
  if (!name) throw new ApiRequestError('bad_request', 'the folder name is empty');
  if (/\p{Cc}/u.test(name)) throw new ApiRequestError('bad_request', 'the folder name has control characters');
  if (/[/\\]/.test(name)) throw new ApiRequestError('bad_request', 'the folder name cannot contain slashes');
  if ([...name].length > MAX_FOLDER_NAME) throw new ApiRequestError('bad_request', `the folder name is longer than ${MAX_FOLDER_NAME} characters`);
  return name;
}

function toMessage(m: Message): ApiMessage {
  return {
    id: String(m.id),
    conversationId: String(m.conversationId),
    role: m.role === 'assistant' ? 'assistant' : 'user',
    content: m.content,
    status: m.status,
    ...(m.model ? { model: m.model } : {}),
    ...(m.timings ? { timings: m.timings } : {}),
    ...(m.error ? { error: m.error } : {}),
    attachments: m.attachments.map((a) => toAttachment(a)),
    createdAt: m.createdAt,
    parentId: m.parentId === null ? null : String(m.parentId),
  };
}

/**
 * The branch ending at `last`: from its root to `last`, following parent links back (so siblings,
 * the other versions of a turn, and other branches are left out).
 */
export function pathTo(messages: readonly Message[], last: Message): Message[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const branch: Message[] = [];
  const seen = new Set<number>();
  let at: Message | undefined = last;
  while (at && !seen.has(at.id)) {
    seen.add(at.id);
    branch.push(at);
    at = at.parentId === null ? undefined : byId.get(at.parentId);
  }
  return branch.reverse();
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
  const store: ConversationStore = openStore({ dataDir: options.dataDir });
  const engine = new EngineHost(options.launcher ? { launcher: options.launcher } : {});
  const listeners = new Map<EventName, Set<(payload: never) => void>>();
  const active = new Map<number, GenerationHandle>();
  const settingsFile = path.join(options.dataDir, 'settings.json');
  const platform = options.platform ?? process.platform;
  const loaded = await readSettingsFile(settingsFile, defaultSettings(platform));
  let settings: StoredSettings = loaded.settings;
  for (const note of loaded.notes) process.stderr.write(`note: ${note}\n`);
  /** What the user should be told about this start (app.notices). */
  const notices: AppNotice[] = loaded.notes.map((message) => ({ code: 'settings', message }));
  if (store.recovered) {
    const { salvaged, movedTo } = store.recovered;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const message =
      salvaged.messages > 0 || salvaged.conversations > 0
        ? `the history database was damaged; ${plural(salvaged.conversations, 'conversation')} and ${plural(salvaged.messages, 'message')} were saved into a new one` +
          `${salvaged.expected.messages !== null ? ` (of about ${salvaged.expected.messages} messages)` : ''}; the damaged file was moved to ${movedTo}`
        : `the history database was damaged and nothing in it could be read; it was moved to ${movedTo} and a new one started`;
    process.stderr.write(`note: ${message}\n`);
    notices.unshift({ code: 'history_recovered', message });
  }
  /** File names of recently added attachments by sha256: the message they are sent with keeps them. */
  const addedNames = new Map<string, string>();
  const named = (hashes: readonly string[]): Array<{ sha256: string; name: string }> => hashes.map((sha256) => ({ sha256, name: addedNames.get(sha256) ?? '' }));
  let status: ModelStatus = { name: '', family: '', executionProvider: '', state: 'none' };
  /** The loaded model's manifest places OCR text in its prompt (prompt.ocr_text). */
  let takesOcrText = false;
  /** Images being read (page text OCR in the engine process), by sha256. */
  const reading = new Map<string, { result: Promise<ImageText>; cancel(): void }>();
  let closing = false;

  const emit = <E extends EventName>(event: E, payload: ApiEvents[E]): void => {
    for (const listener of listeners.get(event) ?? []) (listener as (p: ApiEvents[E]) => void)(payload);
  };
  const capture = options.capture;
  if (capture) {
    capture.set(settings.captureHotkey);
    capture.onChange((next) => emit('capture.status', next));
  }
  const captureStatus = (): CaptureStatus =>
    capture?.status() ?? {
      accelerator: settings.captureHotkey,
      state: 'unavailable',
      message: 'The global screenshot hotkey works in the desktop app; here, use the Screenshot button in the composer.',
      command: CAPTURE_COMMAND,
    };
  const setStatus = (next: ModelStatus): void => {
    status = next;
    emit('models.status', status);
  };

  // ---- models: the installed models, downloads, and the active one ---------------------------
  const modelsDir = path.resolve(options.modelsDir ?? path.join(options.dataDir, 'models'));
  const hubUrl = options.hubUrl ?? DEFAULT_HUB_URL;
  const catalogPath = options.catalogPath ?? DEFAULT_CATALOG_PATH;
  const ramBytes = options.ramBytes ?? os.totalmem();
  /** Downloads running in this service, by model id. */
  const pulls = new Map<string, { controller: AbortController; last: ModelProgress; done: Promise<void> }>();
  /** The installed model chosen with models.use (settings.activeModel), when it is what is loaded. */
  let activeId: string | null = null;
  /** The folder the engine loads or has loaded (--model, or the active installed model). */
  let currentModelDir: string | undefined;
  /** Settles when the latest model load has ended (ready or error). */
  let modelReady: Promise<void> = Promise.resolve();

  const saveSettings = (): Promise<void> => writeSettingsFile(settingsFile, settings);

  /** Load `dir` in the engine (replacing the model loaded before); the status follows. */
  const loadModel = (dir: string, name = ''): Promise<void> => {
    currentModelDir = dir;
    const run = (async () => {
      setStatus({ name, family: '', executionProvider: '', state: 'loading' });
      try {
        const info = await engine.load(dir, options.executionProvider ?? settings.device);
        if (currentModelDir !== dir) return;
        takesOcrText = info.ocr_text_position !== undefined;
        setStatus({ name: info.name, family: info.family, executionProvider: info.execution_provider, ...(info.note ? { note: info.note } : {}), state: 'ready' });
      } catch (err) {
        if (currentModelDir !== dir) return;
        takesOcrText = false;
        setStatus({ ...status, state: 'error', error: (err as Error).message });
      }
    })();
    modelReady = run;
    return run;
  };

  // At start: the --model folder, else the active installed model of the settings (if still installed).
  if (options.modelDir) {
    void loadModel(options.modelDir);
  } else if (typeof settings.activeModel === 'string') {
    const installed = await readInstalled(modelsDir, settings.activeModel).catch(() => undefined);
    if (installed) {
      activeId = installed.id;
      void loadModel(installed.dir, installed.marker.name);
    }
  }

  /** The catalog, or the one-line reason it cannot be read. */
  const readCatalog = async (): Promise<{ catalog?: Catalog; error?: string }> => {
    try {
      return { catalog: await loadCatalog(catalogPath) };
    } catch (err) {
      if (err instanceof CatalogError) return { error: err.message };
      throw err;
    }
  };

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

  const progressOf = (p: PullProgress): ModelProgress => ({
    id: p.modelId,
    phase: p.phase,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    rateBytesPerSec: p.rateBytesPerSec,
    etaSec: p.etaSec,
    fileIndex: p.fileIndex,
    fileCount: p.fileCount,
    ...(p.file !== undefined ? { file: p.file } : {}),
  });

  /** The end of a pull or import that failed: its last progress with the error (bytes never go back). */
  const failedProgress = (last: ModelProgress, err: unknown): ModelProgress => {
    const code = err instanceof ModelError ? err.code : err instanceof ApiRequestError ? err.code : 'internal';
    const message = oneLineMessage(err);
    return { ...last, phase: code === 'cancelled' ? 'cancelled' : 'failed', rateBytesPerSec: 0, etaSec: null, error: { code, message } };
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

  /** Stop using `id` if it is the active model: unload it (so its files can go), forget it in the settings. */
  const deactivate = async (id: string): Promise<void> => {
    if (settings.activeModel === id) {
      delete settings.activeModel;
      await saveSettings();
    }
    if (activeId !== id) return;
    activeId = null;
    currentModelDir = undefined;
    takesOcrText = false;
    for (const handle of active.values()) handle.cancel();
    await engine.stop();
    setStatus({ name: '', family: '', executionProvider: '', state: 'none' });
  };

  const conversation = (id: string) => {
    const found = store.getConversation(toId(id, 'conversation'));
    if (!found) throw new ApiRequestError('not_found', `conversation ${id} does not exist`);
    return found;
  };

  const summary = (id: number): ApiConversationSummary => {
    const s = store.listConversations().find((c) => c.id === id);
    if (!s) throw new ApiRequestError('not_found', `conversation ${id} does not exist`);
    return toSummary(s);
  };

  /** Earlier complete turns of the branch ending at `userMessage`, and the images to show the model. */
  const contextFor = (messages: readonly Message[], userMessage: Message): { history: ChatTurn[]; images: { sha256: string; path: string }[] } => {
    const upTo = pathTo(messages, userMessage).slice(0, -1);
    const history: ChatTurn[] = [];
    for (let i = 0; i + 1 < upTo.length; i++) {
      const q = upTo[i]!;
      const a = upTo[i + 1]!;
      if (q.role === 'user' && a.role === 'assistant' && a.status !== 'error' && a.content) {
        history.push({ question: q.content, answer: a.content });
        i++;
      }
    }
    // A follow-up question without images is about the latest images of the conversation.
    const withImages = [userMessage, ...[...upTo].reverse()].find((m) => m.role === 'user' && m.attachments.length);
    const images = (withImages?.attachments ?? []).map((a) => ({ sha256: a.sha256, path: store.attachmentPath(a.sha256) }));
    return { history, images };
  };

  /**
   * The text of a stored image: from the store when it was read before, else read now in the
   * engine process (one reading per image at a time), stored with its layout (searchable at
   * once) and announced with an `attachments.text` event. Never rejects: a failure is stored as
   * 'failed' with its one-line reason, so an unreadable image is not read again and again.
   */
  const imageText = (sha256: string): Promise<ImageText> => {
    const stored = store.getAttachmentText(sha256, PAGE_TEXT_SOURCE);
    if (stored) return Promise.resolve(imageTextFromStored(sha256, stored.text, stored.layout));
    const running = reading.get(sha256);
    if (running) return running.result;
    const handle = engine.recognizeText({ path: store.attachmentPath(sha256) });
    const result = handle.result.then(
      (page) => ({ text: page.text, layout: layoutOf(page) }),
      (err: unknown) => ({ text: '', layout: failedLayout(err instanceof Error ? err.message : String(err)) }),
    ).then(({ text, layout }) => {
      reading.delete(sha256);
      if (closing) return pendingImageText(sha256);
      try {
        store.setAttachmentText(sha256, PAGE_TEXT_SOURCE, text, layout);
      } catch {
        // The image is gone (its message deleted meanwhile): nothing to keep.
      }
      const read = imageTextFromStored(sha256, text, layout);
      emit('attachments.text', read);
      return read;
    });
    reading.set(sha256, { result, cancel: handle.cancel });
    return result;
  };

  /** How long an answer waits for its images' text before going ahead without OCR tokens, ms. */
  const OCR_WAIT_MS = 60_000;

  /**
   * OCR tokens for a question: each image's recognized text (null for none) when the
   * conversation's setting and its images call for them and the model's manifest places them.
   */
  const ocrTextFor = async (conversationId: number, images: readonly string[]): Promise<(string | null)[] | undefined> => {
    const setting = store.getConversation(conversationId)?.ocrTokens ?? 'auto';
    if (!takesOcrText || setting === 'off' || images.length === 0) return undefined;
    const stopWaiting = new AbortController();
    const timeout = delay(OCR_WAIT_MS, undefined, { signal: stopWaiting.signal }).catch(() => undefined);
    const texts = await Promise.race([Promise.all(images.map(imageText)), timeout]).finally(() => stopWaiting.abort());
    if (!texts || !useOcrTokens(setting, texts)) return undefined;
    return texts.map((t) => (t.status === 'done' && t.text.trim() ? t.text : null));
  };

  /** Refuse before anything is stored when there is no model to answer with. */
  const requireModel = async (): Promise<void> => {
    // A models.use while waiting replaces the load: wait for the latest one.
    for (let waited: Promise<void> | undefined; waited !== modelReady; ) {
      waited = modelReady;
      await waited;
    }
    if (status.state !== 'ready') {
      throw new ApiRequestError('engine', status.state === 'error' ? `the model could not be loaded: ${status.error}` : 'no model is loaded');
    }
  };

  /**
   * Start answering `userMessage` into a new assistant message (a sibling branch when one exists).
   * `resample` (regenerate): sample a new answer with a fresh seed, since the settings' decoding
   * (greedy, or the model's beam search) would give the same answer again.
   */
  const answer = async (conversationId: number, userMessage: Message, resample = false): Promise<ApiMessage> => {
    const messages = store.getConversation(conversationId)!.messages;
    const { history, images } = contextFor(messages, userMessage);
    const ocrText = await ocrTextFor(conversationId, images.map((i) => i.sha256));
    const writer = store.beginAssistantMessage(conversationId, status.name, { parentId: userMessage.id });
    const messageId = writer.messageId;
    const handle = engine.generate(
      {
        images: images.map(({ path }) => ({ path })),
        question: userMessage.content,
        history,
        ...(ocrText ? { ocr_text: ocrText } : {}),
        generation: resample
          ? { max_new_tokens: settings.maxNewTokens, ...REGENERATE_SAMPLING, seed: randomInt(0x1_0000_0000) }
          : settings.decoding === 'greedy'
            ? { max_new_tokens: settings.maxNewTokens, do_sample: false, num_beams: 1 }
            : { max_new_tokens: settings.maxNewTokens },
      },
      (_id, text) => {
        if (!text) return;
        writer.append(text);
        emit('generation.token', { messageId: String(messageId), text });
      },
    );
    active.set(messageId, handle);
    const finish = (result: GenerateResult | undefined, err: unknown): void => {
      active.delete(messageId);
      try {
        // A crash of the engine process interrupts the answer like a crash of the app: what
        // was streamed is kept as 'partial' (with the reason), never marked a failed answer.
        if (err instanceof EngineError && err.code === 'crashed') writer.interrupt(err.message);
        else if (err) writer.fail(err instanceof Error ? err.message : String(err));
        else if (result!.finish_reason === 'cancelled') writer.interrupt();
        else {
          writer.complete({
            timeToFirstTokenMs: result!.timings.ttft_ms,
            totalMs: result!.timings.total_ms,
            promptTokens: result!.prompt_length,
            completionTokens: result!.token_ids.length,
            ...(result!.ocr ? { ocrTokens: result!.ocr.tokens } : {}),
          });
        }
      } catch {
        // The conversation was deleted while answering: nothing left to update.
        return;
      }
      const stored = store.getConversation(conversationId)?.messages.find((m) => m.id === messageId);
      if (stored) emit('generation.done', { message: toMessage(stored) });
    };
    handle.result.then(
      (r) => finish(r, undefined),
      (e: unknown) => finish(undefined, e),
    );
    const created = store.getConversation(conversationId)!.messages.find((m) => m.id === messageId)!;
    return toMessage(created);
  };

  const userMessageOf = (id: string): { conversationId: number; message: Message; messages: Message[] } => {
    const message = store.getMessage(toId(id, 'message'));
    if (!message) throw new ApiRequestError('not_found', `message ${id} does not exist`);
    return { conversationId: message.conversationId, message, messages: store.getConversation(message.conversationId)!.messages };
  };

  /**
   * Check a new hotkey and register it; on failure the previous one is registered again and the
   * change refused, so the user never ends up without a working hotkey they had.
   * @throws ApiRequestError (bad_request) naming the problem.
   */
  const applyHotkey = (accelerator: string, previous: string): void => {
    if (typeof accelerator === 'string' && isAvoidedAccelerator(accelerator, platform)) {
      throw new ApiRequestError('bad_request', `${accelerator} is a system shortcut: choose another`);
    }
    if (!capture) return;
    const result = capture.set(accelerator);
    if (result.state === 'failed') {
      capture.set(previous);
      throw new ApiRequestError('bad_request', `${accelerator} could not be registered (another app may use it): choose another`);
    }
    emit('capture.status', result);
  };

  /** The conversation's summary, told to every window (`conversations.changed`). */
  const changed = (id: number): ApiConversationSummary => {
    const s = summary(id);
    emit('conversations.changed', { id: s.id, summary: s });
    return s;
  };

  const handlers: { [C in CallName]: (request: CallRequest<C>) => Promise<CallResponse<C>> | CallResponse<C> } = {
    'conversations.list': () => store.listConversations().map(toSummary),
    'conversations.create': ({ title }) => changed(store.createConversation(titleText(title) || 'New chat').id),
    'conversations.get': ({ id }) => {
      const c = conversation(id);
      return { id: String(c.id), title: c.title, updatedAt: c.updatedAt, preview: '', ocrTokens: c.ocrTokens, pinned: c.pinned, folder: c.folder, messages: c.messages.map(toMessage) };
    },
    'conversations.rename': ({ id, title }) => {
      const name = text(title, 'title').trim();
      if (!name) throw new ApiRequestError('bad_request', 'the title is empty');
      if ([...name].length > MAX_TITLE) throw new ApiRequestError('bad_request', `the title is longer than ${MAX_TITLE} characters`);
      if (!store.renameConversation(toId(id, 'conversation'), name)) throw new ApiRequestError('not_found', `conversation ${id} does not exist`);
      return changed(toId(id, 'conversation'));
    },
    'conversations.delete': ({ id }) => {
      const deleted = store.deleteConversation(toId(id, 'conversation'));
      if (deleted) emit('conversations.changed', { id: String(toId(id, 'conversation')), summary: null });
      return { deleted };
    },
    'conversations.setOcrTokens': ({ id, ocrTokens }) => {
      if (!['auto', 'on', 'off'].includes(ocrTokens)) throw new ApiRequestError('bad_request', 'ocrTokens must be auto, on or off');
      if (!store.setOcrTokens(toId(id, 'conversation'), ocrTokens)) throw new ApiRequestError('not_found', `conversation ${id} does not exist`);
      return changed(toId(id, 'conversation'));
    },
    'conversations.setPinned': ({ id, pinned }) => {
      if (typeof pinned !== 'boolean') throw new ApiRequestError('bad_request', 'pinned must be true or false');
      if (!store.setPinned(toId(id, 'conversation'), pinned)) throw new ApiRequestError('not_found', `conversation ${id} does not exist`);
      return changed(toId(id, 'conversation'));
    },
    'conversations.setFolder': ({ id, folder }) => {
      const name = folderName(folder);
      if (!store.setFolder(toId(id, 'conversation'), name)) throw new ApiRequestError('not_found', `conversation ${id} does not exist`);
      return changed(toId(id, 'conversation'));
    },
    'search.messages': ({ query }) =>
      store.search(searchText(query)).map((hit) => ({ conversationId: String(hit.conversationId), messageId: String(hit.messageId), title: hit.conversationTitle, snippet: markHighlights(hit.snippet, hit.highlights), source: hit.source })),
    'attachments.add': async ({ name: requestName, bytes }) => {
      const name = fileName(requestName);
      if (!(bytes instanceof Uint8Array)) throw new ApiRequestError('bad_request', 'attachment bytes are missing');
      const image = await decodeImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { name: name || 'image' });
      // An SVG is kept as the PNG the model sees, never as markup that could run script.
      const stored = await storedRendition(bytes, image);
      const sha256 = store.putAttachment(stored.bytes, { mime: stored.mime, width: image.width, height: image.height });
      // Read its text in the background: search, the viewer's text layer and OCR tokens use it.
      if (options.readImageText !== false) void imageText(sha256);
      addedNames.delete(sha256);
      addedNames.set(sha256, name);
      if (addedNames.size > 1000) addedNames.delete(addedNames.keys().next().value!);
      return toAttachment(store.getAttachment(sha256)!, name);
    },
    'attachments.get': ({ sha256 }) => {
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new ApiRequestError('bad_request', 'sha256 must be the hash of an added image');
      const info = store.getAttachment(sha256);
      if (!info) throw new ApiRequestError('not_found', `attachment ${sha256} does not exist`);
      return toAttachment(info, addedNames.get(sha256) ?? '');
    },
    'attachments.text': ({ sha256 }) => {
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new ApiRequestError('bad_request', 'sha256 must be the hash of an added image');
      if (!store.getAttachment(sha256)) throw new ApiRequestError('not_found', `attachment ${sha256} does not exist`);
      const stored = store.getAttachmentText(sha256, PAGE_TEXT_SOURCE);
      if (stored) return imageTextFromStored(sha256, stored.text, stored.layout);
      void imageText(sha256);
      return pendingImageText(sha256);
    },
    'generation.send': async (request) => {
      const question = questionText(request.text);
      const attachments = hashes(request.attachments, 'attachments');
      const { conversationId } = request;
      if (attachments.length > MAX_IMAGES_PER_MESSAGE) throw new ApiRequestError('bad_request', `at most ${MAX_IMAGES_PER_MESSAGE} images per message`);
      const cid = toId(conversationId, 'conversation');
      conversation(conversationId);
      // The branch the user is looking at: the question follows its last message.
      let parentId: number | undefined;
      if (request.parentId !== undefined && request.parentId !== null) {
        if (typeof request.parentId !== 'string') throw new ApiRequestError('bad_request', 'parentId must be a message id');
        parentId = toId(request.parentId, 'parent message');
        if (store.getMessage(parentId)?.conversationId !== cid) {
          throw new ApiRequestError('bad_request', `message ${request.parentId} is not in conversation ${conversationId}`);
        }
      }
      await requireModel();
      const userMessage = store.addMessage(cid, { role: 'user', content: question, attachments: named(attachments), ...(parentId !== undefined ? { parentId } : {}) });
      const assistantMessage = await answer(cid, userMessage);
      return { userMessage: toMessage(userMessage), assistantMessage };
    },
    'generation.stop': ({ messageId }) => {
      const handle = active.get(toId(messageId, 'message'));
      handle?.cancel();
      return { stopped: handle !== undefined };
    },
    'generation.regenerate': async ({ messageId }) => {
      const { conversationId, message, messages } = userMessageOf(messageId);
      await requireModel();
      const parent = messages.find((m) => m.id === message.parentId);
      if (message.role !== 'assistant' || !parent) throw new ApiRequestError('bad_request', 'only an answer can be regenerated');
      active.get(message.id)?.cancel();
      return { assistantMessage: await answer(conversationId, parent, true) };
    },
    'generation.editAndResend': async (request) => {
      const newText = questionText(request.text);
      const { messageId } = request;
      const { conversationId, message } = userMessageOf(messageId);
      await requireModel();
      if (message.role !== 'user') throw new ApiRequestError('bad_request', 'only a question can be edited');
      const edited = store.addMessage(conversationId, {
        role: 'user',
        content: newText,
        attachments: message.attachments.map((a) => ({ sha256: a.sha256, name: a.name ?? '' })),
        parentId: message.parentId,
      });
      const assistantMessage = await answer(conversationId, edited);
      return { userMessage: toMessage(edited), assistantMessage };
    },
    'models.status': () => status,
    'app.notices': () => notices,
    'models.catalog': async () => {
      const { catalog, error } = await readCatalog();
      return describeModels({
        ...(catalog ? { catalog } : {}),
        ...(error ? { catalogError: error } : {}),
        modelsDir,
        ramBytes,
        activeId,
        pulling: new Map([...pulls].map(([id, p]) => [id, p.last])),
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
      await deactivate(id);
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
      activeId = id;
      settings = { ...settings, activeModel: id };
      await saveSettings();
      void loadModel(installed.dir, installed.marker.name);
      return status;
    },
    'ocr.recognize': async ({ attachment }) => {
      if (typeof attachment !== 'string' || !/^[0-9a-f]{64}$/.test(attachment)) throw new ApiRequestError('bad_request', 'attachment must be the sha256 of an added image');
      if (!store.getAttachment(attachment)) throw new ApiRequestError('not_found', `attachment ${attachment} does not exist`);
      await requireModel();
      const name = `formula-${attachment.slice(0, 12)}`;
      const decoded = await decodeImage(store.attachmentPath(attachment), { name });
      const { request, notes } = await ocrRequest(decoded, { name, modelDir: currentModelDir!, maxNewTokens: settings.maxNewTokens });
      const result = await engine.generate(request).result;
      return { ...readOcrAnswer(result.answer), notes };
    },
    'settings.get': () => settings,
    'capture.status': () => captureStatus(),
    'capture.start': () => {
      if (!capture) throw new ApiRequestError('bad_request', 'screen capture runs in the desktop app; here, use the Screenshot button');
      capture.start();
      return { started: true };
    },
    'settings.set': async (patch) => {
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new ApiRequestError('bad_request', 'settings.set takes an object of settings');
      for (const [key, value] of Object.entries(patch)) {
        // A system shortcut gets its own message (applyHotkey) before the shape check.
        if (key === 'captureHotkey' && typeof value === 'string' && isAvoidedAccelerator(value, platform)) continue;
        const problem = settingProblem(key, value);
        if (problem) throw new ApiRequestError('bad_request', problem);
      }
      const next: StoredSettings = { ...settings, ...patch };
      if (next.captureHotkey !== settings.captureHotkey) applyHotkey(next.captureHotkey, settings.captureHotkey);
      const reload = next.device !== settings.device && !options.executionProvider && currentModelDir !== undefined;
      settings = next;
      await saveSettings();
      // The model moves to the chosen provider (the status line shows the one it really runs on).
      if (reload) void loadModel(currentModelDir!, status.name);
      return settings;
    },
  };

  return {
    publish: emit,
    async call(name, request) {
      const handler = (Object.hasOwn(handlers, name) ? handlers[name] : undefined) as ((r: typeof request) => Promise<CallResponse<typeof name>>) | undefined;
      if (!handler) throw new ApiRequestError('bad_request', `unknown call "${String(name)}"`);
      if (request !== undefined && (typeof request !== 'object' || request === null || Array.isArray(request))) throw new ApiRequestError('bad_request', 'the request must be a JSON object');
      return handler(request ?? ({} as typeof request));
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },
    async attachmentFile(sha256) {
      const info = store.getAttachment(sha256);
      return info ? servedRendition({ path: store.attachmentPath(sha256), mime: info.mime }) : undefined;
    },
    describeError(err) {
      if (err instanceof ApiRequestError) return { code: err.code, message: err.message };
      if (err instanceof ImageInputError) return { code: 'bad_image', message: err.message };
      if (err instanceof EngineError) return { code: err.code === 'bad_image' ? 'bad_image' : 'engine', message: err.message };
      if (err instanceof StoreError) return { code: err.code === 'not_found' ? 'not_found' : 'bad_request', message: err.message };
      if (err instanceof ModelError) return { code: err.code === 'not_found' || err.code === 'not_installed' ? 'not_found' : 'bad_request', message: err.message };
      if (err instanceof CatalogError) return { code: 'bad_request', message: err.message };
      if (err instanceof SyntaxError) return { code: 'bad_request', message: `malformed request: ${err.message}` };
      return { code: 'internal', message: `internal error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
    },
    async close() {
      closing = true;
      for (const pull of pulls.values()) pull.controller.abort();
      await Promise.all([...pulls.values()].map((p) => p.done));
      for (const handle of active.values()) handle.cancel();
      for (const r of reading.values()) r.cancel();
      await engine.stop();
      store.close();
      await dataLock.release();
    },
  };
}

/** Mark highlight ranges of a plain-text snippet with «…» (no HTML: the renderer escapes it). */
function markHighlights(snippet: string, highlights: ReadonlyArray<[number, number]>): string {
  let out = '';
  let at = 0;
  for (const [start, end] of highlights) {
    out += `${snippet.slice(at, start)}«${snippet.slice(start, end)}»`;
    at = end;
  }
  return out + snippet.slice(at);
}

/** An error as one line for the user. */
function oneLineMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Bytes of the files under `dir` (0 when it does not exist). */
async function folderBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const e of entries) {
    if (!e.isFile() || e.name.startsWith('.pull.json')) continue;
    const s = await stat(path.join(e.parentPath ?? e.path, e.name)).catch(() => undefined);
    total += s?.size ?? 0;
  }
  return total;
}

/** Bytes of an interrupted download of `id` kept for resume in `<modelsDir>/.partial/<id>/` (0: none). */
export function partialDownloadBytes(modelsDir: string, id: string): Promise<number> {
  return folderBytes(path.join(path.resolve(modelsDir), PARTIAL_DIR, id));
}

/** What describeModels needs to know. */
export interface ModelsView {
  /** The catalog; without it only installed models are listed and `catalogError` says why. */
  catalog?: Catalog;
  catalogError?: string;
  modelsDir: string;
  /** Physical memory the default model is chosen for (bytes). */
  ramBytes: number;
  activeId?: string | null;
  /** Progress of pulls running now, by model id. */
  pulling?: ReadonlyMap<string, ModelProgress>;
}

/**
 * The catalog as the model manager, the first-run screen and `omnifusion models list --json` show
 * it: each catalog model with its sizes, memory, strengths, licence and installed state (only
 * models whose every file verified count as installed), installed models the catalog does not
 * describe, and the default model for a new user on this machine's CPU with its reason and size.
 */
export async function describeModels(view: ModelsView): Promise<ModelsCatalog> {
  const modelsDir = path.resolve(view.modelsDir);
  const installed = new Map<string, InstalledModel>((await listInstalled(modelsDir)).map((m) => [m.id, m]));
  const installedInfo = (m: InstalledModel | undefined): ModelEntry['installed'] =>
    m
      ? {
          ...(m.marker.dtype ? { dtype: m.marker.dtype } : {}),
          bytes: Object.values(m.marker.files).reduce((sum, f) => sum + f.bytes, 0),
          installedAt: m.marker.installedAt,
          from: m.marker.source.kind === 'hub' ? 'hub' : 'import',
          dir: m.dir,
        }
      : null;
  const partialBytes = (id: string): Promise<number> => partialDownloadBytes(modelsDir, id);
  const models: ModelEntry[] = [];
  for (const m of view.catalog?.models ?? []) {
    const variants = (Object.keys(m.dtypes) as Dtype[]).map((dtype) => {
      const size = approxDownloadBytes(m, dtype);
      const exact = filesFor(m, dtype).every((f) => f.bytes !== undefined);
      return { dtype, downloadBytes: size.bytes, exact, unknownSizeFiles: size.unknownFiles.length, memoryBytes: m.dtypes[dtype]!.memoryBytes };
    });
    const here = installed.get(m.id);
    models.push({
      id: m.id,
      name: m.name,
      family: m.family,
      description: m.description,
      strengths: [...m.strengths],
      licence: { ...m.licence },
      source: m.source.kind,
      ...(m.source.kind === 'hub' ? { repo: m.source.repo } : { exporter: m.source.exporter }),
      verified: m.verified,
      variants,
      defaultDtype: m.defaultDtype.cpu,
      installed: installedInfo(here),
      partialBytes: here ? 0 : await partialBytes(m.id),
      active: here !== undefined && view.activeId === m.id,
      pulling: view.pulling?.get(m.id) ?? null,
    });
  }
  const known = new Set(models.map((m) => m.id));
  for (const m of installed.values()) {
    if (known.has(m.id)) continue;
    models.push({
      id: m.id,
      name: m.marker.name,
      family: m.marker.family,
      description: m.marker.source.kind === 'import' ? `Imported from ${m.marker.source.from}` : `Downloaded from ${m.marker.source.repo}`,
      strengths: [],
      licence: { id: 'unknown' },
      source: 'local',
      verified: true,
      variants: [],
      defaultDtype: m.marker.dtype ?? '',
      installed: installedInfo(m),
      partialBytes: 0,
      active: view.activeId === m.id,
      pulling: view.pulling?.get(m.id) ?? null,
    });
  }
  let choice: ModelsCatalog['default'] = null;
  if (view.catalog) {
    try {
      const c = defaultModelChoice(view.catalog, { ramBytes: view.ramBytes, gpu: false });
      const model = findModel(view.catalog, c.id);
      choice = { id: c.id, dtype: c.dtype, reason: c.reason, downloadBytes: approxDownloadBytes(model, c.dtype).bytes, memoryBytes: model.dtypes[c.dtype]!.memoryBytes };
    } catch (err) {
      if (!(err instanceof CatalogError)) throw err;
    }
  }
  return {
    models,
    default: choice,
    activeId: view.activeId && installed.has(view.activeId) ? view.activeId : null,
    modelsDir,
    ramBytes: view.ramBytes,
    ...(view.catalogError ? { error: view.catalogError } : {}),
  };
}
