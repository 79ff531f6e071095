/**
 * The typed API between the renderer and the rest of the app, defined once. It is implemented
 * twice: by the Electron preload over IPC (main/app) and by the web bridge over HTTP + WebSocket
 * (main/server, `omnifusion serve`). This file holds types and the channel table only: no
 * runtime imports, so both the renderer (browser) and Node code can use it.
 */
import type { CaptureMode, CaptureOpens, CaptureStatus } from './capture.js';

/** complete: finished; partial: streaming, stopped, or cut by a crash; error: generation failed. */
export type MessageStatus = 'complete' | 'partial' | 'error';

/** What the engine measured while generating a message; every field optional. */
export interface MessageTimings {
  /** Request to first token, ms. */
  timeToFirstTokenMs?: number;
  /** Request to last token, ms. */
  totalMs?: number;
  /** Tokens in the prompt, images included. */
  promptTokens?: number;
  /** Tokens generated. */
  completionTokens?: number;
  /** Tokens of recognized image text added to the prompt as OCR tokens (absent: none added). */
  ocrTokens?: number;
  /** Prompt tokens the engine reused from an earlier answer of the conversation (not computed again). */
  reusedPromptTokens?: number;
  /** Earliest turns of the conversation left out of the prompt to fit the model's context (absent: none). */
  droppedTurns?: number;
  /** One line the engine said about this answer (e.g. a prompt longer than the model was fine-tuned for). */
  warning?: string;
}

/** An image attached to a message; its bytes are served from `url` (content-addressed by sha256). */
export interface AttachmentInfo {
  sha256: string;
  mime: string;
  /** File size in bytes. */
  bytes: number;
  /** Pixel size after EXIF orientation. */
  width: number;
  height: number;
  name: string;
  url: string;
}

/**
 * What an answer is doing before and while it streams: `reading-image-text` (page text of its
 * images, for models that take it in the prompt), `queued` (another answer is still running in the
 * engine), `encoding-image` (the vision encoder, then the prompt), `prefill` (reading the prompt,
 * no image), `streaming` (tokens arrive).
 */
export type GenerationPhase = 'reading-image-text' | 'queued' | 'encoding-image' | 'prefill' | 'streaming';

/** One message of a conversation. */
export interface Message {
  id: string;
  conversationId: string;
  role: 'user' | 'assistant';
  content: string;
  status: MessageStatus;
  model?: string;
  executionProvider?: string;
  timings?: MessageTimings;
  error?: string;
  attachments: AttachmentInfo[];
  /** ms since the epoch. */
  createdAt: number;
  /**
   * The message this one follows (null: the first question). Messages with the same parent are
   * versions of one turn (regenerated answers, edited questions): branches the user can switch.
   */
  parentId: string | null;
}

/** A conversation in the list. */
export interface ConversationSummary {
  id: string;
  title: string;
  /** ms since the epoch. */
  updatedAt: number;
  preview: string;
  /**
   * Whether the images' recognized text goes into the prompt as OCR tokens (OmniFusion paper,
   * TextVQA with OCR tokens): 'auto' = for document-like images; or the user's 'on' / 'off'.
   */
  ocrTokens: OcrTokensSetting;
  /** Pinned conversations come first in the list. */
  pinned: boolean;
  /** The folder it is filed in (1–60 characters, no slashes); null when in no folder. */
  folder: string | null;
  /** How its answers are written, each null = inherit from Settings (conversations.setOptions). */
  options: ConversationOptions;
}

/**
 * A conversation's own answer options (conversations.setOptions); every field null = inherit the
 * Settings' value (which may itself be the model's default). Ranges: main/api/answer-options.ts.
 */
