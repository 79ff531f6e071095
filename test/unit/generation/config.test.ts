import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_GENERATION_CONFIG,
  GenerationConfigError,
  eosTokenIds,
  resolveGenerationConfig,
  validateTokenIds,
  type GenerationConfig,
} from '../../../main/engine/generation/config.js';

test('layers merge defaults ← package ← request; undefined does not override', () => {
  const c = resolveGenerationConfig(
    { num_beams: 3, eos_token_id: 2, top_k: 40, max_new_tokens: 100 },
    { max_new_tokens: 7, num_beams: undefined, seed: 42 },
  );
  assert.equal(c.max_new_tokens, 7);
  assert.equal(c.num_beams, 3);
  assert.equal(c.top_k, 40);
  assert.equal(c.eos_token_id, 2);
  assert.equal(c.seed, 42);
  // Untouched fields keep transformers' defaults.
  assert.equal(c.top_p, 1);
  assert.equal(c.repetition_penalty, 1);
  assert.equal(c.do_sample, false);
  assert.deepEqual(c.bad_words_ids, []);
});

test('a resolved config can be the defaults of the next request', () => {
  const base = resolveGenerationConfig({ eos_token_id: [2, 32000], num_beams: 3 });
  const c = resolveGenerationConfig(base, { num_beams: 1, do_sample: true, temperature: 0.7 });
  assert.equal(c.num_beams, 1);
  assert.equal(c.temperature, 0.7);
  assert.deepEqual(c.eos_token_id, [2, 32000]);
});

test('the result shares no arrays with its inputs', () => {
  const bad = [[5, 6]];
  const c = resolveGenerationConfig({ bad_words_ids: bad, stop_strings: ['USER:'] });
  c.bad_words_ids[0]!.push(7);
  c.stop_strings.push('x');
  assert.deepEqual(bad, [[5, 6]]);
  assert.deepEqual(DEFAULT_GENERATION_CONFIG.stop_strings, []);
});

const bad: [Partial<GenerationConfig> | Record<string, unknown>, string][] = [
  [{ top_p: 1.5 }, 'top_p must be in (0, 1], got 1.5'],
  [{ top_p: 0 }, 'top_p must be in (0, 1], got 0'],
  [{ temperature: 0 }, 'temperature must be > 0 (use do_sample: false for greedy), got 0'],
  [{ temperature: Number.NaN }, 'temperature must be a finite number, got NaN'],
  [{ max_new_tokens: 0 }, 'max_new_tokens must be an integer ≥ 1, got 0'],
  [{ max_new_tokens: 2.5 }, 'max_new_tokens must be an integer ≥ 1, got 2.5'],
  [{ top_k: -1 }, 'top_k must be an integer ≥ 0, got -1'],
  [{ num_beams: 0 }, 'num_beams must be an integer ≥ 1, got 0'],
  [{ no_repeat_ngram_size: '3' }, 'no_repeat_ngram_size must be an integer ≥ 0, got "3"'],
  [{ repetition_penalty: -1 }, 'repetition_penalty must be > 0, got -1'],
  [{ length_penalty: Infinity }, 'length_penalty must be a finite number, got Infinity'],
  [{ do_sample: 'yes' }, 'do_sample must be true or false, got "yes"'],
  [{ early_stopping: 1 }, 'early_stopping must be true or false, got 1'],
  [{ bad_words_ids: [[]] }, 'bad_words_ids must be a list of non-empty lists of token ids, got [[]]'],
  [{ bad_words_ids: [3] }, 'bad_words_ids must be a list of non-empty lists of token ids, got [3]'],
  [{ eos_token_id: -2 }, 'eos_token_id must be a token id or a list of them, got -2'],
  [{ stop_strings: [''] }, 'stop_strings must be a list of non-empty strings, got [""]'],
  [{ seed: -1 }, 'seed must be an integer in [0, 4294967295], got -1'],
  [{ do_sample: true, num_beams: 3 }, 'num_beams must be 1 when do_sample is true (beam sampling is not supported), got 3'],
  [{ topp: 0.9 }, 'unknown generation setting "topp"'],
];

for (const [override, message] of bad) {
  test(`rejects ${JSON.stringify(override)}`, () => {
    assert.throws(
      () => resolveGenerationConfig({ eos_token_id: 2 }, override as Partial<GenerationConfig>),
      (e: unknown) => e instanceof GenerationConfigError && e.message === message && !e.message.includes('\n'),
    );
  });
}

test('a bad value in the package defaults is reported too', () => {
  assert.throws(() => resolveGenerationConfig({ top_p: 2 }), /top_p must be in \(0, 1\], got 2/);
});

test('eosTokenIds lists one or several ids', () => {
  assert.deepEqual(eosTokenIds({ eos_token_id: 2 }), [2]);
  assert.deepEqual(eosTokenIds({ eos_token_id: [2, 7] }), [2, 7]);
});

test('validateTokenIds rejects ids outside the vocabulary', () => {
  const c = resolveGenerationConfig({ eos_token_id: [2, 8], bad_words_ids: [[1, 3]] });
  assert.throws(() => validateTokenIds(c, 8), /^GenerationConfigError: eos_token_id 8 is outside the vocabulary \(size 8\)$/);
  validateTokenIds(c, 9);
  const d = resolveGenerationConfig({ eos_token_id: 2, bad_words_ids: [[1, 9]] });
  assert.throws(() => validateTokenIds(d, 9), /bad_words_ids holds 9, outside the vocabulary \(size 9\)/);
});
