/**
 * Answering: the generation calls (send, stop, regenerate, edit and resend). A question is
 * stored, then answered by the engine into a new assistant message whose text streams as
 * `generation.token` events and ends with `generation.done` (complete, partial when stopped or
 * the engine crashed, or error); `generation.phase` says what it is doing before its first token
 * (reading the images' text, waiting behind another answer, encoding the image / reading the
 * prompt) and when it streams. It can be stopped in every phase. The prompt holds the branch's
 * earlier turns, its latest images and, where the model takes them, their OCR tokens; the system
 * text and decoding are the answer options in effect (the conversation's, else the settings',
 * else the model's; decoding.ts).
 */
import { randomInt } from 'node:crypto';
import type { Message as ApiMessage, GenerationPhase } from '../../api/contract.js';
import { effectiveAnswerOptions } from '../../api/answer-options.js';
import type { ChatTurn, GenerateResult } from '../../engine/protocol.js';
import type { Message } from '../store/index.js';
import type { Attachments } from './attachments.js';
import type { ServiceContext } from './context.js';
import type { Conversations } from './conversations.js';
import { pathTo, toMessage } from './convert.js';
import { decodingRequest } from './decoding.js';
import { EngineError, type Cancellable } from './engine-port.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';
import type { ImageTexts } from './image-text.js';
import type { LoadedModel } from './loaded-model.js';
import { hashes, questionText, toId } from './validation.js';

/** Images a user may attach to one message; OmniFusion puts each one's 576 features in the prompt. */
const MAX_IMAGES_PER_MESSAGE = 8;

/** What a generation handle's result is when the answer was stopped before the engine started it. */
function cancelledResult(): GenerateResult {
  return { finish_reason: 'cancelled' } as GenerateResult;
}

/** What answering uses of the other domains. */
export interface GenerationDeps {
  loaded: LoadedModel;
  texts: ImageTexts;
  attachments: Attachments;
  conversations: Conversations;
}

