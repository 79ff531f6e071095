/**
 * Which generation defaults a request starts from: the model package's own (`model`: for
 * OmniFusion its reference script's 3 beams, 50 tokens, banned newline and ":" tokens, no repeated
 * 4-gram, forced EOS: what reproduces the paper), or chat defaults (`chat`: what the app, serve and
 * `omnifusion ask` answer with). The request's own overrides apply over either.
 */
import { GenerationConfigError, type GenerationConfig } from './config.js';

/** Named default sets; see the file comment. */
export type GenerationPreset = 'model' | 'chat';

/**
 * Longest answer by default in chat, in tokens: 1024 (LM Studio's and Ollama's defaults leave the
 * length open up to the context; a bound keeps a runaway answer on a laptop CPU to minutes).
 */
export const CHAT_MAX_NEW_TOKENS = 1024;

/**
 * The chat defaults over a model's: greedy (one beam, no sampling; the model's temperature and
 * top_p stay for when the user turns sampling on), streamed token by token, nothing banned (no
 * bad words, no n-gram ban, no forced EOS: newlines, lists, tables, multi-line formulas and
 * repeated cells such as `0 & 0` may appear), at least CHAT_MAX_NEW_TOKENS new tokens. The
 * model's EOS ids and repetition_penalty are kept.
 */
export function chatGenerationDefaults(model: Readonly<GenerationConfig>): GenerationConfig {
  return {
    ...model,
    do_sample: false,
    num_beams: 1,
    early_stopping: false,
    length_penalty: 1,
    bad_words_ids: [],
    no_repeat_ngram_size: 0,
    forced_eos_token_id: undefined,
    max_new_tokens: Math.max(model.max_new_tokens, CHAT_MAX_NEW_TOKENS),
    eos_token_id: Array.isArray(model.eos_token_id) ? [...model.eos_token_id] : model.eos_token_id,
    stop_strings: [...model.stop_strings],
  };
}

/**
 * The defaults of `preset` for a model whose package defaults are `model`.
 * @throws GenerationConfigError for an unknown preset name.
 */
export function presetDefaults(preset: GenerationPreset | undefined, model: Readonly<GenerationConfig>): GenerationConfig {
  if (preset === undefined || preset === 'model') return { ...model };
  if (preset === 'chat') return chatGenerationDefaults(model);
  throw new GenerationConfigError(`unknown generation defaults "${String(preset)}" (model or chat)`);
}
