import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildLogitsProcessor,
  buildLogitsWarper,
  noBadWords,
  noRepeatNGram,
  repetitionPenalty,
  temperatureWarper,
  topKWarper,
  topPWarper,
} from '../../../main/engine/generation/logits-processors.js';
import { mulberry32 } from '../../../main/engine/generation/sampling.js';

const row = (...xs: number[]): Float32Array => Float32Array.from(xs);
const zeros = (n: number): Float32Array => new Float32Array(n);
const banned = (logits: Float32Array): number[] =>
  [...logits].flatMap((x, i) => (x === -Infinity ? [i] : []));
const kept = (logits: Float32Array): number[] => [...logits].flatMap((x, i) => (x === -Infinity ? [] : [i]));

test('repetition_penalty divides positive and multiplies negative logits of seen ids, once each', () => {
  const logits = row(1, -1, 2, -2, 0.5);
  repetitionPenalty(2)([0, 1, 1, 1, 4], logits);
  assert.deepEqual([...logits], [0.5, -2, 2, -2, 0.25]);
  // A processor reused for the next token penalizes only that call's ids.
  const p = repetitionPenalty(2);
  p([0], row(1, 1, 1, 1, 1));
  const next = row(4, 4, 4, 4, 4);
  p([2, 2], next);
  assert.deepEqual([...next], [4, 4, 2, 4, 4]);
});

test('no_repeat_ngram_size bans tokens completing an n-gram already in the ids', () => {
  const two = noRepeatNGram(2);
  let logits = zeros(8);
  two([1, 2, 1, 3, 1], logits); // bigrams after 1: (1,2), (1,3)
  assert.deepEqual(banned(logits), [2, 3]);

  const three = noRepeatNGram(3);
  logits = zeros(8);
  three([5, 6, 7, 5, 6], logits);
  assert.deepEqual(banned(logits), [7]);
  logits = zeros(8);
  three([5, 6, 7, 6, 5], logits); // (6,5) never started a trigram
  assert.deepEqual(banned(logits), []);
  logits = zeros(8);
  three([5, 6], logits); // no complete trigram yet
  assert.deepEqual(banned(logits), []);

  logits = zeros(8);
  noRepeatNGram(1)([4, 0, 4], logits); // unigrams: every seen token
  assert.deepEqual(banned(logits), [0, 4]);
});

/** transformers' algorithm: collect every n-gram's continuations in a dict, look up the last n-1 ids. */
function referenceNGramBans(ids: number[], n: number): number[] {
  if (ids.length + 1 < n) return [];
  const seen = new Map<string, Set<number>>();
  for (let i = 0; i + n <= ids.length; i++) {
    const key = ids.slice(i, i + n - 1).join(',');
    if (!seen.has(key)) seen.set(key, new Set());
    seen.get(key)!.add(ids[i + n - 1]!);
  }
  const prefix = ids.slice(ids.length - n + 1).join(',');
  return [...(seen.get(prefix) ?? [])].sort((a, b) => a - b);
}

test('no_repeat_ngram_size agrees with the dictionary algorithm on random sequences', () => {
  const rng = mulberry32(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(rng() * 4);
    const len = Math.floor(rng() * 30);
    const ids = Array.from({ length: len }, () => Math.floor(rng() * 4)); // small vocab: many repeats
    const logits = zeros(4);
    noRepeatNGram(n)(ids, logits);
    assert.deepEqual(banned(logits), referenceNGramBans(ids, n), `n=${n} ids=${ids}`);
  }
});

test('bad_words_ids: single tokens always banned, longer sequences only after their prefix; [eos] dropped', () => {
  const p = noBadWords([[3], [1, 2], [4, 5, 6], [7]], [7]);
  let logits = zeros(8);
  p([0, 1], logits);
  assert.deepEqual(banned(logits), [2, 3]);
  logits = zeros(8);
  p([9, 4, 5], logits);
  assert.deepEqual(banned(logits), [3, 6]);
  logits = zeros(8);
  p([5], logits); // only part of the prefix [4, 5]
  assert.deepEqual(banned(logits), [3]);
  logits = zeros(8);
  p([], logits);
  assert.deepEqual(banned(logits), [3]);
});

