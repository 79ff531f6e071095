/**
 * The answer options (system prompt, temperature, top_p, longest answer, greedy): their ranges
 * and one-line refusals, and which value an answer gets: the conversation's own
 * (ConversationOptions), else the Settings' value, else the model's default (null all the way
 * down). Pure (no Node, no DOM): the service checks and resolves with it (main/core/settings.ts,
 * main/core/service/validation.ts and decoding.ts), the renderer shows the same values
 * (SettingsDialog, ConversationSettings) and the demo checks the same ranges.
 */
import type { ConversationOptions, Settings } from './contract.js';

/** The longest answer a user can ask for, tokens (Mistral-7B's context, OmniFusion 1.1's decoder, is 32 768). */
export const MAX_NEW_TOKENS_LIMIT = 32768;

/**
 * Longest system prompt, characters: about 5 000 tokens of English at ~4 characters a token, far
 * beyond the custom instructions of chat apps (ChatGPT's are 1 500 characters) and still small
 * beside the 32 768-token context of OmniFusion 1.1 or the 8 192 of SmolVLM.
 */
export const MAX_SYSTEM_PROMPT_CHARS = 20_000;

/** Highest temperature accepted: OpenAI's API range is 0–2; above it answers are noise. 0 is not a temperature (greedy is). */
export const MAX_TEMPERATURE = 2;

/**
 * How Regenerate samples when neither the conversation nor Settings sets a temperature / top_p:
 * 0.8 and 0.9 (Ollama's default sampling parameters, a common choice for local chat).
 */
export const REGENERATE_TEMPERATURE = 0.8;
export const REGENERATE_TOP_P = 0.9;

/** The fields of ConversationOptions, in the order the dialogs show them. */
export const CONVERSATION_OPTION_KEYS = ['systemPrompt', 'greedy', 'temperature', 'top_p', 'max_new_tokens'] as const satisfies readonly (keyof ConversationOptions)[];

/** A conversation that inherits everything from Settings. */
export const INHERIT_ALL: Readonly<ConversationOptions> = Object.freeze({ systemPrompt: null, temperature: null, top_p: null, max_new_tokens: null, greedy: null });

/** What an answer option is, whatever it is called where it is stored. */
export type AnswerOptionKind = (typeof CONVERSATION_OPTION_KEYS)[number];

/** What null means where the option is stored: inherit from Settings (a conversation), the model's default (Settings), or not allowed. */
export type NullMeans = 'inherit' | 'model' | 'not-allowed';

const OR_NULL: Record<NullMeans, string> = { inherit: ', or null to inherit from Settings', model: ", or null for the model's default", 'not-allowed': '' };

/**
 * One line saying what is wrong with `value` for the answer option `kind`, stored under the name
 * `field` (the message names it), or undefined when it is valid. Ranges: systemPrompt text of at
 * most MAX_SYSTEM_PROMPT_CHARS characters ('' = none); temperature in (0, MAX_TEMPERATURE]; top_p
 * in (0, 1]; max_new_tokens a whole number in [1, MAX_NEW_TOKENS_LIMIT]; greedy true or false.
 */
export function answerOptionProblem(kind: AnswerOptionKind, field: string, value: unknown, nullMeans: NullMeans): string | undefined {
  if (value === null && nullMeans !== 'not-allowed') return undefined;
  const orNull = OR_NULL[nullMeans];
  const number = typeof value === 'number' && Number.isFinite(value);
  switch (kind) {
    case 'systemPrompt':
      if (typeof value !== 'string') return `${field} must be text (empty for no system prompt)${orNull}`;
      if (value.length > MAX_SYSTEM_PROMPT_CHARS) return `${field} is ${value.length.toLocaleString('en-US')} characters; at most ${MAX_SYSTEM_PROMPT_CHARS.toLocaleString('en-US')} are accepted`;
      // Line breaks and tabs are text; other control characters are not.
      return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value) ? `${field} has control characters (only line breaks and tabs are allowed)` : undefined;
    case 'temperature':
      return number && value > 0 && value <= MAX_TEMPERATURE ? undefined : `${field} must be a number above 0 and at most ${MAX_TEMPERATURE} (greedy for the same answer every time)${orNull}`;
    case 'top_p':
      return number && value > 0 && value <= 1 ? undefined : `${field} must be a number above 0 and at most 1${orNull}`;
    case 'max_new_tokens':
      return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_NEW_TOKENS_LIMIT ? undefined : `${field} must be a whole number from 1 to ${MAX_NEW_TOKENS_LIMIT}${orNull}`;
    case 'greedy':
      return typeof value === 'boolean' ? undefined : `${field} must be true or false${orNull}`;
  }
}

/** The Settings fields that are answer options. */
export type AnswerSettings = Pick<Settings, 'systemPrompt' | 'greedy' | 'temperature' | 'top_p' | 'maxNewTokens'>;

/** The options an answer is written with; null: the model's default (ModelDefaults). */
export interface EffectiveAnswerOptions {
  /** null: the model's own system text; '' none. */
  systemPrompt: string | null;
  greedy: boolean;
  temperature: number | null;
  top_p: number | null;
  max_new_tokens: number | null;
}

/** Each option: the conversation's when set, else the Settings' (which may be null: the model's). */
export function effectiveAnswerOptions(conversation: Partial<ConversationOptions> | null | undefined, settings: AnswerSettings): EffectiveAnswerOptions {
  const c = conversation ?? {};
  return {
    systemPrompt: c.systemPrompt ?? settings.systemPrompt ?? null,
    greedy: c.greedy ?? settings.greedy,
    temperature: c.temperature ?? settings.temperature ?? null,
    top_p: c.top_p ?? settings.top_p ?? null,
    max_new_tokens: c.max_new_tokens ?? settings.maxNewTokens ?? null,
  };
}
