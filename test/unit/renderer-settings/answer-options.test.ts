/**
 * renderer/lib/settings/answer-options.ts: the answer fields' form to and from Settings and
 * ConversationOptions (an empty field inherits; "No system prompt" is ''), what a save sends, and
 * the lines the dialogs show ("Model default: …", what a conversation inherits).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnswerSettings } from '../../../main/api/answer-options.js';
import type { ModelDefaults } from '../../../main/api/contract.js';
import {
  changedOptions,
  formFromOptions,
  formFromSettings,
  formIsGreedy,
  inheritedValue,
  modelDefaultLine,
  optionsOfForm,
  settingsOfForm,
  systemPlaceholder,
} from '../../../renderer/lib/settings/answer-options.js';

const OMNIFUSION: ModelDefaults = { systemPrompt: 'This is a dialog with AI assistant.\n', do_sample: false, temperature: 1, top_p: 1, max_new_tokens: 50, num_beams: 3 };
const SAMPLER: ModelDefaults = { systemPrompt: '', do_sample: true, temperature: 0.7, top_p: 0.95, max_new_tokens: 512, num_beams: 1 };
const SETTINGS: AnswerSettings = { systemPrompt: null, greedy: true, temperature: 0.6, top_p: null, maxNewTokens: 512 };

test('the form round-trips Settings and conversation options; blank text and emptied numbers inherit', () => {
  const s: AnswerSettings = { systemPrompt: 'Be brief.', greedy: false, temperature: 0.7, top_p: null, maxNewTokens: null };
  assert.deepEqual(settingsOfForm(formFromSettings(s)), s);
  assert.deepEqual(settingsOfForm(formFromSettings({ ...s, systemPrompt: '' })).systemPrompt, '');
  const o = { systemPrompt: '', temperature: null, top_p: 0.9, max_new_tokens: 64, greedy: null };
  assert.deepEqual(formFromOptions(o), { systemText: '', noSystem: true, greedy: null, temperature: null, top_p: 0.9, maxNewTokens: 64 });
  assert.deepEqual(optionsOfForm(formFromOptions(o)), o);
  const typed = { systemText: '   \n ', noSystem: false, greedy: true, temperature: null, top_p: null, maxNewTokens: null };
  assert.equal(optionsOfForm(typed).systemPrompt, null, 'whitespace only: inherit');
  assert.equal(optionsOfForm({ ...typed, systemText: '  Pirate  ' }).systemPrompt, '  Pirate  ', 'typed text is kept as typed');
  assert.ok(Number.isNaN(optionsOfForm({ ...typed, temperature: Number.NaN }).temperature), 'a half-typed number goes to the server, which says what is wrong');
});

test('changedOptions: only the fields that differ', () => {
  const before = { systemPrompt: null, temperature: 0.5, top_p: null, max_new_tokens: null, greedy: null };
  assert.deepEqual(changedOptions(before, { ...before }), {});
  assert.deepEqual(changedOptions(before, { ...before, temperature: null, systemPrompt: 'x' }), { temperature: null, systemPrompt: 'x' });
});

test("the notes: the model's default, what Settings give a conversation, the system text a blank field stands for", () => {
  assert.equal(modelDefaultLine('temperature', SAMPLER), 'Model default: 0.7');
  assert.equal(modelDefaultLine('top_p', SAMPLER), 'Model default: 0.95');
  assert.equal(modelDefaultLine('greedy', OMNIFUSION), 'Model default: beam search, 3 beams');
  assert.equal(modelDefaultLine('greedy', SAMPLER), 'Model default: sampling');
  assert.equal(modelDefaultLine('max_new_tokens', OMNIFUSION), 'Model default: 50');
  assert.equal(modelDefaultLine('systemPrompt', OMNIFUSION), 'Model default: This is a dialog with AI assistant.');
  assert.equal(modelDefaultLine('systemPrompt', SAMPLER), 'Model default: none');
  assert.equal(modelDefaultLine('temperature', undefined), 'Model default: shown once a model is loaded');

  assert.equal(inheritedValue('temperature', SETTINGS), '0.6');
  assert.equal(inheritedValue('top_p', SETTINGS), "the model's default");
  assert.equal(inheritedValue('greedy', SETTINGS), 'on');
  assert.equal(inheritedValue('systemPrompt', { ...SETTINGS, systemPrompt: '' }), 'none');
  assert.equal(inheritedValue('systemPrompt', { ...SETTINGS, systemPrompt: 'Be brief.\nAlways.' }), 'Be brief.');

  assert.equal(systemPlaceholder('settings', SETTINGS, OMNIFUSION), 'This is a dialog with AI assistant.');
  assert.equal(systemPlaceholder('conversation', { ...SETTINGS, systemPrompt: 'Be brief.' }, OMNIFUSION), 'Be brief.');
  assert.equal(systemPlaceholder('conversation', { ...SETTINGS, systemPrompt: '' }, OMNIFUSION), '(Settings: no system prompt)');
  assert.equal(systemPlaceholder('conversation', SETTINGS, SAMPLER), '(the model has no system text)');
});

test('formIsGreedy: the conversation’s choice, else the Settings’', () => {
  assert.equal(formIsGreedy({ greedy: null }, SETTINGS), true);
  assert.equal(formIsGreedy({ greedy: null }, { ...SETTINGS, greedy: false }), false);
  assert.equal(formIsGreedy({ greedy: false }, SETTINGS), false);
});
