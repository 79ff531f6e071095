/**
 * Logits processors and warpers with Hugging Face transformers' semantics, applied in place to
 * one row of logits (a Float32Array of length vocab) given the ids of that row so far.
 *
 * These run once per generated token over a vocabulary-wide row, so each processor keeps its
 * scratch buffers between calls and none sorts the whole vocabulary.
 */
import { eosTokenIds, type GenerationConfig } from './config.js';

/**
 * Edits `logits` (one row, length vocab) in place, given the token ids of that row so far
 * (prompt ids the caller chose to include, then generated ids). Banned tokens become -Infinity.
 */
export type LogitsProcessor = (ids: readonly number[], logits: Float32Array) => void;

const noop: LogitsProcessor = () => {};

function chain(processors: LogitsProcessor[]): LogitsProcessor {
  if (processors.length === 0) return noop;
  if (processors.length === 1) return processors[0]!;
  return (ids, logits) => {
    for (const p of processors) p(ids, logits);
  };
}

/**
 * As transformers' RepetitionPenaltyLogitsProcessor: every distinct id in `ids` has its logit
 * divided by `penalty` when positive and multiplied by it when negative (once, however often
 * the id occurs).
 */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  // seen[id] === epoch marks ids already penalized in this call, without allocating a set per token.
  let seen = new Uint32Array(0);
  let epoch = 0;
  return (ids, logits) => {
    if (seen.length !== logits.length) {
      seen = new Uint32Array(logits.length);
      epoch = 0;
    }
    if (++epoch > 0xffffffff) {
      seen.fill(0);
      epoch = 1;
    }
    for (const id of ids) {
      if (seen[id] === epoch) continue;
      seen[id] = epoch;
      const x = logits[id]!;
      logits[id] = x < 0 ? x * penalty : x / penalty;
    }
  };
}

/**
 * As transformers' NoRepeatNGramLogitsProcessor: bans every token that would complete an
 * n-gram of size `n` (≥ 1) already present in `ids`. O(len·n) per call, no allocation.
 */
export function noRepeatNGram(n: number): LogitsProcessor {
  return (ids, logits) => {
    const len = ids.length;
    const tail = len - (n - 1); // start of the n-1 ids the next token would extend
    outer: for (let i = 0; i + n <= len; i++) {
      for (let j = 0; j < n - 1; j++) {
        if (ids[i + j] !== ids[tail + j]) continue outer;
      }
      logits[ids[i + n - 1]!] = -Infinity;
    }
  };
}

/**
 * As transformers' NoBadWordsLogitsProcessor: a one-token sequence is always banned; a longer
 * one bans its last token when the ids end with the sequence's other tokens. Sequences equal to
 * `[eos]` are dropped, as transformers does, so that generation can still end.
 */
export function noBadWords(badWordsIds: readonly (readonly number[])[], eosIds: readonly number[]): LogitsProcessor {
  const kept = badWordsIds.filter((seq) => !(seq.length === 1 && eosIds.includes(seq[0]!)));
  const single = kept.filter((seq) => seq.length === 1).map((seq) => seq[0]!);
  const multi = kept.filter((seq) => seq.length > 1);
  return (ids, logits) => {
    for (const id of single) logits[id] = -Infinity;
    outer: for (const seq of multi) {
      const prefix = seq.length - 1;
      const start = ids.length - prefix;
      if (start < 0) continue;
      for (let j = 0; j < prefix; j++) {
        if (ids[start + j] !== seq[j]) continue outer;
      }
      logits[seq[prefix]!] = -Infinity;
    }
  };
}

/** As transformers' TemperatureLogitsWarper: divides every logit by `temperature` (> 0). */
export function temperatureWarper(temperature: number): LogitsProcessor {
  return (_ids, logits) => {
    for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / temperature;
  };
}

/**
 * As transformers' TopKLogitsWarper: sets to -Infinity every logit below the `k`-th largest
 * (k ≥ 1), so ties with the k-th are kept; k ≥ vocab keeps everything. O(vocab) expected (selection, not a sort).
 */
export function topKWarper(k: number): LogitsProcessor {
  let scratch = new Float32Array(0);
  return (_ids, logits) => {
    if (k >= logits.length) return;
    if (scratch.length !== logits.length) scratch = new Float32Array(logits.length);
    scratch.set(logits);
    const threshold = selectDescending(scratch, k - 1);
    for (let i = 0; i < logits.length; i++) {
      if (logits[i]! < threshold) logits[i] = -Infinity;
    }
  };
}

/**
 * As transformers' TopPLogitsWarper (min_tokens_to_keep 1): keeps the smallest set of
 * highest-probability tokens whose softmax mass reaches `p` (0 < p ≤ 1) and sets the rest to
 * -Infinity. Among tokens tied at the cut, those first in index order are kept. O(vocab)
 * expected: quickselect on cumulative mass instead of a full sort.
 */
