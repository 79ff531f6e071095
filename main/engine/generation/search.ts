/**
 * Decoding loops (greedy, sampling, beam search), independent of any model: the model is
 * reached only through a `DecoderStep`.
 */
import { eosTokenIds, validateTokenIds, type GenerationConfig } from './config.js';
import { buildLogitsProcessor, buildLogitsWarper } from './logits-processors.js';
import { argmax, createRng, sample, type Rng } from './sampling.js';

/**
 * One decoder step for a batch of rows (beams). `tokens[r]` is appended to row r, which
 * continues the cached row `parentRows[r]` of the previous step (the model reorders its KV cache
 * by this gather). Returns logits for each row's last position: Float32Array of rows*vocab.
 */
export interface DecoderStep {
  (tokens: readonly number[], parentRows: readonly number[]): Promise<Float32Array>;
}

/** Why generation ended. */
export type FinishReason = 'eos' | 'length' | 'stop_string' | 'cancelled';

/** Inputs common to every decoding mode. */
export interface SearchOptions {
  /** Logits at the prompt's last position: Float32Array of length `vocabSize`. */
  prefillLogits: Float32Array;
  step: DecoderStep;
  /** A resolved, validated config (see `resolveGenerationConfig`). */
  config: GenerationConfig;
  /** Width of one logits row. */
  vocabSize: number;
  /** Receives each generated id (EOS included); see each mode for when. */
  onToken(id: number): void;
  /** Cancellation, polled between steps; true ends generation with 'cancelled'. */
  shouldStop(): boolean;
  /** Whether the text of these generated ids contains a stop string (the caller matches text). */
  stopStringHit?(ids: readonly number[]): boolean;
  /**
   * Prompt token ids the processors see before the generated ids (transformers' `input_ids`),
   * e.g. for repetition_penalty over the prompt. Default none: a prompt given as embeddings has
   * no ids, as in transformers.
   */
  promptIds?: readonly number[];
  /** Sampling source; default `createRng(config.seed)`. */
  rng?: Rng;
}

/** Generated ids (EOS included when generated; the caller strips it for text) and the reason. */
export interface SearchResult {
  tokenIds: number[];
  finishReason: FinishReason;
}

function checkLogits(logits: Float32Array, rows: number, vocabSize: number): void {
  if (logits.length !== rows * vocabSize) {
    throw new Error(`decoder returned ${logits.length} logits, expected ${rows} row(s) × ${vocabSize}`);
  }
}

/**
 * Greedy decoding, or sampling when `config.do_sample` (transformers' `_sample`): per token,
 * the processors, then (sampling only) the warpers, then argmax or a draw. Each token goes to
 * `onToken` before the next step; `step` is called with one row (`parentRows` [0]) and never
 * after the last token. Checks, in order, after each token: EOS, stop string, max_new_tokens,
 * cancellation.
 * @throws GenerationConfigError when a configured token id is outside the vocabulary;
 *   Error when the decoder returns logits of the wrong size, or every token is banned while sampling.
 */
export async function greedyOrSample(options: SearchOptions): Promise<SearchResult> {
  const { config, vocabSize } = options;
  validateTokenIds(config, vocabSize);
  checkLogits(options.prefillLogits, 1, vocabSize);
  const eos = new Set(eosTokenIds(config));
  const processor = buildLogitsProcessor(config, options.promptIds?.length ?? 0);
  const warper = config.do_sample ? buildLogitsWarper(config) : undefined;
  const rng = config.do_sample ? (options.rng ?? createRng(config.seed)) : undefined;
  const history = [...(options.promptIds ?? [])];
  const tokens: number[] = [];
  // The caller's logits stay untouched: processors work on a copy.
  const row = new Float32Array(vocabSize);
  let logits = options.prefillLogits;
  for (;;) {
    if (options.shouldStop()) return { tokenIds: tokens, finishReason: 'cancelled' };
    row.set(logits);
    processor(history, row);
    let id: number;
    if (warper && rng) {
      warper(history, row);
      id = sample(row, rng);
    } else {
      id = argmax(row);
    }
    tokens.push(id);
    history.push(id);
    options.onToken(id);
    if (eos.has(id)) return { tokenIds: tokens, finishReason: 'eos' };
    if (options.stopStringHit?.(tokens)) return { tokenIds: tokens, finishReason: 'stop_string' };
    if (tokens.length >= config.max_new_tokens) return { tokenIds: tokens, finishReason: 'length' };
    // Polled here as well, so a cancel raised from onToken spares a decoder run.
    if (options.shouldStop()) return { tokenIds: tokens, finishReason: 'cancelled' };
    logits = await options.step([id], [0]);
    checkLogits(logits, 1, vocabSize);
  }
}