export interface ConversationOptions {
  /** Replaces the system text of the prompt; '' = no system text at all. */
  systemPrompt: string | null;
  /** Sampling temperature, above 0 and at most 2 (used when not greedy; see Settings.greedy). */
  temperature: number | null;
  /** Nucleus sampling mass, above 0 and at most 1. */
  top_p: number | null;
  /** Longest answer, tokens, 1–32768. */
  max_new_tokens: number | null;
  /** true: greedy decoding (temperature and top_p unused); false: the model's decoding, or sampling with a set temperature / top_p. */
  greedy: boolean | null;
}

/**
 * What the loaded model does when a request overrides nothing, from its package (for the GUI's
 * "Model default: …" lines): the system text of its prompt and its generation defaults
 * (transformers' GenerationConfig names; OmniFusion 1.1: 3 beams, no sampling).
 */
export interface ModelDefaults {
  /** The family's system text: OmniFusion's manifest `prompt.system`; '' when the prompt has none (the chat templates of the published Idefics3 / LLaVA folders add none). */
  systemPrompt: string;
  do_sample: boolean;
  temperature: number;
  top_p: number;
  max_new_tokens: number;
  num_beams: number;
}

/** See ConversationSummary.ocrTokens. */
export type OcrTokensSetting = 'auto' | 'on' | 'off';

/** Corners [top-left, top-right, bottom-right, bottom-left] of a text line, [x, y] in image pixels (EXIF orientation applied). */
export type TextQuad = [[number, number], [number, number], [number, number], [number, number]];

/** A line of text read from an image. */
export interface ImageTextLine {
  text: string;
  box: TextQuad;
  /** Mean probability of the recognized characters, 0..1. */
  confidence: number;
}

/**
 * The text read from an attached image (page text OCR, PP-OCRv4), with where each line lies:
 * the image viewer's selectable text layer, history search and OCR tokens come from it.
 */
export interface ImageText {
  sha256: string;
  /** pending: being read; done: read (text may be ''); failed: could not be read (`error`). */
  status: 'pending' | 'done' | 'failed';
  /** Lines joined by "\n", blocks separated by an empty line. */
  text: string;
  /** Blocks in reading order. */
  blocks: Array<{ lines: ImageTextLine[] }>;
  /** Size of the image the boxes refer to, pixels. */
  width: number;
  height: number;
  /** Clockwise turn, degrees, that made the page upright before reading. */
  rotation: 0 | 90 | 180 | 270;
  /** Enough confident text to count as a document: 'auto' OCR tokens are on for it. */
  documentLike: boolean;
  error?: string;
}

/**
 * A conversation with its messages, oldest first: every branch, each message with its parentId,
 * so the renderer can show one path (by default the one to the newest message) and switch
 * between versions of a turn.
 */
export interface Conversation extends ConversationSummary {
  messages: Message[];
}

/** A full-text search hit; `snippet` marks matches with «…». */
export interface SearchHit {
  conversationId: string;
  messageId: string;
  title: string;
  snippet: string;
  /** Where the match is: the message's text, or the text read from one of its images. */
  source: 'message' | 'attachment';
}

/**
 * Something the user should be told about this start of the app (`app.notices`): the history
 * database was damaged and moved aside ('history_recovered'), or the settings file was damaged
 * or held values that were replaced by defaults ('settings'). `message` is one line.
 */
export interface AppNotice {
  code: 'history_recovered' | 'settings';
  message: string;
}

/** The model the engine has loaded, and where it runs. */
export interface ModelStatus {
  name: string;
  family: string;
  executionProvider: string;
  note?: string;
  state: 'loading' | 'ready' | 'error' | 'none';
  error?: string;
  /** The loaded model's defaults (state 'ready', from an engine that reports them). */
  defaults?: ModelDefaults;
}

/** A weight format of a catalog model. */
export interface ModelVariantInfo {
  /** Weight format (transformers.js names: fp32, fp16, int8, q4, …). */
  dtype: string;
  /** Download size, bytes: exact where the catalog knows it, approximate otherwise. */
  downloadBytes: number;
  /** The catalog knows every file's exact size (else downloadBytes is an estimate). */
  exact: boolean;
  /** Files whose size the catalog does not know at all (not counted in downloadBytes). */
  unknownSizeFiles: number;
  /** Estimated peak memory to run it, bytes. */
  memoryBytes: number;
}

