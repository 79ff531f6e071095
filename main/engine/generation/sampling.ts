/**
 * Token choice from one row of logits: argmax for greedy decoding, and sampling from the
 * softmax with a seedable PRNG so that `--seed` repeats a run exactly.
 */
import { getRandomValues } from 'node:crypto';

/** Uniform random numbers in [0, 1). */
export type Rng = () => number;

/**
 * Index of the largest logit; the first one on ties, like torch.argmax. NaN entries never win;
 * a row of only -Infinity (or NaN) gives 0.
 */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! > bestValue) {
      bestValue = logits[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit-state generator, fast and good enough
 * for token sampling; not cryptographic. Same seed, same sequence, on every platform.
 * @param seed any number; only its low 32 bits are used.
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A mulberry32 generator seeded with `seed`, or with a random seed when it is undefined. */
export function createRng(seed: number | undefined): Rng {
  return mulberry32(seed ?? getRandomValues(new Uint32Array(1))[0]!);
}

/**
 * Draws a token index with probability softmax(logits), as torch.multinomial(softmax(logits), 1)
 * in transformers' sampling (warpers already applied). Subtracts the max before exponentiating,
 * so large logits do not overflow; -Infinity entries are never drawn. Allocation-free: the
 * exponentials are computed twice instead of stored.
 * @throws Error when every logit is -Infinity (nothing can be drawn).
 */
export function sample(logits: Float32Array, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity) throw new Error('cannot sample: every token is banned (all logits are -Infinity)');
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i]! - max);
  const u = rng() * total;
  let acc = 0;
  let lastPositive = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    if (e === 0) continue;
    acc += e;
    lastPositive = i;
    if (u < acc) return i;
  }
  // Rounding can leave u just above the running sum: the draw belongs to the last live token.
  return lastPositive;
}
