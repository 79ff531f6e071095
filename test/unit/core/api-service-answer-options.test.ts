/**
 * Answer options in the API service, with a fake engine that records the requests it gets:
 * conversations.setOptions stores a conversation's own options (a bad value refused in one line
 * naming the field and its range, changing nothing), the settings hold the defaults, and every
 * answer's request carries what is in effect (the conversation's, else the settings', else the
 * model's); a second conversation keeps the settings'; regenerate samples at the temperature in
 * effect; models.status shows the model's defaults; the options survive a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ConversationSummary, Message } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import type { ModelDefaultsInfo } from '../../../main/engine/protocol.js';
import { fakeEngine, type FakeEngine } from '../../helpers/fake-engine.js';

const DEFAULTS: ModelDefaultsInfo = { system: 'This is a dialog with AI assistant.\n', do_sample: false, temperature: 1, top_p: 1, max_new_tokens: 50, num_beams: 3 };

async function withService(run: (service: ApiService, engine: FakeEngine, reopen: () => Promise<ApiService>) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-answer-options-'));
  const engine = fakeEngine({ name: 'fake', defaults: DEFAULTS });
  const open = () =>
    createApiService({
      dataDir: path.join(root, 'data'),
      modelsDir: path.join(root, 'models'),
      modelDir: path.join(root, 'fake-model'),
      launcher: engine.launcher,
      readImageText: false,
      platform: 'linux',
    });
  const services = [await open()];
  try {
    await run(services[0]!, engine, async () => {
      await services.at(-1)!.close();
      services.push(await open());
      return services.at(-1)!;
    });
  } finally {
    await services.at(-1)!.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Ask in `conversationId` and wait for the answer; the request the engine got. */
async function ask(service: ApiService, engine: FakeEngine, conversationId: string, text = 'a question'): Promise<{ answer: Message; request: FakeEngine['requests'][number] }> {
  const sent = await service.call('generation.send', { conversationId, text, attachments: [] });
  const answer = await done(service, sent.assistantMessage.id);
  return { answer, request: engine.requests.at(-1)! };
}

function done(service: ApiService, messageId: string): Promise<Message> {
  return new Promise((resolve) => {
    const off = service.on('generation.done', ({ message }) => {
      if (message.id !== messageId) return;
      off();
      resolve(message);
    });
  });
}

async function refused(service: ApiService, request: unknown, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(service.call('conversations.setOptions', request as never), (e) => {
    const d = service.describeError(e);
    assert.equal(d.code, code);
    if (typeof message === 'string') assert.equal(d.message, message);
    else assert.match(d.message, message);
    assert.ok(!d.message.includes('\n'));
    return true;
  });
}

test("models.status shows the loaded model's defaults", { timeout: 30_000 }, async () => {
  await withService(async (service) => {
    await service.call('conversations.list', {});
    for (let i = 0; i < 100 && (await service.call('models.status', {})).state !== 'ready'; i++) await new Promise((r) => setTimeout(r, 10));
    const status = await service.call('models.status', {});
    assert.deepEqual(status.defaults, { systemPrompt: DEFAULTS.system, do_sample: false, temperature: 1, top_p: 1, max_new_tokens: 50, num_beams: 3 });
  });
});

