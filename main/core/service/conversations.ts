/**
 * The conversations calls: list, create, get, rename, delete, the per-conversation OCR tokens
 * setting and answer options, pins and folders, and search over the history; every change is
 * told to every window (`conversations.changed`).
 */
import type { ConversationSummary as ApiConversationSummary } from '../../api/contract.js';
import type { ConversationWithMessages } from '../store/index.js';
import type { ServiceContext } from './context.js';
import { markHighlights, toMessage, toSummary } from './convert.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';
import { folderName, optionsPatch, searchText, titleText, toId } from './validation.js';

/** The conversations calls and the lookup the rest of the service shares. */
export interface Conversations {
  /** The stored conversation with id `id` (text). @throws ApiRequestError (bad_request: not an id; not_found). */
  conversation(id: string): ConversationWithMessages;
  handlers: Pick<
    Handlers,
    | 'conversations.list'
    | 'conversations.create'
    | 'conversations.get'
    | 'conversations.rename'
    | 'conversations.delete'
    | 'conversations.setOcrTokens'
    | 'conversations.setPinned'
    | 'conversations.setFolder'
    | 'conversations.setOptions'
    | 'search.messages'
  >;
}

/** The conversations of the service of `ctx`. */
export function createConversations(ctx: ServiceContext): Conversations {
  const { store, emit } = ctx;
  const notFound = (id: string | number): ApiRequestError => new ApiRequestError('not_found', `conversation ${id} does not exist`);

  const conversation = (id: string): ConversationWithMessages => {
    const found = store.getConversation(toId(id, 'conversation'));
    if (!found) throw notFound(id);
    return found;
  };

  /** The conversation's summary, told to every window (`conversations.changed`). */
  const changed = (id: number): ApiConversationSummary => {
    const found = store.listConversations().find((c) => c.id === id);
    if (!found) throw notFound(id);
    const s = toSummary(found);
    emit('conversations.changed', { id: s.id, summary: s });
    return s;
  };

  return {
    conversation,
    handlers: {
      'conversations.list': () => store.listConversations().map(toSummary),
      'conversations.create': ({ title }) => changed(store.createConversation(titleText(title) || 'New chat').id),
      'conversations.get': ({ id }) => {
        const c = conversation(id);
        return { id: String(c.id), title: c.title, updatedAt: c.updatedAt, preview: '', ocrTokens: c.ocrTokens, pinned: c.pinned, folder: c.folder, options: { ...c.options }, messages: c.messages.map(toMessage) };
      },
      'conversations.rename': ({ id, title }) => {
        const name = titleText(title);
        if (!name) throw new ApiRequestError('bad_request', 'the title is empty');
        if (!store.renameConversation(toId(id, 'conversation'), name)) throw notFound(id);
        return changed(toId(id, 'conversation'));
      },
      'conversations.delete': ({ id }) => {
        const deleted = store.deleteConversation(toId(id, 'conversation'));
        if (deleted) emit('conversations.changed', { id: String(toId(id, 'conversation')), summary: null });
        return { deleted };
      },
      'conversations.setOcrTokens': ({ id, ocrTokens }) => {
        if (!['auto', 'on', 'off'].includes(ocrTokens)) throw new ApiRequestError('bad_request', 'ocrTokens must be auto, on or off');
        if (!store.setOcrTokens(toId(id, 'conversation'), ocrTokens)) throw notFound(id);
        return changed(toId(id, 'conversation'));
      },
      'conversations.setPinned': ({ id, pinned }) => {
        if (typeof pinned !== 'boolean') throw new ApiRequestError('bad_request', 'pinned must be true or false');
        if (!store.setPinned(toId(id, 'conversation'), pinned)) throw notFound(id);
        return changed(toId(id, 'conversation'));
      },
      'conversations.setFolder': ({ id, folder }) => {
        const name = folderName(folder);
        if (!store.setFolder(toId(id, 'conversation'), name)) throw notFound(id);
        return changed(toId(id, 'conversation'));
      },
      'conversations.setOptions': (request) => {
        const patch = optionsPatch(request?.options);
        const c = conversation(request.id);
        store.setConversationOptions(c.id, { ...c.options, ...patch });
        return changed(c.id);
      },
      'search.messages': ({ query }) =>
        store
          .search(searchText(query))
          .map((hit) => ({ conversationId: String(hit.conversationId), messageId: String(hit.messageId), title: hit.conversationTitle, snippet: markHighlights(hit.snippet, hit.highlights), source: hit.source })),
    },
  };
}
