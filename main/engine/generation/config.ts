/**
 * Generation settings, named and defaulted as Hugging Face transformers' `GenerationConfig`.
 */

/** Decoding settings for one request. Field names and meanings follow transformers' `GenerationConfig`. */
export interface GenerationConfig {
  /** Most tokens to generate after the prompt (integer ≥ 1). */
  max_new_tokens: number;
  /** Sample from the warped distribution instead of taking the argmax. */
  do_sample: boolean;
  /** Logits are divided by this before sampling (> 0; sampling only). */
  temperature: number;
  /** Keep only the `top_k` highest logits when sampling (0 disables). */
  top_k: number;
  /** Keep the smallest set of tokens whose probability mass reaches `top_p` when sampling (1 disables). */
  top_p: number;
  /** > 1 discourages tokens already present in the ids (1 disables). */
  repetition_penalty: number;
  /** Forbid repeating any n-gram of this size (0 disables). */
  no_repeat_ngram_size: number;
  /** Token sequences that must never be generated. */
  bad_words_ids: number[][];
  /** Beams for beam search (1 = greedy or sampling). */
  num_beams: number;
  /** Exponent on the generated length dividing a finished beam's summed log-probability. */
  length_penalty: number;
  /** Beam search stops as soon as `num_beams` hypotheses are finished (otherwise HF's heuristic). */
  early_stopping: boolean;
  /** Token id(s) that end generation. */
  eos_token_id: number | number[];
  /**
   * The token forced as the last one allowed: when `max_new_tokens − 1` ids have been generated,
   * every other token is banned (transformers' ForcedEOSTokenLogitsProcessor at
   * cur_len == max_length − 1; OmniFusion's reference `gen_answer` sets 2). Undefined: none.
   */
  forced_eos_token_id: number | undefined;
  /** Texts that end generation; the answer is cut before them. */
  stop_strings: string[];
  /** Seed for the sampling PRNG; undefined draws a random one. */
  seed: number | undefined;
}

/** Thrown when a generation setting is invalid; the message is one line naming the field. */
export class GenerationConfigError extends Error {
  override name = 'GenerationConfigError';
}

/**
 * transformers' `GenerationConfig` defaults, except `max_new_tokens` (HF has `max_length: 20`,
 * too short for an assistant) and `eos_token_id`, which has no default there and comes from the
 * model package.
 */
export const DEFAULT_GENERATION_CONFIG: Readonly<GenerationConfig> = Object.freeze({
  max_new_tokens: 512,
  do_sample: false,
  temperature: 1,
  top_k: 50,
  top_p: 1,
  repetition_penalty: 1,
  no_repeat_ngram_size: 0,
  bad_words_ids: [],
  num_beams: 1,
  length_penalty: 1,
  early_stopping: false,
  eos_token_id: [],
  forced_eos_token_id: undefined,
  stop_strings: [],
  seed: undefined,
});

const FIELDS = new Set(Object.keys(DEFAULT_GENERATION_CONFIG));

/**
 * Merges `DEFAULT_GENERATION_CONFIG` ← `defaults` (e.g. the model package's) ← `overrides`
 * (e.g. the user's) and validates the result. Fields that are `undefined` in a layer do not
 * override the layer below, so optional CLI flags can be passed straight through.
 * Arrays are copied, so the result shares nothing with the inputs.
 * @throws GenerationConfigError on an unknown field or an out-of-range value,
 *   e.g. "top_p must be in (0, 1], got 1.5".
 */
export function resolveGenerationConfig(
  defaults: Partial<GenerationConfig> = {},
  overrides: Partial<GenerationConfig> = {},
): GenerationConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_GENERATION_CONFIG };
  for (const layer of [defaults, overrides]) {
    for (const [key, value] of Object.entries(layer)) {
      if (!FIELDS.has(key)) throw new GenerationConfigError(`unknown generation setting "${key}"`);
      if (value !== undefined) merged[key] = value;
    }
  }
  const config = merged as unknown as GenerationConfig;
  validate(config);
  return {
    ...config,
    bad_words_ids: config.bad_words_ids.map((seq) => [...seq]),
    eos_token_id: Array.isArray(config.eos_token_id) ? [...config.eos_token_id] : config.eos_token_id,
    stop_strings: [...config.stop_strings],
  };
}

