/**
 * main/api/answer-options.ts and main/core/service/decoding.ts: the ranges of the answer options
 * with their one-line refusals, the order an answer takes each option in (conversation, then
 * Settings, then the model), and the engine request's system and generation fields for a send,
 * an edit and a regenerate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerOptionProblem, effectiveAnswerOptions, INHERIT_ALL, type AnswerSettings } from '../../../main/api/answer-options.js';
import { decodingRequest } from '../../../main/core/service/decoding.js';

test('answerOptionProblem: each range in one line naming the field; null as the place allows', () => {
  const ok = (kind: Parameters<typeof answerOptionProblem>[0], value: unknown) => assert.equal(answerOptionProblem(kind, kind, value, 'inherit'), undefined, `${kind} ${JSON.stringify(value)}`);
  ok('temperature', 0.01);
  ok('temperature', 2);
  ok('top_p', 1);
  ok('top_p', 0.05);
  ok('max_new_tokens', 1);
  ok('max_new_tokens', 32768);
  ok('greedy', false);
  ok('systemPrompt', '');
  ok('systemPrompt', 'Line one\n\tline two');
  for (const kind of ['temperature', 'top_p', 'max_new_tokens', 'greedy', 'systemPrompt'] as const) ok(kind, null);

  const temperature = 'temperature must be a number above 0 and at most 2 (greedy for the same answer every time), or null to inherit from Settings';
  for (const bad of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY, '0.7', true]) assert.equal(answerOptionProblem('temperature', 'temperature', bad, 'inherit'), temperature, String(bad));
  assert.equal(answerOptionProblem('top_p', 'top_p', 0, 'model'), "top_p must be a number above 0 and at most 1, or null for the model's default");
  assert.equal(answerOptionProblem('top_p', 'top_p', 1.01, 'model'), "top_p must be a number above 0 and at most 1, or null for the model's default");
  assert.equal(answerOptionProblem('max_new_tokens', 'maxNewTokens', 1.5, 'model'), "maxNewTokens must be a whole number from 1 to 32768, or null for the model's default");
  assert.equal(answerOptionProblem('max_new_tokens', 'max_new_tokens', 32769, 'inherit'), 'max_new_tokens must be a whole number from 1 to 32768, or null to inherit from Settings');
  assert.equal(answerOptionProblem('greedy', 'greedy', null, 'not-allowed'), 'greedy must be true or false');
  assert.equal(answerOptionProblem('greedy', 'greedy', 'yes', 'inherit'), 'greedy must be true or false, or null to inherit from Settings');
  assert.equal(answerOptionProblem('systemPrompt', 'systemPrompt', 5, 'model'), "systemPrompt must be text (empty for no system prompt), or null for the model's default");
  assert.equal(answerOptionProblem('systemPrompt', 'systemPrompt', 'x'.repeat(20_001), 'model'), 'systemPrompt is 20,001 characters; at most 20,000 are accepted');
  assert.equal(answerOptionProblem('systemPrompt', 'systemPrompt', 'a\u0000b', 'inherit'), 'systemPrompt has control characters (only line breaks and tabs are allowed)');
  for (const kind of ['temperature', 'top_p', 'max_new_tokens', 'greedy', 'systemPrompt'] as const) {
    const message = answerOptionProblem(kind, kind, { x: 1 }, 'inherit')!;
    assert.ok(message.startsWith(`${kind} `) && !message.includes('\n'), message);
  }
});

const SETTINGS: AnswerSettings = { systemPrompt: null, greedy: true, temperature: null, top_p: null, maxNewTokens: 512 };

test('effectiveAnswerOptions: the conversation’s value, else the Settings’, else null (the model’s)', () => {
  assert.deepEqual(effectiveAnswerOptions(INHERIT_ALL, SETTINGS), { systemPrompt: null, greedy: true, temperature: null, top_p: null, max_new_tokens: 512 });
  const settings: AnswerSettings = { systemPrompt: 'From settings', greedy: false, temperature: 0.6, top_p: null, maxNewTokens: null };
  assert.deepEqual(effectiveAnswerOptions(INHERIT_ALL, settings), { systemPrompt: 'From settings', greedy: false, temperature: 0.6, top_p: null, max_new_tokens: null });
  assert.deepEqual(
    effectiveAnswerOptions({ systemPrompt: '', greedy: true, temperature: 1.3, top_p: 0.5, max_new_tokens: 64 }, settings),
    { systemPrompt: '', greedy: true, temperature: 1.3, top_p: 0.5, max_new_tokens: 64 },
    "'' (no system prompt) and false are the conversation's own values, not 'unset'",
  );
  assert.deepEqual(effectiveAnswerOptions({ ...INHERIT_ALL, greedy: false }, SETTINGS).greedy, false);
  assert.deepEqual(effectiveAnswerOptions({ ...INHERIT_ALL, top_p: 0.8 }, settings), { systemPrompt: 'From settings', greedy: false, temperature: 0.6, top_p: 0.8, max_new_tokens: null });
});

test('decodingRequest: chat defaults; greedy, else sampling at the temperature / top_p in effect or the model’s', () => {
  const send = { resample: false } as const;
  const base = effectiveAnswerOptions(INHERIT_ALL, SETTINGS);
  assert.deepEqual(decodingRequest(base, send), { defaults: 'chat', generation: { max_new_tokens: 512, do_sample: false, num_beams: 1 } });
  assert.deepEqual(decodingRequest({ ...base, temperature: 0.7 }, send), { defaults: 'chat', generation: { max_new_tokens: 512, do_sample: false, num_beams: 1 } }, 'greedy leaves temperature unused');
  assert.deepEqual(decodingRequest({ ...base, greedy: false }, send), { defaults: 'chat', generation: { max_new_tokens: 512, do_sample: true, num_beams: 1 } }, "sampling at the model's temperature and top_p");
  assert.deepEqual(decodingRequest({ ...base, greedy: false, temperature: 0.7 }, send), { defaults: 'chat', generation: { max_new_tokens: 512, do_sample: true, num_beams: 1, temperature: 0.7 } });
  assert.deepEqual(decodingRequest({ ...base, greedy: false, top_p: 0.5, max_new_tokens: null }, send), { defaults: 'chat', generation: { do_sample: true, num_beams: 1, top_p: 0.5 } }, "no max_new_tokens: the model's");
  assert.deepEqual(decodingRequest({ ...base, systemPrompt: 'Be brief.' }, send), { system: 'Be brief.', defaults: 'chat', generation: { max_new_tokens: 512, do_sample: false, num_beams: 1 } });
  assert.deepEqual(decodingRequest({ ...base, systemPrompt: '' }, send).system, '', "'' is sent: no system text");
  assert.equal('system' in decodingRequest(base, send), false, "null: the model's own system text");
});

test('decodingRequest: regenerate always samples with its seed, at the temperature / top_p in effect, else 0.8 / 0.9', () => {
  const base = effectiveAnswerOptions(INHERIT_ALL, SETTINGS);
  const regen = { resample: true, seed: 1234 } as const;
  assert.deepEqual(decodingRequest(base, regen), { defaults: 'chat', generation: { max_new_tokens: 512, do_sample: true, num_beams: 1, temperature: 0.8, top_p: 0.9, seed: 1234 } });
  assert.deepEqual(decodingRequest({ ...base, temperature: 1.4 }, regen).generation, { max_new_tokens: 512, do_sample: true, num_beams: 1, temperature: 1.4, top_p: 0.9, seed: 1234 }, 'even while greedy');
  assert.deepEqual(decodingRequest({ ...base, greedy: false, top_p: 0.3, systemPrompt: 'S' }, regen), { system: 'S', defaults: 'chat', generation: { max_new_tokens: 512, do_sample: true, num_beams: 1, temperature: 0.8, top_p: 0.3, seed: 1234 } });
});