/** The generation calls of the service of `ctx`. Running answers are in ctx.generations. */
export function createGeneration(ctx: ServiceContext, { loaded, texts, attachments, conversations }: GenerationDeps): Pick<Handlers, 'generation.send' | 'generation.stop' | 'generation.regenerate' | 'generation.editAndResend'> {
  const { store, engine, emit, generations: active } = ctx;

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
   * Start answering `userMessage` into a new assistant message (a sibling branch when one exists).
   * `resample` (regenerate): sample a new answer with a fresh seed, since greedy decoding or the
   * model's beam search would give the same answer again (decoding.ts).
   */
  const answer = async (conversationId: number, userMessage: Message, resample = false): Promise<ApiMessage> => {
    const { messages, options: conversationOptions } = store.getConversation(conversationId)!;
    const { history, images } = contextFor(messages, userMessage);
    // The answer exists, and can be stopped, from the start: before its images' text is read
    // (seconds for a page) and while it waits behind another answer, not only once it streams.
    const writer = store.beginAssistantMessage(conversationId, loaded.status().name, { parentId: userMessage.id });
    const messageId = writer.messageId;
    const id = String(messageId);
    const phase = (p: GenerationPhase): void => emit('generation.phase', { messageId: id, phase: p });
    const stopped = new AbortController();
    let running: Cancellable<GenerateResult> | undefined;
    let resolve!: (r: GenerateResult | undefined) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<GenerateResult | undefined>((res, rej) => ((resolve = res), (reject = rej)));
    const handleResult = result.then((r) => r ?? cancelledResult());
    handleResult.catch(() => undefined); // the failure is handled by finish() below
    active.set(messageId, {
      result: handleResult,
      cancel: () => {
        stopped.abort();
        running?.cancel();
      },
    });
    // The options as they are when the question is sent (a change while it waits applies to the next one).
    const decoding = decodingRequest(effectiveAnswerOptions(conversationOptions, ctx.settings), resample ? { resample: true, seed: randomInt(0x1_0000_0000) } : { resample: false });
    const start = async (): Promise<void> => {
      const readsText = loaded.takesOcrText() && images.length > 0;
      if (readsText) phase('reading-image-text');
      const ocrText = await texts.ocrTextFor(conversationId, images.map((i) => i.sha256), loaded.takesOcrText(), stopped.signal);
      if (stopped.signal.aborted) return resolve(undefined);
      // Another answer still running in the engine: this one waits behind it.
      phase([...active.keys()].some((other) => other !== messageId && other < messageId) ? 'queued' : images.length > 0 ? 'encoding-image' : 'prefill');
      let first = true;
      running = engine.generate(
        {
          images: images.map(({ path }) => ({ path })),
          question: userMessage.content,
          history,
          ...(ocrText ? { ocr_text: ocrText } : {}),
          ...decoding,
        },
        (_id, text) => {
          if (!text) return;
          if (first) phase('streaming');
          first = false;
          writer.append(text);
          emit('generation.token', { messageId: id, text });
        },
      );
      running.result.then(resolve, reject);
    };
    const finish = (result: GenerateResult | undefined, err: unknown): void => {
      active.delete(messageId);
      try {
        // A crash of the engine process interrupts the answer like a crash of the app: what
        // was streamed is kept as 'partial' (with the reason), never marked a failed answer.
        if (err instanceof EngineError && err.code === 'crashed') writer.interrupt(err.message);
        else if (err) writer.fail(err instanceof Error ? err.message : String(err));
        else if (result === undefined || result.finish_reason === 'cancelled') writer.interrupt();
        else {
          writer.complete({
            timeToFirstTokenMs: result.timings.ttft_ms,
            totalMs: result.timings.total_ms,
            promptTokens: result.prompt_length,
            completionTokens: result.token_ids.length,
            ...(result.ocr ? { ocrTokens: result.ocr.tokens } : {}),
            ...(result.reused_prompt_tokens ? { reusedPromptTokens: result.reused_prompt_tokens } : {}),
            ...(result.dropped_turns ? { droppedTurns: result.dropped_turns } : {}),
            ...(result.warning ? { warning: result.warning } : {}),
          });
        }
      } catch {
        // The conversation was deleted while answering: nothing left to update.
        return;
      }
      const stored = store.getConversation(conversationId)?.messages.find((m) => m.id === messageId);
      if (stored) emit('generation.done', { message: toMessage(stored) });
    };
    result.then(
      (r) => finish(r, undefined),
      (e: unknown) => finish(undefined, e),
    );
    start().catch(reject);
    const created = store.getConversation(conversationId)!.messages.find((m) => m.id === messageId)!;
    return toMessage(created);
  };

  /** Message `id` (text) with its conversation's id and messages. @throws ApiRequestError (bad_request: not an id; not_found). */
  const messageOf = (id: string): { conversationId: number; message: Message; messages: Message[] } => {
    const message = store.getMessage(toId(id, 'message'));
    if (!message) throw new ApiRequestError('not_found', `message ${id} does not exist`);
    return { conversationId: message.conversationId, message, messages: store.getConversation(message.conversationId)!.messages };
  };

  return {
    'generation.send': async (request) => {
      const question = questionText(request.text);
      const attached = hashes(request.attachments, 'attachments');
      const { conversationId } = request;
      if (attached.length > MAX_IMAGES_PER_MESSAGE) throw new ApiRequestError('bad_request', `at most ${MAX_IMAGES_PER_MESSAGE} images per message`);
      const cid = toId(conversationId, 'conversation');
      conversations.conversation(conversationId);
      // The branch the user is looking at: the question follows its last message.
      let parentId: number | undefined;
      if (request.parentId !== undefined && request.parentId !== null) {
        if (typeof request.parentId !== 'string') throw new ApiRequestError('bad_request', 'parentId must be a message id');
        parentId = toId(request.parentId, 'parent message');
        if (store.getMessage(parentId)?.conversationId !== cid) {
          throw new ApiRequestError('bad_request', `message ${request.parentId} is not in conversation ${conversationId}`);
        }
      }
      await loaded.require();
      const userMessage = store.addMessage(cid, { role: 'user', content: question, attachments: attachments.named(attached), ...(parentId !== undefined ? { parentId } : {}) });
      const assistantMessage = await answer(cid, userMessage);
      return { userMessage: toMessage(userMessage), assistantMessage };
    },
    'generation.stop': ({ messageId }) => {
      const handle = active.get(toId(messageId, 'message'));
      handle?.cancel();
      return { stopped: handle !== undefined };
    },
    'generation.regenerate': async ({ messageId }) => {
      const { conversationId, message, messages } = messageOf(messageId);
      await loaded.require();
      const parent = messages.find((m) => m.id === message.parentId);
      if (message.role !== 'assistant' || !parent) throw new ApiRequestError('bad_request', 'only an answer can be regenerated');
      active.get(message.id)?.cancel();
      return { assistantMessage: await answer(conversationId, parent, true) };
    },
    'generation.editAndResend': async (request) => {
      const newText = questionText(request.text);
      const { messageId } = request;
      const { conversationId, message } = messageOf(messageId);
      await loaded.require();
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
  };
}
