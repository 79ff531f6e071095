import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveGenerationConfig, type GenerationConfig } from '../../../main/engine/generation/config.js';
import {
  beamSearch,
  generate,
  greedyOrSample,
  type DecoderStep,
  type SearchOptions,
} from '../../../main/engine/generation/search.js';

/**
 * A fake decoder over the vocabulary A..G, EOS: the next-token distribution is a fixed table
 * of the row's history. Like a real decoder with a KV cache, it keeps one history per row and
 * rebuilds them each step by the `parentRows` gather, so a wrong gather gives wrong logits.
 */
const [A, B, C, F, G, EOS] = [0, 1, 2, 5, 6, 7]; // D = 3 and E = 4 appear only by name in tables
const V = 8;
const NAMES = 'ABCDEFG$';
const show = (ids: readonly number[]): string => ids.map((i) => NAMES[i]).join('');

type Table = (history: string) => Partial<Record<string, number>>;

/** The listed probabilities, with the rest of the mass spread evenly over the unlisted tokens. */
function distribution(spec: Partial<Record<string, number>>): number[] {
  const listed = Object.values(spec).reduce((a, b) => a! + b!, 0)!;
  const others = V - Object.keys(spec).length;
  return [...NAMES].map((name) => spec[name] ?? (1 - listed) / others);
}

interface StepCall {
  tokens: string;
  parentRows: number[];
}

function fakeModel(table: Table) {
  const logitsOf = (history: number[]) => distribution(table(show(history))).map(Math.log);
  const calls: StepCall[] = [];
  let rows: number[][] = [[]];
  const step: DecoderStep = async (tokens, parentRows) => {
    assert.equal(tokens.length, parentRows.length);
    calls.push({ tokens: show(tokens), parentRows: [...parentRows] });
    rows = tokens.map((t, r) => {
      assert.ok(parentRows[r]! < rows.length, `parent row ${parentRows[r]} of ${rows.length}`);
      return [...rows[parentRows[r]!]!, t];
    });
    const out = new Float32Array(rows.length * V);
    rows.forEach((h, r) => out.set(logitsOf(h), r * V));
    return out;
  };
  return { prefillLogits: Float32Array.from(logitsOf([])), step, calls, rows: () => rows.map(show) };
}

type FakeModel = ReturnType<typeof fakeModel>;

/**
 * Greedy takes A (0.5) then C (0.32): A C $ has probability 0.144. B F $ has 0.324, found by
 * beam search because B F (0.36) beats A C (0.16) at the second step.
 */
const markov: Table = (h) => {
  if (h === '') return { A: 0.5, B: 0.4 };
  if (h === 'A') return { C: 0.32, D: 0.29, E: 0.29 };
  if (h === 'B') return { F: 0.9 };
  if (h.endsWith('C') || h.endsWith('F')) return { $: 0.9 };
  return { $: 0.5 };
};

function run(
  table: Table,
  settings: Partial<GenerationConfig>,
  extra: Partial<SearchOptions> | ((model: FakeModel) => Partial<SearchOptions>) = {},
  search = generate,
) {
  const model = fakeModel(table);
  const streamed: { id: string; callsSoFar: number }[] = [];
  const config = resolveGenerationConfig({ eos_token_id: EOS, max_new_tokens: 20 }, settings);
  const result = search({
    prefillLogits: model.prefillLogits,
    step: model.step,
    config,
    vocabSize: V,
    onToken: (id) => streamed.push({ id: NAMES[id]!, callsSoFar: model.calls.length }),
    shouldStop: () => false,
    ...(typeof extra === 'function' ? extra(model) : extra),
  });
  return { model, streamed, result };
}

test('greedy: argmax each step, EOS included, tokens streamed before the next step', async () => {
  const { model, streamed, result } = run(markov, {});
  const r = await result;
  assert.equal(show(r.tokenIds), 'AC$');
  assert.equal(r.finishReason, 'eos');
  assert.deepEqual(model.calls, [
    { tokens: 'A', parentRows: [0] },
    { tokens: 'C', parentRows: [0] },
  ]);
  // Token k is seen by onToken after k decoder steps, i.e. before step k+1 runs.
  assert.deepEqual(streamed, [
    { id: 'A', callsSoFar: 0 },
    { id: 'C', callsSoFar: 1 },
    { id: '$', callsSoFar: 2 },
  ]);
});

