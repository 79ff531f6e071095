/**
 * A fake engine for `?demo` (browser only): the whole UI without a server or a model, for
 * previews, screenshots and trying the interface. Conversations live in memory; answers are
 * canned Markdown with math, streamed a few characters at a time. `?demo=empty` starts with no
 * history. Loaded only by a dynamic import, so it is a separate chunk the app never fetches
 * otherwise. Settings are checked as the real service checks them (a capture hotkey that is not
 * modifiers plus one key, or a system shortcut, is refused); the hotkey is 'unavailable' as in any
 * browser, and capture.start is refused.
 */
import {
  CAPTURE_COMMAND,
  defaultHotkey,
  isAcceleratorLike,
  isAvoidedAccelerator,
  type CaptureStatus,
} from '../../../main/api/capture';
import { answerOptionProblem, CONVERSATION_OPTION_KEYS, INHERIT_ALL } from '../../../main/api/answer-options';
import type {
  ApiEvents,
  AttachmentInfo,
  CallName,
  CallRequest,
  CallResponse,
  Conversation,
  EventName,
  ImageText,
  ImageTextLine,
  Message,
  ModelStatus,
  OcrTokensSetting,
  OmniFusionApi,
  SearchHit,
  Settings,
} from '../../../main/api/contract';
import { latestImages } from '../ocr-tokens';
import { ApiError } from './errors';

const MODEL = 'OmniFusion 1.1 (demo)';
const PROVIDER = 'cpu';

const ANSWERS = {
  math: String.raw`The page shows the quadratic formula. For $ax^2 + bx + c = 0$ with $a \neq 0$:

$$x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}$$

The discriminant $\Delta = b^2 - 4ac$ decides the roots:

\[
\begin{cases}
\Delta > 0 & \text{two real roots} \\
\Delta = 0 & \text{one double root} \\
\Delta < 0 & \text{two complex roots}
\end{cases}
\]

For example $x^2 - 5x + 6 = 0$ factors as \((x-2)(x-3)=0\), so $x \in \{2, 3\}$.`,
  image: String.raw`This is a photo of a handwritten page. It contains:

1. A heading, **"Homework 3"**.
2. An integral, $\int_0^1 x^2\,dx = \tfrac{1}{3}$.
3. A short derivation:

$$
\begin{aligned}
(a+b)^2 &= a^2 + 2ab + b^2 \\
        &\ge 4ab
\end{aligned}
$$

The last line has a small mistake: it should read $(a+b)^2 \ge 4ab$ only for real $a, b$, which holds because $(a-b)^2 \ge 0$.`,
  text: String.raw`Here is a short answer with a bit of everything the renderer handles:

- Currency stays text: the book costs $5 and the pen $10.
- Inline math: Euler's identity $e^{i\pi} + 1 = 0$.
- A matrix: $\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$
- Code:

` + '```python\ndef area(r):\n    return 3.14159 * r ** 2\n```' + String.raw`

See [the KaTeX documentation](https://katex.org/docs/supported.html) for the supported commands.`,
};

/** Stand-in for the text read from an attached image (no OCR runs in demo mode). */
const DEMO_PAGE_TEXT = [
  'Demo mode: no text recognition runs here.',
  'These lines stand in for the text read',
  'from the image, laid out over it so that',
  'you can select them with the mouse, copy',
  'them, or show where each line lies.',
];

/** How long the fake reading of an image's text takes, ms. */
const DEMO_READ_MS = 1200;

/** A fake page text for an image of this size: the demo lines, one under the other. */
function demoImageText(sha256: string, width: number, height: number): ImageText {
  const rows = DEMO_PAGE_TEXT.length;
  const left = width * 0.08;
  const right = width * 0.92;
  const step = (height * 0.8) / rows;
  const lineHeight = Math.min(step * 0.7, (right - left) / 12);
  const lines: ImageTextLine[] = DEMO_PAGE_TEXT.map((text, i) => {
    const top = height * 0.1 + i * step;
    const bottom = top + lineHeight;
    return {
      text,
      box: [
        [left, top],
        [right, top],
        [right, bottom],
        [left, bottom],
      ],
      confidence: 0.97,
    };
  });
  return { sha256, status: 'done', text: DEMO_PAGE_TEXT.join('\n'), blocks: [{ lines }], width, height, rotation: 0, documentLike: true };
}

