/**
 * An engine process that dies in the middle of an answer (issue 11): the answer keeps what was
 * streamed and is 'partial', as after a crash of the app itself, with the reason; the next
 * question is answered by a restarted engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../../../main/api/contract.js';
import { createApiService } from '../../../main/core/api-service.js';
import { fakeEngine } from '../../helpers/fake-engine.js';

test('an engine crash leaves the interrupted answer partial, with its text and the reason', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-crash-'));
  const engine = fakeEngine({ name: 'fake', crashOn: [1] });
  const service = await createApiService({
    dataDir: path.join(root, 'data'),
    modelsDir: path.join(root, 'models'),
    modelDir: path.join(root, 'fake-model'),
    launcher: engine.launcher,
    readImageText: false,
    platform: 'linux',
  });
  try {
    const c = await service.call('conversations.create', { title: 'crash' });
    const finished = (id: string) =>
      new Promise<Message>((resolve) => {
        const off = service.on('generation.done', ({ message }) => {
          if (message.id === id) {
            off();
            resolve(message);
          }
        });
      });
    const first = await service.call('generation.send', { conversationId: c.id, text: 'first', attachments: [] });
    const crashed = await finished(first.assistantMessage.id);
    assert.equal(crashed.status, 'partial');
    assert.equal(crashed.content, 'answer 1', 'what was streamed before the crash is kept');
    assert.match(crashed.error ?? '', /engine process stopped/);
    const stored = (await service.call('conversations.get', { id: c.id })).messages.find((m) => m.id === crashed.id)!;
    assert.equal(stored.status, 'partial', 'and so it is stored');
    const second = await service.call('generation.send', { conversationId: c.id, text: 'second', attachments: [] });
    const ok = await finished(second.assistantMessage.id);
    assert.equal(ok.status, 'complete', 'the restarted engine answers the next question');
  } finally {
    await service.close();
    await rm(root, { recursive: true, force: true });
  }
});
