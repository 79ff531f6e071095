/**
 * How an answer is decoded: the engine request's `system` and `generation` fields from the
 * answer options in effect (the conversation's, else the settings', else the model's: see
 * effectiveAnswerOptions in main/api/answer-options.ts). Pure.
 *
 * - greedy: one beam, no sampling (temperature and top_p unused);
 * - not greedy, with a temperature or top_p set: sampling with them, one beam (the other comes from
 *   the model, transformers' defaults where the package sets none: temperature 1, top_p 1);
 * - not greedy, with neither: sampling at the model's temperature and top_p (one beam);
 * - Regenerate always samples with a fresh seed, since greedy or beam search would write the same
 *   answer again: at the temperature and top_p in effect where set, else REGENERATE_TEMPERATURE
 *   and REGENERATE_TOP_P (0.8, 0.9).
 *
 * Every request starts from the engine's chat defaults (`defaults: 'chat'`, generation/presets.ts:
 * nothing banned, no n-gram ban, no forced EOS, at least 1024 new tokens), never from OmniFusion's
 * reference-script settings. max_new_tokens is the one in effect, or the chat default when none is
 * set; a system prompt of null leaves the model's own system text.
 */
import { REGENERATE_TEMPERATURE, REGENERATE_TOP_P, type EffectiveAnswerOptions } from '../../api/answer-options.js';
import type { GenerateRequest } from '../../engine/protocol.js';

/** How the answer is asked for: a send (or an edit), or a regenerate with the seed it draws. */
export type DecodingMode = { resample: false } | { resample: true; seed: number };

/** The `system` and `generation` fields of the engine request for an answer written with `options`. */
export function decodingRequest(options: EffectiveAnswerOptions, mode: DecodingMode): Pick<GenerateRequest, 'system' | 'defaults' | 'generation'> {
  const length = options.max_new_tokens !== null ? { max_new_tokens: options.max_new_tokens } : {};
  const system = { ...(options.systemPrompt !== null ? { system: options.systemPrompt } : {}), defaults: 'chat' as const };
  const temperature = options.temperature !== null ? { temperature: options.temperature } : {};
  const topP = options.top_p !== null ? { top_p: options.top_p } : {};
  if (mode.resample) {
    return {
      ...system,
      generation: { ...length, do_sample: true, num_beams: 1, temperature: REGENERATE_TEMPERATURE, top_p: REGENERATE_TOP_P, ...temperature, ...topP, seed: mode.seed },
    };
  }
  if (options.greedy) return { ...system, generation: { ...length, do_sample: false, num_beams: 1 } };
  return { ...system, generation: { ...length, do_sample: true, num_beams: 1, ...temperature, ...topP } };
}