test('greedy: max_new_tokens ends with "length" and no decoder run after the last token', async () => {
  const { model, result } = run(markov, { max_new_tokens: 2 });
  const r = await result;
  assert.equal(show(r.tokenIds), 'AC');
  assert.equal(r.finishReason, 'length');
  assert.equal(model.calls.length, 1);
});

test('greedy: any of several EOS ids ends generation', async () => {
  const { result } = run((h) => (h === '' ? { B: 0.6 } : { G: 0.7 }), { eos_token_id: [G, EOS] });
  const r = await result;
  assert.equal(show(r.tokenIds), 'BG');
  assert.equal(r.finishReason, 'eos');
});

test('greedy: a stop-string hit ends with "stop_string"', async () => {
  const { model, result } = run(markov, {}, { stopStringHit: (ids) => ids.includes(C) });
  const r = await result;
  assert.equal(show(r.tokenIds), 'AC');
  assert.equal(r.finishReason, 'stop_string');
  assert.equal(model.calls.length, 1);
});

test('greedy: cancellation is polled between steps', async () => {
  let tokens = 0;
  const { model, result } = run(markov, {}, { onToken: () => tokens++, shouldStop: () => tokens >= 1 });
  const r = await result;
  assert.deepEqual(r, { tokenIds: [A], finishReason: 'cancelled' });
  assert.equal(model.calls.length, 0, 'a cancel raised in onToken spares the next decoder run');

  const early = run(markov, {}, { shouldStop: () => true });
  assert.deepEqual(await early.result, { tokenIds: [], finishReason: 'cancelled' });
  assert.equal(early.model.calls.length, 0);
});

test('greedy: processors see the prompt ids and the generated ids', async () => {
  // The table always prefers A, then B, then C.
  const prefers: Table = () => ({ A: 0.4, B: 0.3, C: 0.2 });
  assert.equal(show((await run(prefers, { max_new_tokens: 3 }).result).tokenIds), 'AAA');
  assert.equal(show((await run(prefers, { max_new_tokens: 3, no_repeat_ngram_size: 1 }).result).tokenIds), 'ABC');
  const withPrompt = run(prefers, { max_new_tokens: 2, no_repeat_ngram_size: 1 }, { promptIds: [A] });
  assert.equal(show((await withPrompt.result).tokenIds), 'BC');
  assert.equal(show((await run(prefers, { max_new_tokens: 2, bad_words_ids: [[A]] }).result).tokenIds), 'BB');
});

test('sampling: a seed repeats the sequence; top_k 1 is greedy', async () => {
  const noisy: Table = () => ({ A: 0.2, B: 0.2, C: 0.2, D: 0.2, $: 0.02 });
  const settings = { do_sample: true, max_new_tokens: 12, seed: 5 };
  const first = await run(noisy, settings).result;
  const second = await run(noisy, settings).result;
  assert.deepEqual(second, first);
  const other = await run(noisy, { ...settings, seed: 6 }).result;
  assert.notDeepEqual(other.tokenIds, first.tokenIds);
  assert.ok(first.tokenIds.some((id) => id !== first.tokenIds[0]), 'the draws vary');

  const topK1 = await run(markov, { do_sample: true, top_k: 1, seed: 1 }).result;
  assert.equal(show(topK1.tokenIds), 'AC$');
});

test('sampling: an injected rng is used', async () => {
  // From the empty history the cumulative mass is A [0, 0.5), B [0.5, 0.9), then 1/60 each
  // for C..G and $: u = 0.99 draws $.
  const last = await run(markov, { do_sample: true }, { rng: () => 0.99 }).result;
  assert.equal(show(last.tokenIds), '$');
  // u = 0.45: A; after A, C [0, 0.32) D [0.32, 0.61): D; after A D, 1/14 each for A..G: G.
  const mid = await run(markov, { do_sample: true, max_new_tokens: 3 }, { rng: () => 0.45 }).result;
  assert.equal(show(mid.tokenIds), 'ADG');
});

