/**
 * The settings file (settings.json in the data folder): checking each value, reading a file that
 * may be damaged or from another version without failing, and writing it atomically so a crash or
 * a full disk never leaves it half written.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { DEVICES, type Settings } from '../api/contract.js';
import { answerOptionProblem, MAX_NEW_TOKENS_LIMIT, type AnswerOptionKind, type NullMeans } from '../api/answer-options.js';
import { isAcceleratorLike } from '../api/capture.js';

export { MAX_NEW_TOKENS_LIMIT };

/** What is stored: the API's settings plus the model chosen with models.use. */
export type StoredSettings = Settings & { activeModel?: string };

const ONE_OF: { [K in keyof Settings]?: readonly string[] } = {
  theme: ['system', 'light', 'dark'],
  captureMode: ['ask', 'ocr'],
  captureOpens: ['quick-ask', 'main'],
  device: DEVICES,
};

/** The answer options among the settings: which option each is, and what null means for it (ranges: main/api/answer-options.ts). */
const ANSWER_OPTIONS: { [K in keyof Settings]?: { kind: AnswerOptionKind; nullMeans: NullMeans } } = {
  systemPrompt: { kind: 'systemPrompt', nullMeans: 'model' },
  maxNewTokens: { kind: 'max_new_tokens', nullMeans: 'model' },
  greedy: { kind: 'greedy', nullMeans: 'not-allowed' },
  temperature: { kind: 'temperature', nullMeans: 'model' },
  top_p: { kind: 'top_p', nullMeans: 'model' },
};

/**
 * One line saying what is wrong with `value` for setting `key`, or undefined when it is valid.
 * Whether a hotkey is a system shortcut or can be registered is decided where the shell is.
 */
export function settingProblem(key: string, value: unknown): string | undefined {
  const option = Object.hasOwn(ANSWER_OPTIONS, key) ? ANSWER_OPTIONS[key as keyof Settings] : undefined;
  if (option) return answerOptionProblem(option.kind, key, value, option.nullMeans);
  if (key === 'captureHotkey') {
    return typeof value === 'string' && isAcceleratorLike(value) ? undefined : `"${String(value)}" is not a shortcut: use modifiers and one key, e.g. Control+Alt+Shift+M`;
  }
  // Own keys only: "__proto__", "constructor" or "toString" must not find Object.prototype's.
  const choices = Object.hasOwn(ONE_OF, key) ? ONE_OF[key as keyof Settings] : undefined;
  if (!Array.isArray(choices)) return `unknown setting "${key}"`;
  return typeof value === 'string' && choices.includes(value) ? undefined : `${key} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}

/**
 * Read the settings file over `defaults`: each valid value is kept; an invalid one (hand-edited,
 * or from another version) and unknown keys fall back to the default. A file that is not JSON is
 * moved aside as settings.json.damaged-<time> so it can be looked at, and the defaults are used.
 * @returns the settings and one line per thing that was not taken from the file.
 */
export async function readSettingsFile(file: string, defaults: Settings): Promise<{ settings: StoredSettings; notes: string[] }> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return { settings: { ...defaults }, notes: [] };
  let stored: unknown;
  try {
    stored = JSON.parse(text);
  } catch {
    stored = undefined;
  }
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
    const aside = `${file}.damaged-${Date.now()}`;
    await rename(file, aside).catch(() => undefined);
    return { settings: { ...defaults }, notes: [`the settings file was damaged; it was moved to ${aside} and the defaults are used`] };
  }
  const settings: StoredSettings = { ...defaults };
  const notes: string[] = [];
  for (const [key, value] of Object.entries(stored)) {
    if (key === 'activeModel') {
      if (typeof value === 'string') settings.activeModel = value;
      continue;
    }
    // Before the answer options (issue 12) the choice was `decoding`: 'greedy' or 'model' (the package's defaults).
    if (key === 'decoding') {
      if ((value === 'greedy' || value === 'model') && !Object.hasOwn(stored, 'greedy')) settings.greedy = value === 'greedy';
      continue;
    }
    const problem = settingProblem(key, value);
    if (problem) notes.push(`settings.json: ${problem}; using the default`);
    else (settings as unknown as Record<string, unknown>)[key] = value;
  }
  return { settings, notes };
}

/** Write the settings atomically: a temporary file beside it, then a rename over the old one. */
export async function writeSettingsFile(file: string, settings: StoredSettings): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await writeFile(temp, `${JSON.stringify(settings, null, 2)}\n`);
  await rename(temp, file);
}