/** An installed model's facts, as its installed.json records them. */
export interface InstalledModelInfo {
  /** Weight format installed, when known. */
  dtype?: string;
  /** Bytes of its files. */
  bytes: number;
  /** ISO 8601 time of install. */
  installedAt: string;
  /** Downloaded from the Hub or imported from a folder. */
  from: 'hub' | 'import';
  /** Absolute path of the model folder. */
  dir: string;
}

/** Progress of a model download or import (`models.progress`); bytesDone and bytesTotal never decrease. */
export interface ModelProgress {
  id: string;
  /** failed / cancelled end a pull with `error`; done is followed by a `models.installed` event. */
  phase: 'resolving' | 'downloading' | 'installing' | 'done' | 'failed' | 'cancelled';
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the last few seconds (0 before any byte arrives). */
  rateBytesPerSec: number;
  /** Seconds left at the current rate; null while unknown. */
  etaSec: number | null;
  /** 0-based index of the file being transferred, of fileCount. */
  fileIndex: number;
  fileCount: number;
  /** Repository path of the file being transferred. */
  file?: string;
  /** Why the pull ended (failed, cancelled): a stable code (not_found, access_denied, disk_full, checksum_mismatch, network, cancelled, …) and one line. */
  error?: { code: string; message: string };
}

/** A model the model manager lists: a catalog entry, or an installed model no catalog entry describes ('local'). */
export interface ModelEntry {
  id: string;
  name: string;
  family: string;
  description: string;
  /** What it is good at: documents, handwriting, formulas, general. */
  strengths: string[];
  licence: { id: string; url?: string; note?: string };
  /**
   * hub: downloadable; export: produced locally (`exporter`), then imported; local: installed, not
   * in the catalog; folder: the folder the app was started with (`--model DIR`, OMNIFUSION_MODEL),
   * loaded where it lies, not installed (nothing to download, use or remove; its path is `folder`).
   */
  source: 'hub' | 'export' | 'local' | 'folder';
  /** The model folder (source 'folder'). */
  folder?: string;
  /** "owner/name" on the Hub (hub models). */
  repo?: string;
  /** How to produce it (export models). */
  exporter?: string;
  /** The catalog's file list was checked against the pinned revision. */
  verified: boolean;
  /** Weight formats offered (empty for local models). */
  variants: ModelVariantInfo[];
  /** The weight format a pull without dtype fetches on this machine ('' for local models). */
  defaultDtype: string;
  /** Set when installed (every file verified). */
  installed: InstalledModelInfo | null;
  /** Bytes of an interrupted download kept for resume (0: none). */
  partialBytes: number;
  /** The model chosen with models.use (loaded by the engine). */
  active: boolean;
  /** The latest progress of a pull or import running now. */
  pulling: ModelProgress | null;
}

/** The model catalog as the model manager and the first-run screen show it (`models.catalog`). */
export interface ModelsCatalog {
  models: ModelEntry[];
  /** The model offered to a new user (documents and handwriting on this machine's CPU), and why. */
  default: { id: string; dtype: string; reason: string; downloadBytes: number; memoryBytes: number } | null;
  /** The active model (models.use), if any. */
  activeId: string | null;
  /** Folder holding installed models. */
  modelsDir: string;
  /** Physical memory of this machine, bytes. */
  ramBytes: number;
  /** A problem reading the catalog (one line); the list then has the installed models only. */
  error?: string;
}

/** A formula recognised by `ocr.recognize`. */
export interface OcrResult {
  /** Bare LaTeX (fences and math delimiters stripped). */
  latex: string;
  /** KaTeX parses it (strict). */
  valid: boolean;
  /** KaTeX's message (one line) when it does not. */
  error?: string;
  /** What image preparation did (e.g. "inverted light-on-dark image"). */
  notes: string[];
}