test('temperature divides logits', () => {
  const logits = row(1, -2, 3);
  temperatureWarper(0.5)([], logits);
  assert.deepEqual([...logits], [2, -4, 6]);
});

test('top_k keeps the k largest, and every tie with the k-th (as torch.topk threshold)', () => {
  let logits = row(1, 3, 2, 3, 0);
  topKWarper(2)([], logits);
  assert.deepEqual(kept(logits), [1, 3]);
  logits = row(1, 3, 2, 3, 0);
  topKWarper(3)([], logits);
  assert.deepEqual(kept(logits), [1, 2, 3]);
  logits = row(2, 2, 2, 1);
  topKWarper(1)([], logits);
  assert.deepEqual(kept(logits), [0, 1, 2]);
  logits = row(1, 3, 2);
  topKWarper(5)([], logits);
  assert.deepEqual([...logits], [1, 3, 2]);
});

const ln = (ps: number[]): Float32Array => Float32Array.from(ps, Math.log);

test('top_p keeps the smallest most-probable set reaching p', () => {
  // probabilities 0.15, 0.5, 0.05, 0.3
  const cases: [number, number[]][] = [
    [0.1, [1]],
    [0.5, [1]],
    [0.7, [1, 3]], // 0.5 < 0.7 ≤ 0.8
    [0.9, [0, 1, 3]], // 0.8 < 0.9 ≤ 0.95
    [0.96, [0, 1, 2, 3]],
  ];
  for (const [p, expected] of cases) {
    const logits = ln([0.15, 0.5, 0.05, 0.3]);
    const before = Float32Array.from(logits);
    topPWarper(p)([], logits);
    assert.deepEqual(kept(logits), expected, `top_p=${p}`);
    for (const i of expected) assert.equal(logits[i], before[i], 'kept logits are unchanged');
  }
});

test('top_p cuts among ties by index and ignores tokens already banned', () => {
  const logits = row(0, 0, 0, 0);
  topPWarper(0.5)([], logits);
  assert.deepEqual(kept(logits), [0, 1]);
  const partly = row(-Infinity, 1, -Infinity, 1, 0);
  topPWarper(0.6)([], partly); // probabilities over the finite three: 0.42, 0.42, 0.16
  assert.deepEqual(kept(partly), [1, 3]);
});

/** transformers' TopKLogitsWarper, literally: threshold at the k-th of a full descending sort. */
function referenceTopK(logits: Float32Array, k: number): number[] {
  const threshold = [...logits].sort((a, b) => b - a)[Math.min(k, logits.length) - 1]!;
  return kept(Float32Array.from(logits, (x) => (x < threshold ? -Infinity : x)));
}

/** transformers' TopPLogitsWarper, literally: ascending sort, cumulative softmax, drop those ≤ 1 - p, keep the top one. */
function referenceTopP(logits: Float32Array, p: number): number[] {
  const order = [...logits.keys()].sort((a, b) => logits[a]! - logits[b]!);
  const max = Math.max(...logits);
  const e = order.map((i) => Math.exp(logits[i]! - max));
  const total = e.reduce((a, b) => a + b, 0);
  let cum = 0;
  const keep: number[] = [];
  order.forEach((i, r) => {
    cum += e[r]! / total;
    if (!(cum <= 1 - p) || r === order.length - 1) keep.push(i);
  });
  return keep.sort((a, b) => a - b);
}

