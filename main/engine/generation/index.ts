/** Model-independent generation: settings, logits processing, token choice, decoding loops, streaming text. */
export {
  DEFAULT_GENERATION_CONFIG,
  GenerationConfigError,
  eosTokenIds,
  resolveGenerationConfig,
  validateTokenIds,
  type GenerationConfig,
} from './config.js';
export {
  buildLogitsProcessor,
  buildLogitsWarper,
  forcedEos,
  noBadWords,
  noRepeatNGram,
  repetitionPenalty,
  temperatureWarper,
  topKWarper,
  topPWarper,
  type LogitsProcessor,
} from './logits-processors.js';
export { CHAT_MAX_NEW_TOKENS, chatGenerationDefaults, presetDefaults, type GenerationPreset } from './presets.js';
export { argmax, createRng, mulberry32, sample, type Rng } from './sampling.js';
export {
  beamSearch,
  generate,
  greedyOrSample,
  type DecoderStep,
  type FinishReason,
  type SearchOptions,
  type SearchResult,
} from './search.js';
export { IncrementalDetokenizer, type DecodeFn } from './detokenize.js';
export { StopStringMatcher, type StopStringResult } from './stop-strings.js';