/** User settings (persisted). */
export interface Settings {
  theme: 'system' | 'light' | 'dark';
  /**
   * How answers are written unless a conversation says otherwise (ConversationOptions); ranges in
   * main/api/answer-options.ts. The system text of the prompt: null = the model's own
   * (ModelDefaults.systemPrompt), '' = none.
   */
  systemPrompt: string | null;
  /** Longest answer, tokens (1–32768); null = the model's max_new_tokens. */
  maxNewTokens: number | null;
  /**
   * true: greedy decoding, deterministic (temperature and top_p unused). false: the model
   * package's decoding (OmniFusion 1.1: 3 beams), or, when a temperature or top_p is set,
   * sampling with them (one beam). Regenerate always samples (see generation.regenerate).
   */
  greedy: boolean;
  /** Sampling temperature (above 0, at most 2); null = the model's. */
  temperature: number | null;
  /** Nucleus sampling mass (above 0, at most 1); null = the model's. */
  top_p: number | null;
  /** The global screenshot hotkey (Electron accelerator); defaults to defaultHotkey(platform). */
  captureHotkey: string;
  /** Which default question a capture gets ("Describe this" or "Convert to LaTeX"). */
  captureMode: CaptureMode;
  /** Where a capture opens: the compact quick-ask window or the main window. */
  captureOpens: CaptureOpens;
  /**
   * Where the model runs (onnxruntime execution provider): 'auto' tries the platform's GPU
   * provider (CUDA on Linux, DirectML on Windows) and falls back to the CPU; the others are tried
   * as asked and fall back to the CPU with a note. The provider in use is ModelStatus.executionProvider.
   */
  device: Device;
}

/** Execution providers a user can choose (Settings.device); the engine's ExecutionProvider. */
export type Device = (typeof DEVICES)[number];
export const DEVICES = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;