test('beam search (2 beams) finds B F $ (0.324), which greedy misses (A C $, 0.144)', async () => {
  const { model, streamed, result } = run(markov, { num_beams: 2 });
  const r = await result;
  assert.equal(show(r.tokenIds), 'BF$');
  assert.equal(r.finishReason, 'eos');
  assert.deepEqual(model.calls, [
    // Both beams extend the single prefill row.
    { tokens: 'AB', parentRows: [0, 0] },
    // B F (row 1 + F) now leads A C (row 0 + C): the cache is reordered.
    { tokens: 'FC', parentRows: [1, 0] },
    // Both EOS candidates became hypotheses; the open beams B F A, B F B continue one step,
    // after which no candidate (best -5.96 / 4) can beat the worst hypothesis (-1.94 / 3).
    { tokens: 'AB', parentRows: [0, 0] },
  ]);
  // The answer is streamed at the end, not while beams can still change.
  assert.deepEqual(
    streamed.map((s) => s.id).join(''),
    'BF$',
  );
  assert.ok(streamed.every((s) => s.callsSoFar === 3));
});

test('beam search: early_stopping stops once num_beams hypotheses are finished', async () => {
  const { model, result } = run(markov, { num_beams: 2, early_stopping: true });
  const r = await result;
  assert.equal(show(r.tokenIds), 'BF$');
  assert.equal(model.calls.length, 2);
});

test('beam search (3 beams): reordering with several beams from one parent', async () => {
  const { model, result } = run(markov, { num_beams: 3 });
  const r = await result;
  assert.equal(show(r.tokenIds), 'BF$');
  assert.deepEqual(model.calls, [
    // Step 1: A, B and C (first of the tied 1/60 tokens).
    { tokens: 'ABC', parentRows: [0, 0, 0] },
    // Step 2: B F (0.36), A C (0.16), A D (0.145).
    { tokens: 'FCD', parentRows: [1, 0, 0] },
    // Step 3: the three EOS candidates rank first and finish B F, A C, A D; the open beams
    // all continue A D (row 2) with A, B, C.
    { tokens: 'ABC', parentRows: [2, 2, 2] },
  ]);
  assert.deepEqual(model.rows(), ['ADA', 'ADB', 'ADC']);
});

/**
 * A $ is short and likely (0.33); B D E $ is longer and less likely (0.1426) but better per
 * token: length_penalty decides. A C $ (0.2124) sits between them.
 */
const lengths: Table = (h) => {
  if (h === '') return { A: 0.55, B: 0.44 };
  if (h === 'A') return { $: 0.6, C: 0.39 };
  if (h === 'B') return { D: 0.6 };
  if (h === 'BD') return { E: 0.6 };
  if (h === 'BDE') return { $: 0.9 };
  if (h === 'AC') return { $: 0.99 };
  return { $: 0.5 };
};

test('beam search: length_penalty 1 prefers the longer sequence with the better mean log-probability', async () => {
  // Scores: A $ ln(0.33)/2 = -0.554, A C $ ln(0.2124)/3 = -0.516, B D E $ ln(0.1426)/4 = -0.487.
  const { model, result } = run(lengths, { num_beams: 2, length_penalty: 1 });
  const r = await result;
  assert.equal(show(r.tokenIds), 'BDE$');
  assert.equal(r.finishReason, 'eos');
  assert.equal(model.calls.length, 4);
});

test('beam search: length_penalty 0 ranks by summed log-probability', async () => {
  // After step 3: hypotheses A $ (-1.109) and A C $ (-1.549); the best candidate (-1.549) cannot
  // beat the worst hypothesis, so the search stops and returns A $.
  const { model, result } = run(lengths, { num_beams: 2, length_penalty: 0 });
  const r = await result;
  assert.equal(show(r.tokenIds), 'A$');
  assert.equal(model.calls.length, 2);
});

test('beam search: max_new_tokens adds the open beams to the pool', async () => {
  const two = run(markov, { num_beams: 2, max_new_tokens: 2 });
  const r2 = await two.result;
  assert.deepEqual({ ids: show(r2.tokenIds), reason: r2.finishReason }, { ids: 'BF', reason: 'length' });
  assert.equal(two.model.calls.length, 1);

  // At 3 tokens the finished B F $ beats the open B F A.
  const three = run(markov, { num_beams: 2, max_new_tokens: 3 });
  const r3 = await three.result;
  assert.deepEqual({ ids: show(r3.tokenIds), reason: r3.finishReason }, { ids: 'BF$', reason: 'eos' });
  assert.equal(three.model.calls.length, 2);
});

