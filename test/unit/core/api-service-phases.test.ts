/**
 * An answer is visible and stoppable in every phase (issue 12, bug 1): generation.send returns the
 * question and the answer at once, before the image's page text is read, with generation.phase
 * saying what it does; Stop while the text is still being read ends the answer 'partial' at once,
 * and the engine is never asked to generate it. The engine here is a plain object whose page-text
 * reading never ends on its own (a slow page), so nothing depends on timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ApiEvents, Message } from '../../../main/api/contract.js';
import { createApiService, type InferenceEngine } from '../../../main/core/api-service.js';
import type { GenerateRequest, GenerateResult } from '../../../main/engine/protocol.js';

function slowPageEngine() {
  const requests: GenerateRequest[] = [];
  let readings = 0;
  const engine: InferenceEngine = {
    async load(dir) {
      // A model that takes page text in its prompt (OCR tokens), as OmniFusion packages can.
      return { name: 'ocr-model', family: 'omnifusion', dir, execution_provider: 'cpu', load_ms: 0, ocr_text_position: 'before_question' };
    },
    generate(request, onToken) {
      requests.push(request);
      onToken?.(1, 'x');
      return { result: Promise.resolve({ answer: 'x', token_ids: [1], finish_reason: 'eos', prompt_length: 3, execution_provider: 'cpu', kv_cache: 'cpu', timings: { image_ms: 0, prefill_ms: 0, ttft_ms: 1, decode_tokens_per_s: 0, total_ms: 1 } } as GenerateResult), cancel: () => {} };
    },
    recognizeText() {
      readings++;
      return { result: new Promise(() => {}), cancel: () => {} };
    },
    async stop() {},
  };
  return { engine, requests, readings: () => readings };
}

test('send returns at once while the page text is read; Stop in that phase ends the answer partial, never generated', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-phases-'));
  const fake = slowPageEngine();
  const service = await createApiService({ dataDir, modelDir: dataDir, engine: fake.engine });
  try {
    for (let i = 0; i < 100 && (await service.call('models.status', {})).state !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    const phases: ApiEvents['generation.phase'][] = [];
    service.on('generation.phase', (p) => phases.push(p));
    const done = new Promise<Message>((resolve) => service.on('generation.done', ({ message }) => resolve(message)));
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).png().toBuffer();
    const image = await service.call('attachments.add', { name: 'page.png', bytes: new Uint8Array(png) });
    const conversation = await service.call('conversations.create', { title: 'Page' });

    const sent = await service.call('generation.send', { conversationId: conversation.id, text: 'What does it say?', attachments: [image.sha256] });
    assert.equal(sent.userMessage.content, 'What does it say?');
    assert.equal(sent.assistantMessage.status, 'partial', 'the answer exists while it runs');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(phases, [{ messageId: sent.assistantMessage.id, phase: 'reading-image-text' }]);
    assert.ok(fake.readings() >= 1, 'the page is being read');

    assert.deepEqual(await service.call('generation.stop', { messageId: sent.assistantMessage.id }), { stopped: true });
    const final = await done;
    assert.equal(final.id, sent.assistantMessage.id);
    assert.equal(final.status, 'partial');
    assert.equal(final.content, '');
    assert.equal(fake.requests.length, 0, 'the engine was never asked to generate the stopped answer');

    // A question without an image runs through its phases to the end.
    const plain = await service.call('conversations.create', { title: 'Plain' });
    const ended: Message[] = [];
    service.on('generation.done', ({ message }) => ended.push(message));
    const next = await service.call('generation.send', { conversationId: plain.id, text: 'hello', attachments: [] });
    for (let i = 0; i < 100 && !ended.some((m) => m.id === next.assistantMessage.id); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ended.find((m) => m.id === next.assistantMessage.id)?.status, 'complete');
    assert.deepEqual(phases.filter((p) => p.messageId === next.assistantMessage.id).map((p) => p.phase), ['prefill', 'streaming']);
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