/** Request and response of every call, by channel name. */
export interface ApiCalls {
  'conversations.list': { request: Record<string, never>; response: ConversationSummary[] };
  'conversations.create': { request: { title?: string }; response: ConversationSummary };
  'conversations.get': { request: { id: string }; response: Conversation };
  'conversations.rename': { request: { id: string; title: string }; response: ConversationSummary };
  'conversations.delete': { request: { id: string }; response: { deleted: boolean } };
  /** Choose whether this conversation's image text goes into the prompt as OCR tokens. */
  'conversations.setOcrTokens': { request: { id: string; ocrTokens: OcrTokensSetting }; response: ConversationSummary };
  /** Pin to the top of the list, or unpin. */
  'conversations.setPinned': { request: { id: string; pinned: boolean }; response: ConversationSummary };
  /** File in a folder (trimmed, 1–60 characters, no control characters or slashes), or null: in no folder. */
  'conversations.setFolder': { request: { id: string; folder: string | null }; response: ConversationSummary };
  /**
   * Change some of the conversation's answer options (the fields given; null = inherit from
   * Settings again); the next answer uses them. A field out of range is a bad_request naming it
   * and its range, and then nothing changes.
   */
  'conversations.setOptions': { request: { id: string; options: Partial<ConversationOptions> }; response: ConversationSummary };
  'search.messages': { request: { query: string }; response: SearchHit[] };
  /** Store an image (file picker, drop, paste, camera); validated and deduplicated by sha256. */
  'attachments.add': { request: { name: string; bytes: Uint8Array }; response: AttachmentInfo };
  /** A stored image's details (e.g. the crop a quick-ask window opens with). */
  'attachments.get': { request: { sha256: string }; response: AttachmentInfo };
  /**
   * The text read from a stored image; reading starts in the background when an image is added
   * (and here, for images stored before), so the first answer may be 'pending': an
   * `attachments.text` event follows when it is done.
   */
  'attachments.text': { request: { sha256: string }; response: ImageText };
  /**
   * Send a user message with attachments and start the answer; tokens arrive as `generation.token`
   * events. `parentId`: the message the question follows, i.e. the last message of the branch
   * shown; only that path becomes the model's history (absent: the newest message of the
   * conversation). An unknown parent or one of another conversation is a bad_request.
   */
  'generation.send': {
    request: { conversationId: string; text: string; attachments: string[]; parentId?: string };
    response: { userMessage: Message; assistantMessage: Message };
  };
  /** Stop the answer being generated for this message (it stays, marked partial). */
  'generation.stop': { request: { messageId: string }; response: { stopped: boolean } };
  /**
   * Answer the user message before this assistant message again, as a new version (sibling) of it.
   * It always samples, with a fresh seed (greedy or beam search would repeat the answer): at the
   * conversation's or Settings' temperature and top_p where set, else 0.8 and 0.9.
   */
  'generation.regenerate': { request: { messageId: string }; response: { assistantMessage: Message } };
  /** Ask a user message again with new text, as a new version (sibling) of it, and answer it; the old branch stays. */
  'generation.editAndResend': {
    request: { messageId: string; text: string };
    response: { userMessage: Message; assistantMessage: Message };
  };
  'models.status': { request: Record<string, never>; response: ModelStatus };
  /** What went wrong at start that the user should know (damaged history or settings); [] when nothing. */
  'app.notices': { request: Record<string, never>; response: AppNotice[] };
  /** The catalog with what is installed, the default choice with its reason and size, and the active model. */
  'models.catalog': { request: Record<string, never>; response: ModelsCatalog };
  /**
   * Start downloading a catalog model (dtype: default for this machine); progress arrives as
   * `models.progress` events, the end as `models.installed` or a progress event with an error.
   * An interrupted download resumes. Refused when the same model is already downloading.
   */
  'models.pull': { request: { id: string; dtype?: string }; response: { id: string; dtype: string; started: boolean } };
  /** Stop a running download, keeping what was downloaded for a later resume. */
  'models.cancel': { request: { id: string }; response: { cancelled: boolean } };
  /** Delete an installed model and any partial download of it (the active one is unloaded first). */
  'models.remove': { request: { id: string }; response: { installed: boolean; partial: boolean } };
  /**
   * Install a model from a folder on this machine, verifying every file (package manifest, catalog
   * or installed.json). An id that is already installed is refused (bad_request) unless `replace`
   * is true; the installed model then stays until the new one is verified. With `askToReplace`
   * that refusal is an answer instead, `{ id, alreadyInstalled: true }` (nothing touched), so a
   * window can ask and resend with `replace` (an error reaches the Electron page as its message only).
   */
  'models.import': { request: { dir: string; id?: string; replace?: boolean; askToReplace?: boolean }; response: { id: string; alreadyInstalled?: true } };
  /** Make an installed model the active one: remembered in the settings, loaded by the engine (see `models.status`). */
  'models.use': { request: { id: string }; response: ModelStatus };
  /**
   * Recognise the formula in a stored image (sha256 from attachments.add) as LaTeX with the
   * loaded model and a recognition prompt; `valid` says whether KaTeX parses it. Images that
   * cannot hold a formula (too small, too thin, blank) are refused with code bad_image.
   */
  'ocr.recognize': { request: { attachment: string }; response: OcrResult };
  'settings.get': { request: Record<string, never>; response: Settings };
  /** Save settings; a captureHotkey that cannot be registered is refused and the old one kept. */
  'settings.set': { request: Partial<Settings>; response: Settings };
  /** The global screenshot hotkey's state ('unavailable' in the browser). */
  'capture.status': { request: Record<string, never>; response: CaptureStatus };
  /**
   * Start the desktop capture flow (as the hotkey does): overlays on every display, then the
   * crop opens as settings.captureOpens says. Refused (bad_request) where there is no desktop
   * shell (the browser UI), which captures in the page instead.
   */
  'capture.start': { request: Record<string, never>; response: { started: boolean } };
}