test('conversations.setOptions: a partial patch is stored and told to every window; bad values are refused in one line and change nothing', { timeout: 30_000 }, async () => {
  await withService(async (service) => {
    const c = await service.call('conversations.create', { title: 'options' });
    assert.deepEqual(c.options, { systemPrompt: null, temperature: null, top_p: null, max_new_tokens: null, greedy: null }, 'a new conversation inherits everything');
    const told: (ConversationSummary | null)[] = [];
    service.on('conversations.changed', ({ summary }) => told.push(summary));
    const first = await service.call('conversations.setOptions', { id: c.id, options: { systemPrompt: 'Speak like a pirate.', temperature: 1.2 } });
    assert.deepEqual(first.options, { systemPrompt: 'Speak like a pirate.', temperature: 1.2, top_p: null, max_new_tokens: null, greedy: null });
    const second = await service.call('conversations.setOptions', { id: c.id, options: { greedy: false, max_new_tokens: 64 } });
    assert.deepEqual(second.options, { systemPrompt: 'Speak like a pirate.', temperature: 1.2, top_p: null, max_new_tokens: 64, greedy: false }, 'fields not in the patch are kept');
    assert.deepEqual(told.map((s) => s?.options.max_new_tokens), [null, 64]);
    assert.deepEqual((await service.call('conversations.get', { id: c.id })).options, second.options);
    assert.deepEqual((await service.call('conversations.list', {})).find((s) => s.id === c.id)!.options, second.options);

    await refused(service, { id: c.id, options: { top_p: 0.5, temperature: 3 } }, 'bad_request', 'temperature must be a number above 0 and at most 2 (greedy for the same answer every time), or null to inherit from Settings');
    await refused(service, { id: c.id, options: { top_p: 1.5 } }, 'bad_request', 'top_p must be a number above 0 and at most 1, or null to inherit from Settings');
    await refused(service, { id: c.id, options: { max_new_tokens: 0 } }, 'bad_request', 'max_new_tokens must be a whole number from 1 to 32768, or null to inherit from Settings');
    await refused(service, { id: c.id, options: { greedy: 'yes' } }, 'bad_request', 'greedy must be true or false, or null to inherit from Settings');
    await refused(service, { id: c.id, options: { systemPrompt: 'x'.repeat(20_001) } }, 'bad_request', 'systemPrompt is 20,001 characters; at most 20,000 are accepted');
    await refused(service, { id: c.id, options: { seed: 1 } }, 'bad_request', 'unknown conversation option "seed" (one of systemPrompt, greedy, temperature, top_p, max_new_tokens)');
    // As JSON.parse reads it off the wire: an own "__proto__" key.
    await refused(service, { id: c.id, options: JSON.parse('{"__proto__": {"temperature": 1}}') }, 'bad_request', /^unknown conversation option "__proto__"/);
    await refused(service, { id: c.id, options: 'hot' }, 'bad_request', 'options must be an object of conversation options');
    await refused(service, { id: c.id }, 'bad_request', 'options must be an object of conversation options');
    await refused(service, { id: '99999', options: { temperature: 1 } }, 'not_found', 'conversation 99999 does not exist');
    await refused(service, { id: 'x', options: { temperature: 1 } }, 'bad_request', 'conversation "x" is not a valid id');
    assert.deepEqual((await service.call('conversations.get', { id: c.id })).options, second.options, 'nothing changed, not even top_p of the refused patch');

    // null inherits again.
    const back = await service.call('conversations.setOptions', { id: c.id, options: { temperature: null, greedy: null, systemPrompt: '' } });
    assert.deepEqual(back.options, { systemPrompt: '', temperature: null, top_p: null, max_new_tokens: 64, greedy: null });
  });
});

