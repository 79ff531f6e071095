/**
 * The "Answers" fields of the settings dialog and of a conversation's settings dialog
 * (components/AnswerFields.svelte): the form they edit, its conversion from and to Settings and
 * ConversationOptions, and the lines that say what the model does by default ("Model default: 0.7")
 * and what a conversation inherits ("Settings: 0.7"). Pure (no DOM), so it is unit-tested.
 */
import type { AnswerOptionKind, AnswerSettings } from '../../../main/api/answer-options.js';
import type { ConversationOptions, ModelDefaults, Settings } from '../../../main/api/contract.js';

/** Where the fields are: the Settings (null = the model's default) or a conversation (null = inherit from Settings). */
export type AnswerScope = 'settings' | 'conversation';

/**
 * What the fields hold. The system prompt: `noSystem` checked = none (''); else a non-blank
 * `systemText` is the prompt, and a blank one inherits. Numbers: null (an empty field) inherits.
 * `greedy` is null only in a conversation (inherit).
 */
export interface AnswerForm {
  systemText: string;
  noSystem: boolean;
  greedy: boolean | null;
  temperature: number | null;
  top_p: number | null;
  maxNewTokens: number | null;
}

/** Per field of the form: the one-line reason the server refused it. */
export type AnswerErrors = Partial<Record<AnswerOptionKind, string>>;

function systemFields(systemPrompt: string | null): Pick<AnswerForm, 'systemText' | 'noSystem'> {
  return { systemText: systemPrompt ?? '', noSystem: systemPrompt === '' };
}

/** The system prompt a form says: '' for none, the text when one is typed, else null (inherit). */
export function systemOfForm(form: Pick<AnswerForm, 'systemText' | 'noSystem'>): string | null {
  if (form.noSystem) return '';
  return form.systemText.trim() ? form.systemText : null;
}

/** A number field's value: a finite number, or null for an emptied field (Svelte binds '' as null; some browsers give NaN). */
export function numberOfField(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : value === null || value === undefined || value === '' ? null : Number.NaN;
}

/** The fields as Settings fill them (null numbers: empty, the model's default). */
export function formFromSettings(s: AnswerSettings): AnswerForm {
  return { ...systemFields(s.systemPrompt), greedy: s.greedy, temperature: s.temperature, top_p: s.top_p, maxNewTokens: s.maxNewTokens };
}

/** The Settings fields of a form (a NaN from a half-typed number goes to the server, which refuses it with its reason). */
export function settingsOfForm(form: AnswerForm): Pick<Settings, 'systemPrompt' | 'greedy' | 'temperature' | 'top_p' | 'maxNewTokens'> {
  return {
    systemPrompt: systemOfForm(form),
    greedy: form.greedy ?? true,
    temperature: numberOfField(form.temperature),
    top_p: numberOfField(form.top_p),
    maxNewTokens: numberOfField(form.maxNewTokens),
  };
}

/** The fields as a conversation's options fill them (null: empty, inherit). */
export function formFromOptions(o: ConversationOptions): AnswerForm {
  return { ...systemFields(o.systemPrompt), greedy: o.greedy, temperature: o.temperature, top_p: o.top_p, maxNewTokens: o.max_new_tokens };
}

/** The conversation options a form says (empty fields null: inherit from Settings). */
export function optionsOfForm(form: AnswerForm): ConversationOptions {
  return {
    systemPrompt: systemOfForm(form),
    greedy: form.greedy,
    temperature: numberOfField(form.temperature),
    top_p: numberOfField(form.top_p),
    max_new_tokens: numberOfField(form.maxNewTokens),
  };
}

/** The fields of `next` that differ from `before` (what a save sends). */
export function changedOptions(before: ConversationOptions, next: ConversationOptions): Partial<ConversationOptions> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(next) as (keyof ConversationOptions)[]) {
    if (!Object.is(before[key], next[key])) patch[key] = next[key];
  }
  return patch as Partial<ConversationOptions>;
}

/** A number as a person reads it: at most 3 decimals, no trailing zeros (0.7, 1, 0.95). */
export function showNumber(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** How the model decodes by default, in words: "greedy", "beam search, 3 beams" or "sampling". */
export function describeDecoding(d: Pick<ModelDefaults, 'do_sample' | 'num_beams'>): string {
  if (d.do_sample) return 'sampling';
  return d.num_beams > 1 ? `beam search, ${d.num_beams} beams` : 'greedy';
}

/** A system text on one short line (first line, cut at 80 characters), or "none". */
export function describeSystem(text: string): string {
  const line = text.trim().split('\n')[0]!.trim();
  if (!line) return 'none';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/** The model's default of a field, as its value would be written ("0.7", "50", "greedy", the system text); '' when the model is not known. */
export function modelValue(kind: AnswerOptionKind, d: ModelDefaults | undefined): string {
  if (!d) return '';
  switch (kind) {
    case 'systemPrompt':
      return describeSystem(d.systemPrompt);
    case 'greedy':
      return describeDecoding(d);
    case 'temperature':
      return showNumber(d.temperature);
    case 'top_p':
      return showNumber(d.top_p);
    case 'max_new_tokens':
      return String(d.max_new_tokens);
  }
}

/** "Model default: 0.7" for a field, or what to say before a model is loaded. */
export function modelDefaultLine(kind: AnswerOptionKind, d: ModelDefaults | undefined): string {
  return d ? `Model default: ${modelValue(kind, d)}` : 'Model default: shown once a model is loaded';
}

/** What a conversation gets from Settings for a field, in words ("0.7", "the model's default", "on"; the note beside it says what the model's is). */
export function inheritedValue(kind: AnswerOptionKind, s: AnswerSettings): string {
  const model = (): string => "the model's default";
  switch (kind) {
    case 'systemPrompt':
      return s.systemPrompt === null ? model() : s.systemPrompt === '' ? 'none' : describeSystem(s.systemPrompt);
    case 'greedy':
      return s.greedy ? 'on' : 'off';
    case 'temperature':
      return s.temperature === null ? model() : showNumber(s.temperature);
    case 'top_p':
      return s.top_p === null ? model() : showNumber(s.top_p);
    case 'max_new_tokens':
      return s.maxNewTokens === null ? model() : String(s.maxNewTokens);
  }
}

/** The system text a blank textarea stands for (its placeholder): the model's, or in a conversation the Settings'. */
export function systemPlaceholder(scope: AnswerScope, s: AnswerSettings | undefined, d: ModelDefaults | undefined): string {
  const own = d ? (d.systemPrompt.trim() ? d.systemPrompt.trim() : '(the model has no system text)') : "(the model's own system text)";
  if (scope === 'settings' || !s || s.systemPrompt === null) return own;
  return s.systemPrompt === '' ? '(Settings: no system prompt)' : s.systemPrompt;
}

/** Whether a form answers greedily, so temperature and top-p are unused (a conversation that inherits follows Settings). */
export function formIsGreedy(form: Pick<AnswerForm, 'greedy'>, s: AnswerSettings | undefined): boolean {
  return form.greedy ?? s?.greedy ?? true;
}
