/**
 * Conversations, the open conversation, search and generation: everything the chat window shows
 * that comes from the API. Streams arrive as `generation.token` deltas and end with
 * `generation.done` carrying the final message (which replaces whatever was streamed).
 *
 * Events can overtake the reply of the call that started them (the HTTP reply of generation.send
 * may land after the first tokens over the WebSocket), so deltas for a message id not seen yet are
 * held for a while and applied when the message appears.
 */
import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { Conversation, ConversationOptions, ConversationSummary, GenerationPhase, Message, OcrTokensSetting, OmniFusionApi, SearchHit } from '../../../main/api/contract';
import { errorMessage } from '../platform/errors';
import { isConnectionAware } from '../platform/web-bridge';
import { childrenOf, descendantsOf, forkOf, pathPreview, versionsOf, visiblePath, type BranchChoices, type Versions } from '../branches';
import { newestFirst } from './history.svelte';
import { ui } from './ui.svelte';

/** Title of a conversation the user has not named yet. */
export const DEFAULT_TITLE = 'New chat';
const EARLY_TTL_MS = 60_000;
const ACTIVE_TTL_MS = 120_000;

interface Early {
  text: string;
  done?: Message;
  at: number;
}

/** A title from the first message: its first line, shortened at a word boundary. */
export function titleFrom(text: string, hasImages: boolean): string {
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  if (!line) return hasImages ? 'Image question' : DEFAULT_TITLE;
  if (line.length <= 60) return line;
  const cut = line.slice(0, 60);
  const space = cut.lastIndexOf(' ');
  return `${space > 30 ? cut.slice(0, space) : cut}…`;
}

class ChatState {
  conversations = $state<ConversationSummary[]>([]);
  listLoaded = $state(false);
  #current = $state<Conversation | null>(null);
  /** The open conversation, with every branch of it; null for a new chat not sent yet. */
  get current(): Conversation | null {
    return this.#current;
  }
  set current(next: Conversation | null) {
    const was = this.#current;
    if (was && was.id !== next?.id) this.#keepPreview(was.id);
    this.#current = next;
  }
  /** Id of the conversation being opened (current may still be the previous one). */
  openingId = $state<string | null>(null);
  /** Assistant messages receiving tokens right now. */
  streaming = new SvelteSet<string>();
  /**
   * Answers known to be generating in any conversation, with when they were first seen. The engine
   * answers one request at a time, so a newer one waits until the older ones are done.
   */
  active = new SvelteMap<string, { since: number; last: number }>();
  /** What each running answer is doing (generation.phase), until it ends. */
  phases = new SvelteMap<string, GenerationPhase>();
  /** A send/regenerate/edit call is on its way. */
  busy = $state(false);
  /** Message to scroll to and highlight (from a search hit). */
  highlightId = $state<string | null>(null);

  searchQuery = $state('');
  searchHits = $state<SearchHit[]>([]);
  searching = $state(false);
  searchError = $state<string | null>(null);

  connection = $state<'open' | 'connecting' | 'closed'>('open');

  /** The streaming message of the open conversation, if any. */
  streamingMessage = $derived(this.current?.messages.find((m) => this.streaming.has(m.id)) ?? null);
  generating = $derived(this.busy || this.streamingMessage !== null);

