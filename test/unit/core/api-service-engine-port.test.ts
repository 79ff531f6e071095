/**
 * The service runs on any InferenceEngine (main/core/service/engine-port.ts), not only the local
 * engine process: a plain object given as `options.engine` loads the model, streams and
 * completes answers, is cancelled by generation.stop, and is stopped by close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Message, ModelStatus } from '../../../main/api/contract.js';
import { createApiService, type ApiService, type InferenceEngine } from '../../../main/core/api-service.js';
import type { GenerateRequest, GenerateResult } from '../../../main/engine/protocol.js';

/** An engine that is no engine process: answers "hello world" in two deltas, or waits for cancel when the question is "wait". */
function remoteLikeEngine() {
  const loads: Array<{ dir: string; provider: string }> = [];
  const requests: GenerateRequest[] = [];
  let stops = 0;
  const result = (answer: string, finish: GenerateResult['finish_reason']): GenerateResult => ({
    answer,
    token_ids: answer ? [7, 8] : [],
    finish_reason: finish,
    prompt_length: 11,
    reused_prompt_tokens: 0,
    execution_provider: 'remote',
    kv_cache: 'cpu',
    timings: { image_ms: 0, prefill_ms: 3, ttft_ms: 4, decode_tokens_per_s: 0, total_ms: 9 },
  });
  const engine: InferenceEngine = {
    async load(dir, provider) {
      loads.push({ dir, provider });
      return { name: 'remote-model', family: 'openai-compatible', dir, execution_provider: 'remote', load_ms: 0 };
    },
    generate(request, onToken) {
      requests.push(request);
      let cancel = (): void => {};
      const done = new Promise<GenerateResult>((resolve) => {
        if (request.question === 'wait') {
          cancel = () => resolve(result('', 'cancelled'));
          return;
        }
        setTimeout(() => {
          onToken?.(7, 'hello');
          onToken?.(8, ' world');
          resolve(result('hello world', 'eos'));
        }, 1);
      });
      return { result: done, cancel: () => cancel() };
    },
    recognizeText() {
      return { result: Promise.reject(new Error('no page text here')), cancel: () => {} };
    },
    async stop() {
      stops++;
    },
  };
  return { engine, loads, requests, stops: () => stops };
}

/** The model status once loading has ended (at most 10 s). */
async function settled(service: ApiService): Promise<ModelStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await service.call('models.status', {});
    if (status.state !== 'loading') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the model is still loading');
}

/** The generation.done messages of `service`, by assistant message id, whenever they come (before or after asking). */
function doneMessages(service: ApiService): (id: string) => Promise<Message> {
  const seen = new Map<string, Message>();
  const waiting = new Map<string, (m: Message) => void>();
  service.on('generation.done', ({ message }) => {
    seen.set(message.id, message);
    waiting.get(message.id)?.(message);
  });
  return (id) => (seen.has(id) ? Promise.resolve(seen.get(id)!) : new Promise((resolve) => waiting.set(id, resolve)));
}

test('options.engine: the service loads, answers, stops and closes through the InferenceEngine port', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-port-'));
  const fake = remoteLikeEngine();
  const service = await createApiService({
    dataDir: path.join(root, 'data'),
    modelsDir: path.join(root, 'models'),
    modelDir: path.join(root, 'remote-model'),
    engine: fake.engine,
    readImageText: false,
    platform: 'linux',
  });
  let closed = false;
  try {
    const status = await settled(service);
    assert.deepEqual(status, { name: 'remote-model', family: 'openai-compatible', executionProvider: 'remote', state: 'ready' });
    assert.deepEqual(fake.loads, [{ dir: path.join(root, 'remote-model'), provider: 'auto' }], 'loaded on the settings device');

    const doneOf = doneMessages(service);
    const c = await service.call('conversations.create', { title: 'port' });
    const tokens: string[] = [];
    service.on('generation.token', ({ text }) => tokens.push(text));
    const sent = await service.call('generation.send', { conversationId: c.id, text: 'hi', attachments: [] });
    assert.equal(sent.assistantMessage.model, 'remote-model');
    const answer = await doneOf(sent.assistantMessage.id);
    assert.equal(answer.status, 'complete');
    assert.equal(answer.content, 'hello world');
    assert.deepEqual(tokens, ['hello', ' world']);
    assert.deepEqual(answer.timings, { timeToFirstTokenMs: 4, totalMs: 9, promptTokens: 11, completionTokens: 2 });
    assert.deepEqual(fake.requests[0], { images: [], question: 'hi', history: [], defaults: 'chat', generation: { max_new_tokens: 512, do_sample: false, num_beams: 1 } });

    const waiting = await service.call('generation.send', { conversationId: c.id, text: 'wait', attachments: [], parentId: answer.id });
    assert.deepEqual(fake.requests[1]!.history, [{ question: 'hi', answer: 'hello world' }]);
    assert.deepEqual(await service.call('generation.stop', { messageId: waiting.assistantMessage.id }), { stopped: true });
    assert.equal((await doneOf(waiting.assistantMessage.id)).status, 'partial');

    await service.close();
    closed = true;
    assert.equal(fake.stops(), 1, 'close stops the engine');
  } finally {
    if (!closed) await service.close();
    await rm(root, { recursive: true, force: true });
  }
});