test('beam search: an EOS candidate ranked below num_beams does not become a hypothesis', async () => {
  // Step 1 ranks $ (0.4), A (0.3), G (0.2, a second EOS id), B. $ finishes; G at rank 2 is
  // dropped. Had it been kept, early_stopping would end here with 2 hypotheses and return $.
  const table: Table = (h) => (h === '' ? { $: 0.4, A: 0.3, G: 0.2, B: 0.08 } : { $: 0.9 });
  const { model, result } = run(table, { num_beams: 2, early_stopping: true, eos_token_id: [G, EOS] });
  const r = await result;
  // Step 2: A $ ln(0.27)/2 = -0.655 beats $ ln(0.4)/1 = -0.916.
  assert.equal(show(r.tokenIds), 'A$');
  assert.equal(model.calls.length, 1);
});

test('beam search: processors apply per beam', async () => {
  const { result } = run(markov, { num_beams: 2, bad_words_ids: [[B]] });
  const r = await result;
  assert.ok(!r.tokenIds.includes(B));
  assert.equal(show(r.tokenIds), 'AC$');
});

test('beam search: stop strings end the search only when every beam has hit one', async () => {
  const both = run(markov, { num_beams: 2 }, { stopStringHit: (ids) => ids.includes(F) || ids.includes(C) });
  const r = await both.result;
  assert.deepEqual({ ids: show(r.tokenIds), reason: r.finishReason }, { ids: 'BF', reason: 'stop_string' });
  assert.equal(both.model.calls.length, 1);

  // Only B F hits at step 2; at step 3 both open beams (B F A, B F B) do, and B F $ is finished.
  const one = run(markov, { num_beams: 2 }, { stopStringHit: (ids) => ids.includes(F) });
  const r1 = await one.result;
  assert.deepEqual({ ids: show(r1.tokenIds), reason: r1.finishReason }, { ids: 'BF$', reason: 'eos' });
  assert.equal(one.model.calls.length, 2);
});

test('beam search: cancellation returns the best beam so far', async () => {
  // Cancelled while the first decoder step runs: the beams are then B F and A C.
  const { result, model } = run(markov, { num_beams: 2 }, (m) => ({ shouldStop: () => m.calls.length >= 1 }));
  const r = await result;
  assert.deepEqual({ ids: show(r.tokenIds), reason: r.finishReason }, { ids: 'BF', reason: 'cancelled' });
  assert.equal(model.calls.length, 1);

  const early = run(markov, { num_beams: 2 }, { shouldStop: () => true }, beamSearch);
  assert.deepEqual(await early.result, { tokenIds: [], finishReason: 'cancelled' });
  assert.equal(early.model.calls.length, 0);
});

test('generate dispatches on num_beams', async () => {
  assert.equal(show((await run(markov, { num_beams: 1 }, {}, generate).result).tokenIds), 'AC$');
  assert.equal(show((await run(markov, { num_beams: 2 }, {}, generate).result).tokenIds), 'BF$');
  assert.equal(show((await run(markov, { num_beams: 2 }, {}, greedyOrSample).result).tokenIds), 'AC$');
});

test('wrong logits sizes and out-of-vocabulary ids are errors', async () => {
  const model = fakeModel(markov);
  const config = resolveGenerationConfig({ eos_token_id: EOS });
  const base = { step: model.step, config, vocabSize: V, onToken: () => {}, shouldStop: () => false };
  await assert.rejects(greedyOrSample({ ...base, prefillLogits: new Float32Array(V + 1) }), /9 logits, expected 1 row\(s\) × 8/);
  const badStep: DecoderStep = async (tokens) => new Float32Array(tokens.length * V - 1);
  await assert.rejects(
    beamSearch({ ...base, config: resolveGenerationConfig(config, { num_beams: 2 }), step: badStep, prefillLogits: model.prefillLogits }),
    /15 logits, expected 2 row\(s\) × 8/,
  );
  await assert.rejects(
    greedyOrSample({ ...base, config: resolveGenerationConfig({ eos_token_id: 8 }), prefillLogits: model.prefillLogits }),
    /eos_token_id 8 is outside the vocabulary/,
  );
});