test("each answer's request carries the conversation's options, else the settings', else the model's; another conversation keeps the settings'", { timeout: 30_000 }, async () => {
  await withService(async (service, engine) => {
    const a = await service.call('conversations.create', { title: 'pirate' });
    const b = await service.call('conversations.create', { title: 'plain' });

    // New-user settings: the model's system text, greedy, 512 tokens.
    let { request } = await ask(service, engine, a.id);
    assert.equal('system' in request, false, "the model's own system text");
    assert.deepEqual(request.generation, { max_new_tokens: 512, do_sample: false, num_beams: 1 });

    const settings = await service.call('settings.set', { systemPrompt: 'Answer briefly.', greedy: false, temperature: 0.6 });
    assert.deepEqual([settings.systemPrompt, settings.greedy, settings.temperature, settings.top_p, settings.maxNewTokens], ['Answer briefly.', false, 0.6, null, 512]);
    await service.call('conversations.setOptions', { id: a.id, options: { systemPrompt: 'Speak like a pirate.', temperature: 1.2, max_new_tokens: 64 } });

    ({ request } = await ask(service, engine, a.id));
    assert.equal(request.system, 'Speak like a pirate.');
    assert.deepEqual(request.generation, { max_new_tokens: 64, do_sample: true, num_beams: 1, temperature: 1.2 });
    assert.deepEqual(request.history?.map((t) => t.question), ['a question'], 'the rest of the request is as before');

    ({ request } = await ask(service, engine, b.id));
    assert.equal(request.system, 'Answer briefly.', 'the second conversation uses the settings');
    assert.deepEqual(request.generation, { max_new_tokens: 512, do_sample: true, num_beams: 1, temperature: 0.6 });

    // The conversation turns greedy: its temperature is unused. No system text at all: ''.
    await service.call('conversations.setOptions', { id: a.id, options: { greedy: true, systemPrompt: '' } });
    const { answer } = await ask(service, engine, a.id);
    request = engine.requests.at(-1)!;
    assert.equal(request.system, '');
    assert.deepEqual(request.generation, { max_new_tokens: 64, do_sample: false, num_beams: 1 });

    // Regenerate samples (it must differ) at the conversation's temperature, the default top_p.
    const regen = await service.call('generation.regenerate', { messageId: answer.id });
    await done(service, regen.assistantMessage.id);
    const { seed, ...rest } = engine.requests.at(-1)!.generation as { seed: number };
    assert.deepEqual(rest, { max_new_tokens: 64, do_sample: true, num_beams: 1, temperature: 1.2, top_p: 0.9 });
    assert.ok(Number.isInteger(seed));
    assert.equal(engine.requests.at(-1)!.system, '');

    // Settings back to the model's: nothing set anywhere samples at the model's temperature and top_p, over chat defaults and length.
    await service.call('settings.set', { systemPrompt: null, temperature: null, maxNewTokens: null });
    ({ request } = await ask(service, engine, b.id));
    assert.equal('system' in request, false);
    assert.deepEqual(request.generation, { do_sample: true, num_beams: 1 }, "greedy off, nothing set: sampling at the model's temperature and top_p, the chat default length");
    assert.equal(request.defaults, 'chat', "never the package's reference settings (OmniFusion: 3 beams, bans)");
  });
});

test('settings.set checks the answer options; the options and settings survive a restart', { timeout: 30_000 }, async () => {
  await withService(async (service, _engine, reopen) => {
    for (const [patch, message] of [
      [{ temperature: 0 }, "temperature must be a number above 0 and at most 2 (greedy for the same answer every time), or null for the model's default"],
      [{ top_p: -0.1 }, "top_p must be a number above 0 and at most 1, or null for the model's default"],
      [{ greedy: null }, 'greedy must be true or false'],
      [{ maxNewTokens: 40000 }, "maxNewTokens must be a whole number from 1 to 32768, or null for the model's default"],
      [{ systemPrompt: 7 }, "systemPrompt must be text (empty for no system prompt), or null for the model's default"],
      [{ decoding: 'model' }, 'unknown setting "decoding"'],
    ] as const) {
      await assert.rejects(service.call('settings.set', patch as never), (e) => service.describeError(e).code === 'bad_request' && service.describeError(e).message === message, JSON.stringify(patch));
    }
    const c = await service.call('conversations.create', { title: 'kept' });
    await service.call('conversations.setOptions', { id: c.id, options: { systemPrompt: 'Line one\nline two', top_p: 0.85, greedy: false } });
    await service.call('settings.set', { temperature: 0.9, maxNewTokens: null, systemPrompt: '' });
    const again = await reopen();
    assert.deepEqual((await again.call('conversations.get', { id: c.id })).options, { systemPrompt: 'Line one\nline two', temperature: null, top_p: 0.85, max_new_tokens: null, greedy: false });
    const s = await again.call('settings.get', {});
    assert.deepEqual([s.temperature, s.maxNewTokens, s.systemPrompt, s.greedy, s.top_p], [0.9, null, '', true, null]);
  });
});