export function topPWarper(p: number): LogitsProcessor {
  let idx = new Int32Array(0);
  let mass = new Float64Array(0);
  return (_ids, logits) => {
    if (p >= 1) return;
    const vocab = logits.length;
    if (idx.length !== vocab) {
      idx = new Int32Array(vocab);
      mass = new Float64Array(vocab);
    }
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (logits[i]! > max) max = logits[i]!;
    if (max === -Infinity) return;
    // Only finite logits are candidates; the others are banned already.
    let n = 0;
    let total = 0;
    for (let i = 0; i < vocab; i++) {
      const x = logits[i]!;
      if (x === -Infinity) continue;
      const e = Math.exp(x - max);
      mass[i] = e;
      total += e;
      idx[n++] = i;
    }
    const keep = smallestPrefixReaching(idx, n, mass, p * total);
    for (let r = keep; r < n; r++) logits[idx[r]!] = -Infinity;
  };
}

/**
 * Reorders `idx[0..n)` so that `idx[0..m)` are the m highest-`mass` entries, with m the
 * smallest count whose mass sum reaches `target`; returns m (≥ 1 when target > 0).
 * Three-way quickselect: each round partitions the open range into > pivot, = pivot, < pivot
 * and continues only in the part where the cut lies.
 */
function smallestPrefixReaching(idx: Int32Array, n: number, mass: Float64Array, target: number): number {
  let lo = 0;
  let hi = n;
  let acc = 0; // mass of idx[0..lo), all kept
  while (lo < hi) {
    const pivotId = idx[lo + ((hi - lo) >> 1)]!;
    const pivot = mass[pivotId]!;
    let gt = lo;
    let i = lo;
    let lt = hi;
    let sumGt = 0;
    let sumEq = 0;
    while (i < lt) {
      const id = idx[i]!;
      const v = mass[id]!;
      if (v > pivot) {
        idx[i] = idx[gt]!;
        idx[gt++] = id;
        i++;
        sumGt += v;
      } else if (v < pivot) {
        idx[i] = idx[--lt]!;
        idx[lt] = id;
      } else {
        i++;
        sumEq += v;
      }
    }
    if (acc + sumGt >= target) {
      hi = gt;
      continue;
    }
    acc += sumGt;
    if (acc + sumEq >= target) {
      // The cut falls among the tied entries [gt, lt): keep the lowest token ids first.
      idx.subarray(gt, lt).sort();
      let m = gt;
      while (acc < target && m < lt) acc += mass[idx[m++]!]!;
      return m;
    }
    acc += sumEq;
    lo = lt;
  }
  // Rounding left the summed mass just below the target: keep everything examined.
  return lo;
}

/**
 * Value at 0-based rank `k` of `a` in descending order (Wirth's selection with Hoare
 * partitioning); reorders `a`.
 */
function selectDescending(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const x = a[k]!;
    let i = lo;
    let j = hi;
    do {
      while (a[i]! > x) i++;
      while (x > a[j]!) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return a[k]!;
}

/**
 * The processors that apply in every decoding mode, in transformers' order:
 * repetition_penalty, no_repeat_ngram_size, bad_words_ids (EOS-only sequences dropped).
 * Disabled settings (1, 0, []) add nothing; with none enabled the result is a no-op.
 */
export function buildLogitsProcessor(
  config: Pick<GenerationConfig, 'repetition_penalty' | 'no_repeat_ngram_size' | 'bad_words_ids' | 'eos_token_id' | 'forced_eos_token_id' | 'max_new_tokens'>,
  promptLength = 0,
): LogitsProcessor {
  const processors: LogitsProcessor[] = [];
  if (config.repetition_penalty !== 1) processors.push(repetitionPenalty(config.repetition_penalty));
  if (config.no_repeat_ngram_size > 0) processors.push(noRepeatNGram(config.no_repeat_ngram_size));
  if (config.bad_words_ids.length > 0) processors.push(noBadWords(config.bad_words_ids, eosTokenIds(config)));
  if (config.forced_eos_token_id !== undefined) processors.push(forcedEos(config.forced_eos_token_id, promptLength + config.max_new_tokens));
  return chain(processors);
}

/**
 * As transformers' ForcedEOSTokenLogitsProcessor: when the row holds `maxLength − 1` ids (prompt
 * ids included, so the generated id about to be chosen is the last one allowed), every logit but
 * `eosTokenId`'s becomes -Infinity and that one 0.
 */
export function forcedEos(eosTokenId: number, maxLength: number): LogitsProcessor {
  return (ids, logits) => {
    if (ids.length !== maxLength - 1) return;
    logits.fill(-Infinity);
    logits[eosTokenId] = 0;
  };
}

/**
 * The sampling warpers, in transformers' order: temperature, top_k, top_p. Apply after
 * `buildLogitsProcessor`'s processors and only when sampling (`do_sample`).
 */
export function buildLogitsWarper(config: Pick<GenerationConfig, 'temperature' | 'top_k' | 'top_p'>): LogitsProcessor {
  const warpers: LogitsProcessor[] = [];
  if (config.temperature !== 1) warpers.push(temperatureWarper(config.temperature));
  if (config.top_k > 0) warpers.push(topKWarper(config.top_k));
  if (config.top_p < 1) warpers.push(topPWarper(config.top_p));
  return chain(warpers);
}
