/**
 * Reply branches in the API service, with a fake engine process that answers every question with
 * "answer N" and records the requests: conversations.get returns every branch with parentId;
 * regenerate and edit-and-resend add siblings; generation.send with a parentId continues that
 * branch, and the history given to the engine follows its parent chain only; a parent that is
 * unknown or in another conversation is refused in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import { fakeEngine, type FakeEngine } from '../../helpers/fake-engine.js';

async function withService(run: (service: ApiService, engine: FakeEngine) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-branches-'));
  const engine = fakeEngine({ name: 'fake' });
  const service = await createApiService({
    dataDir: path.join(root, 'data'),
    modelsDir: path.join(root, 'models'),
    modelDir: path.join(root, 'fake-model'),
    launcher: engine.launcher,
    readImageText: false,
    platform: 'linux',
  });
  try {
    await run(service, engine);
  } finally {
    await service.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Resolves with the final message once the answer `messageId` is done. */
function done(service: ApiService, messageId: string): Promise<Message> {
  return new Promise((resolve) => {
    const off = service.on('generation.done', ({ message }) => {
      if (message.id !== messageId) return;
      off();
      resolve(message);
    });
  });
}

async function ask(service: ApiService, conversationId: string, text: string, parentId?: string) {
  const sent = await service.call('generation.send', { conversationId, text, attachments: [], ...(parentId ? { parentId } : {}) });
  const answer = await done(service, sent.assistantMessage.id);
  return { question: sent.userMessage, answer };
}

test('branches: get returns every branch with parentId; send on an older branch uses only that path as history', { timeout: 30_000 }, async () => {
  await withService(async (service, engine) => {
    const c = await service.call('conversations.create', { title: 'branches' });
    const q1 = await ask(service, c.id, 'first question');
    assert.equal(q1.question.parentId, null, 'the first question is a root');
    assert.equal(q1.answer.parentId, q1.question.id);
    assert.equal(q1.answer.content, 'answer 1');

    // Regenerate: a sibling answer; both stay.
    const regen = await service.call('generation.regenerate', { messageId: q1.answer.id });
    const a1b = await done(service, regen.assistantMessage.id);
    assert.equal(a1b.parentId, q1.question.id, 'the new answer is a sibling of the old one');
    assert.equal(a1b.content, 'answer 2');

    // A follow-up without parentId continues the newest message (today's behaviour): after "answer 2".
    const q2 = await ask(service, c.id, 'second question');
    assert.equal(q2.question.parentId, a1b.id);
    assert.deepEqual(engine.requests.at(-1)!.history, [{ question: 'first question', answer: 'answer 2' }]);

    // A follow-up on the older branch (after "answer 1"): its history is that path only.
    const q3 = await ask(service, c.id, 'third question', q1.answer.id);
    assert.equal(q3.question.parentId, q1.answer.id);
    assert.deepEqual(engine.requests.at(-1)!.history, [{ question: 'first question', answer: 'answer 1' }]);
    assert.equal(engine.requests.at(-1)!.question, 'third question');

    // And deeper on that branch: still only that path (not "second question" / "answer 2").
    const q4 = await ask(service, c.id, 'fourth question', q3.answer.id);
    assert.deepEqual(engine.requests.at(-1)!.history, [
      { question: 'first question', answer: 'answer 1' },
      { question: 'third question', answer: q3.answer.content },
    ]);

    // Edit-and-resend of the first question: a sibling root, history empty.
    const edited = await service.call('generation.editAndResend', { messageId: q1.question.id, text: 'first question, edited' });
    await done(service, edited.assistantMessage.id);
    assert.equal(edited.userMessage.parentId, null);
    assert.deepEqual(engine.requests.at(-1)!.history, []);

    // conversations.get: every message of every branch, oldest first, with parent links.
    const all = (await service.call('conversations.get', { id: c.id })).messages;
    assert.equal(all.length, 11);
    assert.deepEqual(all.map((m) => Number(m.id)), all.map((m) => Number(m.id)).sort((a, b) => a - b));
    const byId = new Map(all.map((m) => [m.id, m]));
    for (const m of all) if (m.parentId !== null) assert.ok(byId.has(m.parentId), 'every parent is in the list');
    assert.equal(all.filter((m) => m.parentId === q1.question.id).length, 2, 'two versions of the first answer');
    assert.equal(all.filter((m) => m.parentId === null).length, 2, 'two versions of the first question');
    assert.equal(byId.get(q4.answer.id)!.parentId, q4.question.id);
  });
});

test('branches: a parentId that is unknown, malformed or in another conversation is a one-line bad_request', { timeout: 30_000 }, async () => {
  await withService(async (service) => {
    const a = await service.call('conversations.create', { title: 'a' });
    const b = await service.call('conversations.create', { title: 'b' });
    const inA = await ask(service, a.id, 'question in a');
    const refused = async (parentId: unknown, pattern: RegExp): Promise<void> => {
      await assert.rejects(
        service.call('generation.send', { conversationId: b.id, text: 'hi', attachments: [], parentId: parentId as string }),
        (e) => {
          const d = service.describeError(e);
          assert.equal(d.code, 'bad_request');
          assert.match(d.message, pattern);
          assert.doesNotMatch(d.message, /\n/);
          return true;
        },
      );
    };
    await refused(inA.answer.id, /not in conversation/);
    await refused('99999', /not in conversation/);
    await refused('abc', /not a valid id/);
    await refused(42, /parentId must be a message id/);
    assert.equal((await service.call('conversations.get', { id: b.id })).messages.length, 0, 'nothing was stored');
  });
});

test('regenerate samples a new answer with a fresh seed; sends and edits keep the settings\' decoding', { timeout: 30_000 }, async () => {
  await withService(async (service, engine) => {
    const c = await service.call('conversations.create', { title: 'regenerate' });
    const q = await ask(service, c.id, 'a question');
    assert.deepEqual(engine.requests.at(-1)!.generation, { max_new_tokens: 512, do_sample: false, num_beams: 1 }, 'greedy by default');
    const seeds: number[] = [];
    for (let i = 0; i < 2; i++) {
      const regen = await service.call('generation.regenerate', { messageId: q.answer.id });
      await done(service, regen.assistantMessage.id);
      const { seed, ...rest } = engine.requests.at(-1)!.generation as { seed: number };
      assert.deepEqual(rest, { max_new_tokens: 512, do_sample: true, num_beams: 1, temperature: 0.8, top_p: 0.9 });
      assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, `seed ${seed}`);
      seeds.push(seed);
    }
    assert.notEqual(seeds[0], seeds[1], 'each regenerate draws its own seed');
    const edited = await service.call('generation.editAndResend', { messageId: q.question.id, text: 'edited' });
    await done(service, edited.assistantMessage.id);
    assert.deepEqual(engine.requests.at(-1)!.generation, { max_new_tokens: 512, do_sample: false, num_beams: 1 });
  });
});