test('top_k and top_p agree with full-sort references on random rows', () => {
  const rng = mulberry32(1234);
  for (let trial = 0; trial < 400; trial++) {
    const vocab = 1 + Math.floor(rng() * 300);
    const scale = 0.5 + rng() * 8;
    const logits = Float32Array.from({ length: vocab }, () => (rng() - 0.5) * scale);
    const k = 1 + Math.floor(rng() * vocab * 1.2);
    const a = Float32Array.from(logits);
    topKWarper(k)([], a);
    assert.deepEqual(kept(a), referenceTopK(logits, k), `top_k=${k} vocab=${vocab}`);
    const p = 0.05 + rng() * 0.9;
    const b = Float32Array.from(logits);
    topPWarper(p)([], b);
    assert.deepEqual(kept(b), referenceTopP(logits, p), `top_p=${p} vocab=${vocab}`);
  }
});

test('top_p over a 32000-wide row keeps exactly the sorted prefix', () => {
  const rng = mulberry32(99);
  const logits = Float32Array.from({ length: 32000 }, () => rng() * 20);
  const b = Float32Array.from(logits);
  topPWarper(0.9)([], b);
  const keptIds = kept(b);
  assert.deepEqual(keptIds, referenceTopP(logits, 0.9));
  // Every kept logit is at least every dropped one.
  const minKept = Math.min(...keptIds.map((i) => logits[i]!));
  const maxDropped = Math.max(...banned(b).map((i) => logits[i]!));
  assert.ok(minKept >= maxDropped);
});

test('the warper applies temperature before top_p (a flatter distribution keeps more tokens)', () => {
  const plain = ln([0.5, 0.3, 0.15, 0.05]);
  buildLogitsWarper({ temperature: 1, top_k: 0, top_p: 0.7 })([], plain);
  assert.deepEqual(kept(plain), [0, 1]);
  // T=2: probabilities ∝ sqrt → 0.379, 0.294, 0.208, 0.120; 0.673 < 0.7 needs a third.
  const hot = ln([0.5, 0.3, 0.15, 0.05]);
  buildLogitsWarper({ temperature: 2, top_k: 0, top_p: 0.7 })([], hot);
  assert.deepEqual(kept(hot), [0, 1, 2]);
  assert.ok(Math.abs(hot[0]! - Math.log(0.5) / 2) < 1e-6);
});

test('the warper applies top_k before top_p', () => {
  // top_k=2 leaves 0.5 and 0.3 renormalized to 0.625, 0.375: top_p=0.6 then keeps one.
  const logits = ln([0.5, 0.3, 0.15, 0.05]);
  buildLogitsWarper({ temperature: 1, top_k: 2, top_p: 0.6 })([], logits);
  assert.deepEqual(kept(logits), [0]);
  // Without top_k, 0.5 < 0.6 needs a second token.
  const noK = ln([0.5, 0.3, 0.15, 0.05]);
  buildLogitsWarper({ temperature: 1, top_k: 0, top_p: 0.6 })([], noK);
  assert.deepEqual(kept(noK), [0, 1]);
});

test('buildLogitsProcessor combines the enabled processors and is a no-op by default', () => {
  const untouched = row(1, -1, 2, 0);
  buildLogitsProcessor({ repetition_penalty: 1, no_repeat_ngram_size: 0, bad_words_ids: [], eos_token_id: 3, forced_eos_token_id: undefined, max_new_tokens: 10 })(
    [0, 1, 0],
    untouched,
  );
  assert.deepEqual([...untouched], [1, -1, 2, 0]);

  const logits = row(1, -1, 2, 0, 4);
  buildLogitsProcessor({ repetition_penalty: 2, no_repeat_ngram_size: 2, bad_words_ids: [[4], [3]], eos_token_id: 3, forced_eos_token_id: undefined, max_new_tokens: 10 })(
    [0, 1, 0],
    logits,
  );
  // id 0 and 1 penalized; bigram (0,1) bans 1; [4] banned; [3] is the EOS, so not banned.
  assert.deepEqual([...logits], [0.5, -Infinity, 2, 0, -Infinity]);
});