/** The EOS ids as a list (the config allows one id or several). */
export function eosTokenIds(config: Pick<GenerationConfig, 'eos_token_id'>): number[] {
  return Array.isArray(config.eos_token_id) ? config.eos_token_id : [config.eos_token_id];
}

/**
 * Checks the token ids in `config` against the model's vocabulary.
 * @throws GenerationConfigError when an EOS or bad-words id is ≥ `vocabSize`.
 */
export function validateTokenIds(config: GenerationConfig, vocabSize: number): void {
  for (const id of eosTokenIds(config)) {
    if (id >= vocabSize) fail(`eos_token_id ${id} is outside the vocabulary (size ${vocabSize})`);
  }
  if (config.forced_eos_token_id !== undefined && config.forced_eos_token_id >= vocabSize) {
    fail(`forced_eos_token_id ${config.forced_eos_token_id} is outside the vocabulary (size ${vocabSize})`);
  }
  for (const seq of config.bad_words_ids) {
    for (const id of seq) {
      if (id >= vocabSize) fail(`bad_words_ids holds ${id}, outside the vocabulary (size ${vocabSize})`);
    }
  }
}

function fail(message: string): never {
  throw new GenerationConfigError(message);
}

const show = (v: unknown): string => (typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v)));

const isTokenId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function validate(c: GenerationConfig): void {
  const int = (name: keyof GenerationConfig, min: number): void => {
    const v = c[name];
    if (!Number.isSafeInteger(v) || (v as number) < min) fail(`${name} must be an integer ≥ ${min}, got ${show(v)}`);
  };
  const finite = (name: keyof GenerationConfig): number => {
    const v = c[name];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${name} must be a finite number, got ${show(v)}`);
    return v;
  };
  const bool = (name: keyof GenerationConfig): void => {
    if (typeof c[name] !== 'boolean') fail(`${name} must be true or false, got ${show(c[name])}`);
  };

  int('max_new_tokens', 1);
  bool('do_sample');
  if (finite('temperature') <= 0) {
    fail(`temperature must be > 0 (use do_sample: false for greedy), got ${c.temperature}`);
  }
  int('top_k', 0);
  const topP = finite('top_p');
  if (topP <= 0 || topP > 1) fail(`top_p must be in (0, 1], got ${topP}`);
  if (finite('repetition_penalty') <= 0) fail(`repetition_penalty must be > 0, got ${c.repetition_penalty}`);
  int('no_repeat_ngram_size', 0);
  if (
    !Array.isArray(c.bad_words_ids) ||
    !c.bad_words_ids.every((seq) => Array.isArray(seq) && seq.length > 0 && seq.every(isTokenId))
  ) {
    fail(`bad_words_ids must be a list of non-empty lists of token ids, got ${JSON.stringify(c.bad_words_ids)}`);
  }
  int('num_beams', 1);
  finite('length_penalty');
  bool('early_stopping');
  const eos = c.eos_token_id;
  if (!(isTokenId(eos) || (Array.isArray(eos) && eos.every(isTokenId)))) {
    fail(`eos_token_id must be a token id or a list of them, got ${JSON.stringify(eos)}`);
  }
  if (c.forced_eos_token_id !== undefined && !isTokenId(c.forced_eos_token_id)) {
    fail(`forced_eos_token_id must be a token id, got ${show(c.forced_eos_token_id)}`);
  }
  if (!Array.isArray(c.stop_strings) || !c.stop_strings.every((s) => typeof s === 'string' && s.length > 0)) {
    fail(`stop_strings must be a list of non-empty strings, got ${JSON.stringify(c.stop_strings)}`);
  }
  if (c.seed !== undefined && !(Number.isSafeInteger(c.seed) && c.seed >= 0 && c.seed <= 0xffffffff)) {
    fail(`seed must be an integer in [0, 4294967295], got ${show(c.seed)}`);
  }
  if (c.do_sample && c.num_beams > 1) {
    fail(`num_beams must be 1 when do_sample is true (beam sampling is not supported), got ${c.num_beams}`);
  }
}