  /**
   * Reply branches: `current.messages` holds every branch; the chat shows one path (lib/branches.ts).
   * The versions chosen at forks, by conversation id, are kept while the app runs (not across
   * reloads: a reopened conversation shows the path to its newest message).
   */
  #choices = $state<Record<string, BranchChoices>>({});
  #children = $derived(childrenOf(this.current?.messages ?? []));
  /** The messages shown, root to leaf: the chosen versions, else the path to the newest message. */
  path = $derived(this.current ? visiblePath(this.current.messages, this.#choices[this.current.id] ?? {}, this.#children) : []);

  /** What the rows of conversations left on a chosen branch show, with the updatedAt it held for. */
  #keptPreviews = new SvelteMap<string, { text: string; updatedAt: number }>();

  /**
   * The preview a list row shows: the last message of the branch the conversation shows. For the
   * open conversation, the path on screen; for one left earlier in this run, the path it showed
   * then (its choices are kept), until the conversation changes (a new message or a finished
   * answer moves updatedAt); else the store's, its newest message: the branch a conversation
   * opens on after a reload, when the choices are gone.
   */
  previewOf(c: ConversationSummary): string {
    if (this.current?.id === c.id) return pathPreview(this.path) || c.preview;
    const kept = this.#keptPreviews.get(c.id);
    return kept && kept.updatedAt === c.updatedAt ? kept.text : c.preview;
  }

  /** The open conversation is being left: its row keeps showing the branch it showed. */
  #keepPreview(id: string): void {
    const summary = this.conversations.find((c) => c.id === id);
    const text = pathPreview(this.path);
    if (summary && text) this.#keptPreviews.set(id, { text, updatedAt: summary.updatedAt });
    else this.#keptPreviews.delete(id);
  }

  /** Where this message stands among its versions (regenerated answers, edited questions). */
  versions(message: Message): Versions {
    return versionsOf(message, this.#children);
  }

  /** Show this version of its turn, and below it the path to its newest message. */
  showVersion(messageId: string): void {
    const current = this.current;
    const message = current?.messages.find((m) => m.id === messageId);
    if (!current || !message) return;
    const choices = (this.#choices[current.id] ??= {});
    for (const id of [messageId, ...descendantsOf(messageId, this.#children)]) delete choices[id];
    choices[forkOf(message)] = messageId;
  }

  /** Messages just added (sent, regenerated, edited) become the shown branch. */
  #choose(conversationId: string, ...messages: Message[]): void {
    const choices = (this.#choices[conversationId] ??= {});
    for (const m of messages) choices[forkOf(m)] = m.id;
  }

  #api!: OmniFusionApi;
  #early = new Map<string, Early>();
  #searchSeq = 0;
  #openSeq = 0;
  #listTimer: ReturnType<typeof setTimeout> | undefined;

  /** True while this answer waits in the engine's queue behind another one still generating. */
  isQueued(messageId: string): boolean {
    const mine = this.active.get(messageId);
    if (!mine) return false;
    const now = Date.now();
    for (const [id, other] of this.active) {
      // An entry whose end was missed (e.g. while the connection was down) must not block forever.
      if (id !== messageId && other.since <= mine.since && (this.streaming.has(id) || now - other.last < ACTIVE_TTL_MS)) return true;
    }
    return false;
  }

  #markActive(messageId: string): void {
    const now = Date.now();
    const entry = this.active.get(messageId);
    if (!entry) this.active.set(messageId, { since: now, last: now });
    else if (now - entry.last > 1000) this.active.set(messageId, { since: entry.since, last: now });
  }

  async init(api: OmniFusionApi): Promise<void> {
    this.#api = api;
    this.#initRoute();
    api.on('generation.token', ({ messageId, text }) => this.#onToken(messageId, text));
    api.on('generation.done', ({ message }) => this.#onDone(message));
    api.on('generation.phase', ({ messageId, phase }) => {
      this.phases.set(messageId, phase);
      this.#markActive(messageId);
    });
    api.on('conversations.changed', ({ id, summary }) => this.#applyChange(id, summary));
    if (isConnectionAware(api)) {
      let wasDown = false;
      api.onConnection((state) => {
        this.connection = state;
        if (state !== 'open') wasDown = true;
        if (state === 'open' && wasDown) {
          wasDown = false;
          void this.#resync();
        }
      });
    }
    await this.refreshList();
  }

  // ---- the address: #/c/<id> names the open conversation (survives reloads, back/forward) ------

  #routeReady = $state(false);

  static routeId(): string | null {
    const m = /^#\/c\/([^/?#]+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]!) : null;
  }

  #initRoute(): void {
    if (typeof window === 'undefined') return;
    const initial = ChatState.routeId();
    window.addEventListener('popstate', () => {
      const id = ChatState.routeId();
      if (id && id !== this.current?.id) void this.open(id);
      else if (!id && this.current) {
        ++this.#openSeq;
        this.openingId = null;
        this.current = null;
      }
    });
    $effect.root(() => {
      $effect(() => {
        const id = this.current?.id ?? null;
        if (!this.#routeReady) return;
        if (ChatState.routeId() === id) return;
        const url = `${location.pathname}${location.search}${id ? `#/c/${encodeURIComponent(id)}` : ''}`;
        if (id && ChatState.routeId()) history.pushState(null, '', url);
        else history.replaceState(null, '', url);
      });
    });
    if (initial) {
      void this.open(initial).finally(() => {
        this.#routeReady = true;
        if (!this.current) history.replaceState(null, '', `${location.pathname}${location.search}`);
      });
    } else {
      this.#routeReady = true;
    }
  }

  // ---- conversations -------------------------------------------------------------------------

  async refreshList(): Promise<void> {
    try {
      const list = await this.#api.call('conversations.list', {});
      // A conversation whose new answer has no text yet has no preview: keep the last one shown.
      const previous = new Map(this.conversations.map((c) => [c.id, c.preview]));
      this.conversations = [...list]
        .map((c) => (!c.preview && previous.get(c.id) ? { ...c, preview: previous.get(c.id)! } : c))
        .sort(newestFirst);
      this.listLoaded = true;
    } catch (err) {
      // While the connection is down the banner already says so.
      if (this.connection === 'open') ui.toast(`Conversations could not be loaded: ${errorMessage(err)}`, 'error');
    }
  }

  #refreshListSoon(): void {
    clearTimeout(this.#listTimer);
    this.#listTimer = setTimeout(() => void this.refreshList(), 300);
  }

  async open(id: string, highlight: string | null = null): Promise<void> {
    this.highlightId = highlight;
    if (this.current?.id === id && !highlight) return;
    const seq = ++this.#openSeq;
    this.openingId = id;
    try {
      const conversation = await this.#api.call('conversations.get', { id });
      if (seq !== this.#openSeq) return;
      this.current = conversation;
      for (const m of conversation.messages) this.#applyEarly(m);
    } catch (err) {
      if (seq === this.#openSeq) ui.toast(`The conversation could not be opened: ${errorMessage(err)}`, 'error');
    } finally {
      if (seq === this.#openSeq) this.openingId = null;
    }
  }

  /**
   * Starts a new chat: the view shows the empty composer at once and nothing is stored until the
   * first question is sent (send() creates the conversation then, titled after the question). So
   * a question typed right after clicking New chat can never land in the previous conversation,
   * and clicking New chat again and again lists no empty "New chat" entries.
   */
  newChat(): void {
    ++this.#openSeq;
    this.openingId = null;
    this.highlightId = null;
    this.current = null;
  }

  async rename(id: string, title: string): Promise<boolean> {
    const clean = title.trim();
    if (!clean) return false;
    try {
      this.#applyChange(id, await this.#api.call('conversations.rename', { id, title: clean }));
      return true;
    } catch (err) {
      ui.toast(`Rename failed: ${errorMessage(err)}`, 'error');
      return false;
    }
  }

  async remove(id: string): Promise<boolean> {
    try {
      await this.#api.call('conversations.delete', { id });
      this.#applyChange(id, null);
      return true;
    } catch (err) {
      ui.toast(`Delete failed: ${errorMessage(err)}`, 'error');
      return false;
    }
  }

  /** Whether this conversation's image text goes into the prompt as OCR tokens (kept by the service). */
  async setOcrTokens(id: string, ocrTokens: OcrTokensSetting): Promise<boolean> {
    try {
      this.#applyChange(id, await this.#api.call('conversations.setOcrTokens', { id, ocrTokens }));
      return true;
    } catch (err) {
      ui.toast(`The setting was not saved: ${errorMessage(err)}`, 'error');
      return false;
    }
  }

  /** Change some of the conversation's answer options (null: inherit from Settings); null when saved, else the service's one-line reason. */
  async setOptions(id: string, options: Partial<ConversationOptions>): Promise<string | null> {
    try {
      this.#applyChange(id, await this.#api.call('conversations.setOptions', { id, options }));
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** Pin to the top of the list or unpin (kept by the service); false when it failed (a toast says why). */
  async setPinned(id: string, pinned: boolean): Promise<boolean> {
    try {
      this.#applyChange(id, await this.#api.call('conversations.setPinned', { id, pinned }));
      return true;
    } catch (err) {
      ui.toast(`${pinned ? 'Pin' : 'Unpin'} failed: ${errorMessage(err)}`, 'error');
      return false;
    }
  }

  /** File in a folder (null: in none); null when done, else the service's one-line reason (shown where the name was typed). */
  async setFolder(id: string, folder: string | null): Promise<string | null> {
    try {
      this.#applyChange(id, await this.#api.call('conversations.setFolder', { id, folder }));
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /**
   * A conversation's new summary, or null when it was deleted: from this window's own call or
   * from another window (`conversations.changed`), so applying it twice changes nothing.
   */
  #applyChange(id: string, summary: ConversationSummary | null): void {
    if (!summary) {
      this.conversations = this.conversations.filter((c) => c.id !== id);
      this.searchHits = this.searchHits.filter((h) => h.conversationId !== id);
      if (this.current?.id === id) {
        this.current = null;
        ++this.#openSeq;
      }
      this.#keptPreviews.delete(id);
      return;
    }
    // A summary whose newest answer has no text yet has no preview: keep the one shown.
    const shown = this.conversations.find((c) => c.id === id);
    const next = !summary.preview && shown?.preview ? { ...summary, preview: shown.preview } : summary;
    this.conversations = [...this.conversations.filter((c) => c.id !== id), next].sort(newestFirst);
    if (this.current?.id === id) {
      Object.assign(this.current, { title: summary.title, pinned: summary.pinned, folder: summary.folder, ocrTokens: summary.ocrTokens, options: summary.options });
    }
  }

  // ---- search --------------------------------------------------------------------------------

  async search(query: string): Promise<void> {
    this.searchQuery = query;
    const seq = ++this.#searchSeq;
    const q = query.trim();
    if (!q) {
      this.searchHits = [];
      this.searching = false;
      this.searchError = null;
      return;
    }
    this.searching = true;
    try {
      const hits = await this.#api.call('search.messages', { query: q });
      if (seq !== this.#searchSeq) return;
      this.searchHits = hits;
      this.searchError = null;
    } catch (err) {
      if (seq !== this.#searchSeq) return;
      this.searchHits = [];
      this.searchError = errorMessage(err);
    } finally {
      if (seq === this.#searchSeq) this.searching = false;
    }
  }

  clearSearch(): void {
    void this.search('');
  }

  // ---- generation ----------------------------------------------------------------------------

  /** Send the composer's text and attachments; false when nothing was sent (the draft stays). */
  async send(text: string, attachments: string[]): Promise<boolean> {
    if (this.generating || !text.trim()) return false;
    this.busy = true;
    let conversationId: string | undefined;
    try {
      let conversation = this.current;
      if (!conversation) {
        const summary = await this.#api.call('conversations.create', { title: titleFrom(text, attachments.length > 0) });
        this.#applyChange(summary.id, summary);
        conversation = this.current = { ...summary, messages: [] };
      } else if (conversation.messages.length === 0 && conversation.title === DEFAULT_TITLE) {
        void this.rename(conversation.id, titleFrom(text, attachments.length > 0));
      }
      conversationId = conversation.id;
      // Continue the branch shown: the question follows its last message.
      const parentId = this.current?.id === conversation.id ? this.path.at(-1)?.id : undefined;
      const { userMessage, assistantMessage } = await this.#api.call('generation.send', {
        conversationId: conversation.id,
        text,
        attachments,
        ...(parentId ? { parentId } : {}),
      });
      this.#choose(conversation.id, userMessage, assistantMessage);
      if (this.current?.id === conversation.id) {
        this.#addMessage(userMessage);
        this.#addStreaming(assistantMessage);
      }
      this.#refreshListSoon();
      return true;
    } catch (err) {
      ui.toast(`Not sent: ${errorMessage(err)}`, 'error');
      // The question may have been stored before the answer failed to start: show what is there.
      if (conversationId && this.current?.id === conversationId) void this.#resync();
      return false;
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    const message = this.streamingMessage;
    if (!message) return;
    try {
      const { stopped } = await this.#api.call('generation.stop', { messageId: message.id });
      if (!stopped && this.streaming.has(message.id)) {
        // Nothing was running: the end was missed (e.g. while the event stream was down).
        this.streaming.delete(message.id);
        this.active.delete(message.id);
        void this.#resync();
      }
    } catch (err) {
      ui.toast(`Could not stop: ${errorMessage(err)}`, 'error');
    }
  }

  async regenerate(messageId: string): Promise<void> {
    if (this.generating) return;
    this.busy = true;
    const conversationId = this.current?.id;
    try {
      const { assistantMessage } = await this.#api.call('generation.regenerate', { messageId });
      // The new answer is a new version (sibling) of the old one, which stays: show the new one.
      if (conversationId) this.#choose(conversationId, assistantMessage);
      if (this.current && this.current.id === conversationId) this.#addStreaming(assistantMessage);
      this.#refreshListSoon();
    } catch (err) {
      ui.toast(`Regenerate failed: ${errorMessage(err)}`, 'error');
    } finally {
      this.busy = false;
    }
  }

  /** Ask a user message again with new text (a new version of it; the old branch stays) and answer it. */
  async editAndResend(messageId: string, text: string): Promise<boolean> {
    if (this.generating || !text.trim()) return false;
    this.busy = true;
    const conversationId = this.current?.id;
    try {
      const { userMessage, assistantMessage } = await this.#api.call('generation.editAndResend', { messageId, text });
      if (conversationId) this.#choose(conversationId, userMessage, assistantMessage);
      if (this.current && this.current.id === conversationId) {
        this.#addMessage(userMessage);
        this.#addStreaming(assistantMessage);
      }
      this.#refreshListSoon();
      return true;
    } catch (err) {
      ui.toast(`Edit failed: ${errorMessage(err)}`, 'error');
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** Add a new message (the newest, so last) unless a resync brought it already. */
  #addMessage(message: Message): void {
    if (this.current && !this.current.messages.some((m) => m.id === message.id)) this.current.messages.push(message);
  }

  /** Add a new assistant message, streaming unless its end already arrived. */
  #addStreaming(message: Message): void {
    if (!this.current) return;
    const known = this.current.messages.find((m) => m.id === message.id);
    if (known && known.status !== 'partial') return; // a resync brought it finished already
    this.#addMessage(message);
    this.streaming.add(message.id);
    this.#markActive(message.id);
    const added = this.current.messages.find((m) => m.id === message.id);
    if (added) this.#applyEarly(added);
  }

  #findMessage(id: string): Message | undefined {
    return this.current?.messages.find((m) => m.id === id);
  }

  #onToken(messageId: string, text: string): void {
    this.#markActive(messageId);
    const message = this.#findMessage(messageId);
    if (message) {
      if (!this.streaming.has(messageId)) {
        if (message.status !== 'partial') return; // a late delta of an answer already complete
        this.streaming.add(messageId);
      }
      message.content += text;
      return;
    }
    this.#pruneEarly();
    const early = this.#early.get(messageId);
    if (early) early.text += text;
    else this.#early.set(messageId, { text, at: Date.now() });
  }

  #onDone(final: Message): void {
    this.active.delete(final.id);
    this.phases.delete(final.id);
    const current = this.current;
    const i = current ? current.messages.findIndex((m) => m.id === final.id) : -1;
    if (current && i >= 0) {
      current.messages[i] = final;
      this.streaming.delete(final.id);
      ui.announce(final.status === 'error' ? 'The answer failed.' : final.status === 'partial' ? 'Answer stopped.' : 'Answer finished.');
    } else {
      this.#pruneEarly();
      const early = this.#early.get(final.id) ?? { text: '', at: Date.now() };
      early.done = final;
      this.#early.set(final.id, early);
    }
    this.#refreshListSoon();
  }

  /** Apply what arrived for this message before the message itself did. */
  #applyEarly(message: Message): void {
    const early = this.#early.get(message.id);
    if (!early) return;
    this.#early.delete(message.id);
    const messages = this.current?.messages;
    if (early.done && messages) {
      const i = messages.findIndex((m) => m.id === message.id);
      if (i >= 0) messages[i] = early.done;
      this.streaming.delete(message.id);
    } else {
      message.content += early.text;
    }
  }

  #pruneEarly(): void {
    const now = Date.now();
    for (const [id, early] of this.#early) if (now - early.at > EARLY_TTL_MS) this.#early.delete(id);
  }

  /** After the event stream was down: reload what may have changed meanwhile. */
  async #resync(): Promise<void> {
    void this.refreshList();
    const id = this.current?.id;
    if (!id) return;
    try {
      const conversation = await this.#api.call('conversations.get', { id });
      if (this.current?.id !== id) return;
      for (const m of conversation.messages) {
        if (m.status !== 'partial') {
          this.streaming.delete(m.id);
          this.active.delete(m.id);
        }
      }
      this.current = conversation;
    } catch {
      // the next resync or user action will tell
    }
  }
}

export const chat = new ChatState();