/** A finished (or, at the end, open) beam: generated ids and length-normalized score. */
interface Hypothesis {
  score: number;
  tokens: number[];
  endedOnEos: boolean;
}

/** transformers' BeamHypotheses: the `numBeams` best finished hypotheses of one prompt. */
class BeamHypotheses {
  private readonly hyps: Hypothesis[] = [];
  private worstScore = 1e9;

  constructor(
    private readonly numBeams: number,
    private readonly lengthPenalty: number,
    private readonly earlyStopping: boolean,
  ) {}

  get size(): number {
    return this.hyps.length;
  }

  /** Scores `sumLogprobs / generatedLen ** length_penalty`; keeps it if among the best. */
  add(tokens: number[], sumLogprobs: number, generatedLen: number, endedOnEos: boolean): void {
    const score = sumLogprobs / generatedLen ** this.lengthPenalty;
    if (this.hyps.length < this.numBeams || score > this.worstScore) {
      this.hyps.push({ score, tokens, endedOnEos });
      if (this.hyps.length > this.numBeams) {
        // transformers sorts (score, index) pairs and drops the first: lowest score, earliest on ties.
        let worst = 0;
        for (let i = 1; i < this.hyps.length; i++) if (this.hyps[i]!.score < this.hyps[worst]!.score) worst = i;
        this.hyps.splice(worst, 1);
        this.worstScore = Math.min(...this.hyps.map((h) => h.score));
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /**
   * early_stopping: done once `numBeams` hypotheses are in. Otherwise transformers' heuristic:
   * done when the best candidate of this step, scored at the current length, cannot beat the worst kept.
   */
  isDone(bestSumLogprobs: number, generatedLen: number): boolean {
    if (this.hyps.length < this.numBeams) return false;
    if (this.earlyStopping) return true;
    return this.worstScore >= bestSumLogprobs / generatedLen ** this.lengthPenalty;
  }

  /** The highest score; among equals the last added, as transformers' stable sort then pop(). */
  best(): Hypothesis {
    let best = this.hyps[0]!;
    for (const h of this.hyps) if (h.score >= best.score) best = h;
    return best;
  }
}

/** The `capacity` highest (score, beam, token) candidates of a step, best first; ties keep the earlier offer. */
class TopCandidates {
  readonly score: Float64Array;
  readonly beam: Int32Array;
  readonly token: Int32Array;
  count = 0;

  constructor(private readonly capacity: number) {
    this.score = new Float64Array(capacity);
    this.beam = new Int32Array(capacity);
    this.token = new Int32Array(capacity);
  }

  offer(score: number, beam: number, token: number): void {
    if (Number.isNaN(score)) return;
    if (this.count === this.capacity && !(score > this.score[this.count - 1]!)) return;
    let pos = this.count < this.capacity ? this.count++ : this.count - 1;
    while (pos > 0 && this.score[pos - 1]! < score) {
      this.score[pos] = this.score[pos - 1]!;
      this.beam[pos] = this.beam[pos - 1]!;
      this.token[pos] = this.token[pos - 1]!;
      pos--;
    }
    this.score[pos] = score;
    this.beam[pos] = beam;
    this.token[pos] = token;
  }
}

/** In place: x ← x − logsumexp(x), computed stably. A row of only -Infinity is left as is. */
function logSoftmax(row: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  if (max === -Infinity) return;
  let total = 0;
  for (let i = 0; i < row.length; i++) total += Math.exp(row[i]! - max);
  const lse = max + Math.log(total);
  for (let i = 0; i < row.length; i++) row[i] = row[i]! - lse;
}

/** A live beam: ids (prompt ids, then generated), summed log-probability, cache row it extends. */
interface Beam {
  ids: number[];
  score: number;
  parentRow: number;
}

/**
 * Beam search with `config.num_beams` beams, as transformers' `_beam_search` with
 * BeamSearchScorer (batch 1, one returned sequence):
 * - per beam: log_softmax of the logits, then the processors (on log-probabilities, as
 *   transformers does), plus the beam's summed log-probability;
 * - the top max(2, 1 + #eos) × num_beams candidates over all beams; an EOS candidate ranked
 *   below num_beams is dropped, a higher one becomes a finished hypothesis scored
 *   sum_logprobs / generated_len ** length_penalty (generated_len counting the EOS); the best
 *   num_beams others are the next beams;
 * - stops when num_beams hypotheses are finished (`early_stopping`) or when the best candidate
 *   cannot beat the worst finished one (transformers' heuristic); at max_new_tokens, or when
 *   every beam has hit a stop string (as transformers' `all(stopping_criteria)`), the open beams
 *   join the pool, scored by their length.
 * The first step expands the single prefill row: like transformers' num_beams copies of the
 * prompt with all but the first at -1e9, so `parentRows` are all 0 on the first `step`.
 * Returns the best hypothesis (EOS included when it ended on one). `onToken` receives its ids
 * only at the end, because the leading beam can change at any step and streamed text could not
 * be taken back. Cancellation, polled between steps, returns the best hypothesis so far (open
 * beams included) with 'cancelled'. `step` is never called after the last step.
 * @throws GenerationConfigError when a configured token id is outside the vocabulary;
 *   Error when the decoder returns logits of the wrong size, or the vocabulary is too small to
 *   refill the beams.
 */
export async function beamSearch(options: SearchOptions): Promise<SearchResult> {
  const { config, vocabSize } = options;
  validateTokenIds(config, vocabSize);
  checkLogits(options.prefillLogits, 1, vocabSize);
  const numBeams = config.num_beams;
  const eos = new Set(eosTokenIds(config));
  const processor = buildLogitsProcessor(config, options.promptIds?.length ?? 0);
  const hyps = new BeamHypotheses(numBeams, config.length_penalty, config.early_stopping);
  const promptIds = options.promptIds ?? [];
  const promptLen = promptIds.length;
  const top = new TopCandidates(Math.max(2, 1 + eos.size) * numBeams);
  const row = new Float32Array(vocabSize);

  let beams: Beam[] = Array.from({ length: numBeams }, (_, b) => ({
    ids: [...promptIds],
    score: b === 0 ? 0 : -1e9,
    parentRow: 0,
  }));
  let logits = options.prefillLogits;
  let generated = 0;

  const finish = (reason: FinishReason, addOpenBeams: boolean): SearchResult => {
    if (addOpenBeams) for (const b of beams) hyps.add(b.ids.slice(promptLen), b.score, generated, false);
    const best = hyps.best();
    for (const id of best.tokens) options.onToken(id);
    const finishReason = reason === 'cancelled' || !best.endedOnEos ? reason : 'eos';
    return { tokenIds: best.tokens, finishReason };
  };

  if (options.shouldStop()) return { tokenIds: [], finishReason: 'cancelled' };
  for (;;) {
    // Beam b continues cache row b of the last step; on the first step every beam reads row 0.
    const firstStep = generated === 0;
    const rowOf = (b: number): number => (firstStep ? 0 : b);
    top.count = 0;
    for (let b = 0; b < beams.length; b++) {
      const beam = beams[b]!;
      const r = rowOf(b);
      row.set(logits.subarray(r * vocabSize, (r + 1) * vocabSize));
      logSoftmax(row);
      processor(beam.ids, row);
      for (let t = 0; t < vocabSize; t++) top.offer(beam.score + row[t]!, b, t);
    }
    generated++;

    const next: Beam[] = [];
    for (let rank = 0; rank < top.count && next.length < numBeams; rank++) {
      const parent = beams[top.beam[rank]!]!;
      const token = top.token[rank]!;
      const score = top.score[rank]!;
      if (eos.has(token)) {
        if (rank < numBeams) hyps.add([...parent.ids.slice(promptLen), token], score, generated, true);
      } else {
        next.push({ ids: [...parent.ids, token], score, parentRow: rowOf(top.beam[rank]!) });
      }
    }
    if (next.length < numBeams) {
      throw new Error(
        `beam search could not refill ${numBeams} beams (vocabulary of ${vocabSize} too small, or NaN logits)`,
      );
    }
    const done = hyps.isDone(top.score[0]!, generated);
    beams = next;
    if (done) return finish('eos', false);
    if (generated >= config.max_new_tokens) return finish('length', true);
    if (options.stopStringHit && beams.every((b) => options.stopStringHit!(b.ids.slice(promptLen)))) {
      return finish('stop_string', true);
    }
    if (options.shouldStop()) return finish('cancelled', true);
    logits = await options.step(
      beams.map((b) => b.ids[b.ids.length - 1]!),
      beams.map((b) => b.parentRow),
    );
    checkLogits(logits, numBeams, vocabSize);
  }
}

/** Beam search when `config.num_beams` > 1, else greedy or sampling, as transformers' `generate`. */
export function generate(options: SearchOptions): Promise<SearchResult> {
  return options.config.num_beams > 1 ? beamSearch(options) : greedyOrSample(options);
}