function pickAnswer(text: string, images: number): string {
  if (images > 0) return ANSWERS.image;
  if (/formula|equation|math|solve|root|x\^?2/i.test(text)) return ANSWERS.math;
  return ANSWERS.text;
}

let counter = 0;
function id(prefix: string): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  if (crypto.subtle) {
    const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join('');
}

interface Running {
  timer: ReturnType<typeof setInterval>;
  message: Message;
  rest: string;
}

export function createDemoApi(): OmniFusionApi {
  const params = new URLSearchParams(location.search);
  const conversations = new Map<string, Conversation>();
  const files = new Map<string, AttachmentInfo>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const running = new Map<string, Running>();
  /** Text "read" from each added image (pending for DEMO_READ_MS after it was added). */
  const imageTexts = new Map<string, ImageText>();
  const platform = /Mac|iPhone|iPad/i.test(navigator.platform) ? 'darwin' : 'linux';
  let settings: Settings = {
    theme: 'system',
    systemPrompt: null,
    maxNewTokens: 512,
    greedy: true,
    temperature: null,
    top_p: null,
    captureHotkey: defaultHotkey(platform),
    captureMode: 'ask',
    captureOpens: 'quick-ask',
    device: 'auto',
  };
  const captureStatus = (): CaptureStatus => ({
    accelerator: settings.captureHotkey,
    state: 'unavailable',
    message: 'Demo mode: the global screenshot hotkey works in the desktop app only.',
    command: CAPTURE_COMMAND,
  });
  const status: ModelStatus = {
    name: MODEL,
    family: 'omnifusion',
    executionProvider: PROVIDER,
    note: 'Demo mode: canned answers, no model runs',
    state: 'ready',
    // OmniFusion 1.1's package (manifest.json) as the exporter writes it.
    defaults: { systemPrompt: 'This is a dialog with AI assistant.\n', do_sample: false, temperature: 1, top_p: 1, max_new_tokens: 50, num_beams: 3 },
  };

  function emit<E extends EventName>(event: E, payload: ApiEvents[E]): void {
    for (const l of listeners.get(event) ?? []) l(clone(payload));
  }

  function summary(c: Conversation): CallResponse<'conversations.create'> {
    return { id: c.id, title: c.title, updatedAt: c.updatedAt, preview: c.preview, ocrTokens: c.ocrTokens, pinned: c.pinned, folder: c.folder, options: { ...c.options } };
  }

  function touch(c: Conversation): void {
    c.updatedAt = Date.now();
    const last = c.messages.at(-1);
    c.preview = (last?.content ?? '').replace(/\s+/g, ' ').slice(0, 120);
  }

  function conversation(idValue: string): Conversation {
    const c = conversations.get(idValue);
    if (!c) throw new ApiError('not_found', 'No such conversation.');
    return c;
  }

  function findMessage(messageId: string): { c: Conversation; i: number } {
    for (const c of conversations.values()) {
      const i = c.messages.findIndex((m) => m.id === messageId);
      if (i >= 0) return { c, i };
    }
    throw new ApiError('not_found', 'No such message.');
  }

  /** A new message following `parentId` (default: the newest message: a linear chat). */
  function newMessage(c: Conversation, role: Message['role'], content: string, attachments: AttachmentInfo[] = [], parentId: string | null = c.messages.at(-1)?.id ?? null): Message {
    const m: Message = { id: id('m'), conversationId: c.id, role, content, status: role === 'user' ? 'complete' : 'partial', attachments, createdAt: Date.now(), parentId };
    if (role === 'assistant') {
      m.model = MODEL;
      m.executionProvider = PROVIDER;
    }
    return m;
  }

  function finish(messageId: string, stopped: boolean): void {
    const run = running.get(messageId);
    if (!run) return;
    clearInterval(run.timer);
    running.delete(messageId);
    const { c, i } = findMessage(messageId);
    const m = c.messages[i]!;
    m.status = stopped ? 'partial' : 'complete';
    m.timings = { timeToFirstTokenMs: 180, totalMs: Date.now() - m.createdAt, promptTokens: 700, completionTokens: Math.round(m.content.length / 4) };
    const ocr = ocrTokensFor(c, i);
    if (ocr > 0) {
      m.timings.ocrTokens = ocr;
      m.timings.promptTokens! += ocr;
    }
    touch(c);
    emit('generation.done', { message: clone(m) });
  }

  /** Start the fake reading of an image's text: 'pending', then an `attachments.text` event. */
  function readImageText(info: AttachmentInfo): ImageText {
    const known = imageTexts.get(info.sha256);
    if (known) return known;
    const pending: ImageText = { sha256: info.sha256, status: 'pending', text: '', blocks: [], width: 0, height: 0, rotation: 0, documentLike: false };
    imageTexts.set(info.sha256, pending);
    setTimeout(() => {
      const done = demoImageText(info.sha256, info.width, info.height);
      imageTexts.set(info.sha256, done);
      emit('attachments.text', done);
    }, DEMO_READ_MS);
    return pending;
  }

  /** OCR tokens the answer at index `i` would have had: the images' text when the setting calls for it. */
  function ocrTokensFor(c: Conversation, i: number): number {
    if (c.ocrTokens === 'off') return 0;
    const texts = latestImages(c.messages.slice(0, i))
      .map((sha) => imageTexts.get(sha))
      .filter((t): t is ImageText => t?.status === 'done');
    const used = c.ocrTokens === 'on' ? texts.filter((t) => t.text.trim()) : texts.some((t) => t.documentLike) ? texts : [];
    return used.reduce((n, t) => n + Math.ceil(t.text.length / 4), 0);
  }

  /** Start streaming an answer to the user message at index `userIndex`. */
  function answer(c: Conversation, user: Message): Message {
    const m = newMessage(c, 'assistant', '', [], user.id);
    c.messages.push(m);
    const run: Running = {
      message: m,
      rest: pickAnswer(user.content, user.attachments.length),
      timer: setInterval(() => {
        if (!run.rest) return finish(m.id, false);
        const n = 3 + Math.floor(Math.random() * 6);
        const piece = run.rest.slice(0, n);
        run.rest = run.rest.slice(n);
        m.content += piece;
        emit('generation.token', { messageId: m.id, text: piece });
      }, 35),
    };
    running.set(m.id, run);
    return m;
  }

  function seed(): void {
    const now = Date.now();
    const add = (title: string, minutesAgo: number, turns: [string, string, Message['status']?][]): void => {
      const c: Conversation = { id: id('c'), title, updatedAt: now - minutesAgo * 60_000, preview: '', ocrTokens: 'auto', pinned: false, folder: null, options: { ...INHERIT_ALL }, messages: [] };
      for (const [q, a, s] of turns) {
        c.messages.push(newMessage(c, 'user', q));
        const m = newMessage(c, 'assistant', a);
        m.status = s ?? 'complete';
        if (s === 'error') m.error = 'The engine stopped unexpectedly (exit code 134).';
        m.timings = { timeToFirstTokenMs: 900, totalMs: 5400, promptTokens: 650, completionTokens: 104 };
        c.messages.push(m);
      }
      const last = c.messages.at(-1);
      c.preview = (last?.content ?? '').replace(/\s+/g, ' ').slice(0, 120);
      for (const m of c.messages) m.createdAt = c.updatedAt;
      conversations.set(c.id, c);
    };
    add('Quadratic formula from a textbook page', 5, [['What formula is on this page, and how do I use it?', ANSWERS.math]]);
    add('Rendering check', 90, [
      ['Show me what you can render.', ANSWERS.text],
      ['And the homework photo?', ANSWERS.image.slice(0, 160), 'partial'],
    ]);
    add('Receipt totals', 60 * 26, [['Add up this receipt.', '', 'error']]);
  }

  if (params.get('demo') !== 'empty') seed();

  async function call<C extends CallName>(name: C, request: CallRequest<C>): Promise<CallResponse<C>> {
    await new Promise((r) => setTimeout(r, 40));
    const req = request as Record<string, unknown>;
    const reply = (value: unknown): CallResponse<C> => clone(value) as CallResponse<C>;
    switch (name) {
      case 'conversations.list':
        return reply([...conversations.values()].map(summary).sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updatedAt - a.updatedAt));
      case 'conversations.create': {
        const c: Conversation = { id: id('c'), title: (req.title as string) || 'New chat', updatedAt: Date.now(), preview: '', ocrTokens: 'auto', pinned: false, folder: null, options: { ...INHERIT_ALL }, messages: [] };
        conversations.set(c.id, c);
        return reply(summary(c));
      }
      case 'conversations.get':
        return reply(conversation(req.id as string));
      case 'conversations.rename': {
        const c = conversation(req.id as string);
        c.title = String(req.title).trim() || c.title;
        return reply(summary(c));
      }
      case 'conversations.delete':
        return reply({ deleted: conversations.delete(req.id as string) });
      case 'conversations.setOcrTokens': {
        const c = conversation(req.id as string);
        const value = req.ocrTokens as OcrTokensSetting;
        if (!['auto', 'on', 'off'].includes(value)) throw new ApiError('bad_request', 'ocrTokens must be auto, on or off');
        c.ocrTokens = value;
        return reply(summary(c));
      }
      case 'conversations.setOptions': {
        const c = conversation(req.id as string);
        const patch = (req.options ?? {}) as Record<string, unknown>;
        for (const [key, value] of Object.entries(patch)) {
          if (!(CONVERSATION_OPTION_KEYS as readonly string[]).includes(key)) throw new ApiError('bad_request', `unknown conversation option "${key}"`);
          const problem = answerOptionProblem(key as (typeof CONVERSATION_OPTION_KEYS)[number], key, value, 'inherit');
          if (problem) throw new ApiError('bad_request', problem);
        }
        c.options = { ...c.options, ...patch };
        return reply(summary(c));
      }
      case 'conversations.setPinned': {
        const c = conversation(req.id as string);
        if (typeof req.pinned !== 'boolean') throw new ApiError('bad_request', 'pinned must be true or false');
        c.pinned = req.pinned;
        return reply(summary(c));
      }
      case 'conversations.setFolder': {
        const c = conversation(req.id as string);
        const folder = typeof req.folder === 'string' ? req.folder.trim() : null;
        if (folder !== null && (!folder || folder.length > 60 || /[\p{Cc}/\\]/u.test(folder))) throw new ApiError('bad_request', 'the folder name must be 1–60 characters, without slashes');
        c.folder = folder;
        return reply(summary(c));
      }
      case 'search.messages': {
        const q = String(req.query).toLowerCase();
        const hits: (SearchHit & { source: 'message' | 'attachment' })[] = [];
        const snippetOf = (text: string): string | null => {
          const at = text.toLowerCase().indexOf(q);
          if (!q || at < 0) return null;
          const start = Math.max(0, at - 40);
          return `${start > 0 ? '…' : ''}${text.slice(start, at)}«${text.slice(at, at + q.length)}»${text.slice(at + q.length, at + q.length + 60)}…`;
        };
        for (const c of conversations.values()) {
          for (const m of c.messages) {
            const inText = snippetOf(m.content);
            const inImage = inText ? null : m.attachments.map((a) => snippetOf(imageTexts.get(a.sha256)?.text ?? '')).find((s) => s !== null);
            const snippet = inText ?? inImage;
            if (snippet) hits.push({ conversationId: c.id, messageId: m.id, title: c.title, snippet, source: inText ? 'message' : 'attachment' });
          }
        }
        return reply(hits);
      }
      case 'attachments.add': {
        const { name: fileName, bytes } = request as CallRequest<'attachments.add'>;
        const blob = new Blob([bytes as Uint8Array<ArrayBuffer>]);
        let bitmap: ImageBitmap;
        try {
          bitmap = await createImageBitmap(blob);
        } catch {
          throw new ApiError('bad_image', `${fileName} is not an image this app can read.`);
        }
        const sha256 = await sha256Hex(bytes);
        const info: AttachmentInfo = files.get(sha256) ?? {
          sha256,
          mime: 'image/*',
          bytes: bytes.length,
          width: bitmap.width,
          height: bitmap.height,
          name: fileName,
          url: URL.createObjectURL(blob),
        };
        bitmap.close();
        files.set(sha256, info);
        readImageText(info);
        return reply(info);
      }
      case 'attachments.get': {
        const info = files.get(String(req.sha256));
        if (!info) throw new ApiError('not_found', `attachment ${String(req.sha256)} does not exist`);
        return reply(info);
      }
      case 'attachments.text': {
        const info = files.get(String(req.sha256));
        if (!info) throw new ApiError('not_found', `attachment ${String(req.sha256)} does not exist`);
        return reply(readImageText(info));
      }
      case 'generation.send': {
        const r = request as CallRequest<'generation.send'>;
        const c = conversation(r.conversationId);
        const attachments = r.attachments.map((sha) => {
          const info = files.get(sha);
          if (!info) throw new ApiError('bad_request', 'Unknown attachment.');
          return info;
        });
        if (r.parentId !== undefined && !c.messages.some((m) => m.id === r.parentId)) throw new ApiError('bad_request', `message ${r.parentId} is not in conversation ${c.id}`);
        const user = newMessage(c, 'user', r.text, attachments, r.parentId);
        c.messages.push(user);
        const assistant = answer(c, user);
        touch(c);
        const value = reply({ userMessage: user, assistantMessage: { ...assistant, content: '' } });
        // Let the first tokens overtake the reply, as they can over a real event stream.
        await new Promise((r) => setTimeout(r, 60));
        return value;
      }
      case 'generation.stop': {
        const messageId = req.messageId as string;
        const was = running.has(messageId);
        finish(messageId, true);
        return reply({ stopped: was });
      }
      case 'generation.regenerate': {
        // A new version (sibling) of the answer; the old one stays (reply branches).
        const { c, i } = findMessage(req.messageId as string);
        const user = c.messages.find((m) => m.id === c.messages[i]!.parentId);
        if (!user || user.role !== 'user') throw new ApiError('bad_request', 'Nothing to answer.');
        return reply({ assistantMessage: { ...answer(c, user), content: '' } });
      }
      case 'generation.editAndResend': {
        const { c, i } = findMessage(req.messageId as string);
        const old = c.messages[i]!;
        const user = newMessage(c, 'user', String(req.text), old.attachments, old.parentId);
        c.messages.push(user);
        return reply({ userMessage: user, assistantMessage: { ...answer(c, user), content: '' } });
      }
      case 'models.status':
        return reply(status);
      case 'settings.get':
        return reply(settings);
      case 'settings.set': {
        const next: Settings = { ...settings, ...(request as Partial<Settings>) };
        if (!['system', 'light', 'dark'].includes(next.theme)) throw new ApiError('bad_request', 'theme must be system, light or dark');
        for (const [key, kind, nullMeans] of [
          ['systemPrompt', 'systemPrompt', 'model'],
          ['maxNewTokens', 'max_new_tokens', 'model'],
          ['greedy', 'greedy', 'not-allowed'],
          ['temperature', 'temperature', 'model'],
          ['top_p', 'top_p', 'model'],
        ] as const) {
          const problem = answerOptionProblem(kind, key, next[key], nullMeans);
          if (problem) throw new ApiError('bad_request', problem);
        }
        if (!['ask', 'ocr'].includes(next.captureMode)) throw new ApiError('bad_request', 'captureMode must be ask or ocr');
        if (!['quick-ask', 'main'].includes(next.captureOpens)) throw new ApiError('bad_request', 'captureOpens must be quick-ask or main');
        if (next.captureHotkey !== settings.captureHotkey) {
          if (!isAcceleratorLike(next.captureHotkey)) {
            throw new ApiError('bad_request', `"${next.captureHotkey}" is not a shortcut: use modifiers and one key, e.g. Control+Alt+Shift+M`);
          }
          if (isAvoidedAccelerator(next.captureHotkey, platform)) throw new ApiError('bad_request', `${next.captureHotkey} is a system shortcut: choose another`);
        }
        const hotkeyChanged = next.captureHotkey !== settings.captureHotkey;
        settings = next;
        if (hotkeyChanged) emit('capture.status', captureStatus());
        return reply(settings);
      }
      case 'capture.status':
        return reply(captureStatus());
      case 'app.notices':
        return reply([]);
      case 'capture.start':
        throw new ApiError('bad_request', 'screen capture runs in the desktop app; here, use the Screenshot button');
      default:
        throw new ApiError('bad_request', `Unknown call ${String(name)}`);
    }
  }

  return {
    call,
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const l = listener as (payload: unknown) => void;
      set.add(l);
      return () => set.delete(l);
    },
  };
}