/** Events pushed to the renderer, by channel name. */
export interface ApiEvents {
  /** A text delta of a streaming answer. */
  'generation.token': { messageId: string; text: string };
  /** The answer ended (complete, partial when stopped, or error). */
  'generation.done': { message: Message };
  /** What a running answer is doing now (see GenerationPhase); every phase can be stopped. */
  'generation.phase': { messageId: string; phase: GenerationPhase };
  /**
   * A conversation was created, renamed, pinned, filed, set up or deleted (`summary` null), by
   * this window or another (a second browser tab, the quick-ask window): lists stay in step.
   */
  'conversations.changed': { id: string; summary: ConversationSummary | null };
  'models.status': ModelStatus;
  /** A model download or import moved on (throttled), or ended (done, failed, cancelled). */
  'models.progress': ModelProgress;
  /** A model was installed (every file verified). */
  'models.installed': { id: string; dtype?: string; from: 'hub' | 'import' };
  /** An image's text was read (or could not be). */
  'attachments.text': ImageText;
  /** The desktop shell captured a region: put it in the main window's composer. */
  'capture.attached': { attachment: AttachmentInfo; mode: CaptureMode };
  /** The hotkey's state changed (registered anew, failed, or confirmed by its first press). */
  'capture.status': CaptureStatus;
  /**
   * The desktop capture came back blank (Wayland without a working portal, macOS without the
   * Screen Recording permission): the main window should capture in the page instead
   * (getDisplayMedia, which shows the system's own picker).
   */
  'capture.pick': Record<string, never>;
}

export type CallName = keyof ApiCalls;
export type EventName = keyof ApiEvents;
export type CallRequest<C extends CallName> = ApiCalls[C]['request'];
export type CallResponse<C extends CallName> = ApiCalls[C]['response'];

/** The channel table: every call and event name, for allowlists in the preload and the bridge. */
export const CALL_NAMES = [
  'conversations.list',
  'conversations.create',
  'conversations.get',
  'conversations.rename',
  'conversations.delete',
  'conversations.setOcrTokens',
  'conversations.setPinned',
  'conversations.setFolder',
  'conversations.setOptions',
  'search.messages',
  'attachments.add',
  'attachments.get',
  'attachments.text',
  'generation.send',
  'generation.stop',
  'generation.regenerate',
  'generation.editAndResend',
  'models.status',
  'app.notices',
  'models.catalog',
  'models.pull',
  'models.cancel',
  'models.remove',
  'models.import',
  'models.use',
  'ocr.recognize',
  'settings.get',
  'settings.set',
  'capture.status',
  'capture.start',
] as const satisfies readonly CallName[];

export const EVENT_NAMES = ['generation.token', 'generation.done', 'generation.phase', 'conversations.changed', 'models.status', 'capture.attached', 'capture.status', 'capture.pick', 'attachments.text', 'models.progress', 'models.installed'] as const satisfies readonly EventName[];

/** An error a call ends with; `message` is one line for the user. */
export interface ApiErrorPayload {
  code: 'bad_request' | 'not_found' | 'bad_image' | 'engine' | 'internal';
  message: string;
}

/** The one object the renderer talks to, whatever carries it (preload IPC or the web bridge). */
export interface OmniFusionApi {
  call<C extends CallName>(name: C, request: CallRequest<C>): Promise<CallResponse<C>>;
  on<E extends EventName>(name: E, listener: (payload: ApiEvents[E]) => void): () => void;
}

/** Compile-time check that the tables above list every call and event. */
type Exhaustive<T extends never> = T;
export type AllCallsListed = Exhaustive<Exclude<CallName, (typeof CALL_NAMES)[number]>>;
export type AllEventsListed = Exhaustive<Exclude<EventName, (typeof EVENT_NAMES)[number]>>;
