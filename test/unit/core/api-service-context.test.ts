/**
 * Long conversations through the service (issue 13): every earlier turn of the branch goes to the
 * engine on chat defaults (the engine leaves out what does not fit); what the engine says about an
 * answer (prompt tokens reused, turns left out, a warning) is kept with the answer and survives a
 * restart, and the answer's details line says it (renderer/lib/message-meta.ts contextNote).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import { contextNote } from '../../../renderer/lib/message-meta.js';
import { fakeEngine } from '../../helpers/fake-engine.js';

function done(service: ApiService, messageId: string): Promise<Message> {
  return new Promise((resolve) => {
    const off = service.on('generation.done', ({ message }) => {
      if (message.id !== messageId) return;
      off();
      resolve(message);
    });
  });
}

test('every earlier turn is sent; turns left out, reused tokens and the warning are kept with the answer', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-context-'));
  const engine = fakeEngine({
    name: 'fake',
    result: (n) => (n < 4 ? { reused_prompt_tokens: n > 1 ? 40 : 0 } : { reused_prompt_tokens: 12, dropped_turns: 2, warning: 'the prompt is 2100 positions, more than the 2048 OmniFusion was fine-tuned at' }),
  });
  const open = () =>
    createApiService({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models'), modelDir: path.join(root, 'fake-model'), launcher: engine.launcher, readImageText: false, platform: 'linux' });
  let service = await open();
  try {
    const c = await service.call('conversations.create', {});
    let last: Message | undefined;
    for (let i = 1; i <= 4; i++) {
      const sent = await service.call('generation.send', { conversationId: c.id, text: `question ${i}`, attachments: [] });
      last = await done(service, sent.assistantMessage.id);
    }
    const request = engine.requests.at(-1)!;
    assert.deepEqual(request.history?.map((t) => t.question), ['question 1', 'question 2', 'question 3'], 'the whole branch goes to the engine');
    assert.equal(request.defaults, 'chat');
    assert.equal(last!.timings?.droppedTurns, 2);
    assert.equal(last!.timings?.reusedPromptTokens, 12);
    assert.match(last!.timings?.warning ?? '', /2048/);
    await service.close();
    service = await open();
    const stored = (await service.call('conversations.get', { id: c.id })).messages.filter((m) => m.role === 'assistant');
    assert.equal(stored.at(-1)!.timings?.droppedTurns, 2, 'kept after a restart');
    assert.equal(stored[1]!.timings?.droppedTurns, undefined);
    assert.equal(contextNote(stored.at(-1)!.timings), "2 earliest turns left out to fit the model's context · the prompt is 2100 positions, more than the 2048 OmniFusion was fine-tuned at");
    assert.equal(contextNote(stored[1]!.timings), '');
    assert.equal(contextNote({ droppedTurns: 1 }), "1 earliest turn left out to fit the model's context");
  } finally {
    await service.close();
    await rm(root, { recursive: true, force: true });
  }
});
