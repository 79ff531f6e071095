/**
 * The settings calls (settings.get, settings.set): reading them at start over the defaults,
 * checking a change (values by main/core/settings.ts, the hotkey by capture.ts), saving it, and
 * moving the model to a newly chosen device. The settings file itself is main/core/settings.ts's.
 */
import path from 'node:path';
import type { Settings } from '../../api/contract.js';
import { defaultHotkey, isAvoidedAccelerator } from '../../api/capture.js';
import { readSettingsFile, settingProblem, type StoredSettings } from '../settings.js';
import type { Capture } from './capture.js';
import type { ServiceContext } from './context.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';
import type { LoadedModel } from './loaded-model.js';

/**
 * The settings of a new user on `platform` (its default capture hotkey). Answers: the model's own
 * system text, temperature and top_p; greedy decoding (fast, and the same answer every time; the
 * model's decoding is OmniFusion's 3 beams), at most 512 tokens (OmniFusion 1.1's package says 50,
 * too short for a chat answer).
 */
export function defaultSettings(platform: string): Settings {
  return {
    theme: 'system',
    systemPrompt: null,
    maxNewTokens: 512,
    greedy: true,
    temperature: null,
    top_p: null,
    captureHotkey: defaultHotkey(platform),
    captureMode: 'ask',
    captureOpens: 'quick-ask',
    device: 'auto',
  };
}

/**
 * Read `<dataDir>/settings.json` over the defaults for `platform` (never fails on a damaged or
 * foreign file; see readSettingsFile).
 * @returns the file's path, the settings, and one line per value not taken from the file.
 */
export async function loadSettings(dataDir: string, platform: string): Promise<{ file: string; settings: StoredSettings; notes: string[] }> {
  const file = path.join(dataDir, 'settings.json');
  const { settings, notes } = await readSettingsFile(file, defaultSettings(platform));
  return { file, settings, notes };
}

/** The settings calls of the service of `ctx`. */
export function createSettingsCalls(ctx: ServiceContext, { capture, loaded }: { capture: Capture; loaded: LoadedModel }): Pick<Handlers, 'settings.get' | 'settings.set'> {
  return {
    'settings.get': () => ctx.settings,
    'settings.set': async (patch) => {
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new ApiRequestError('bad_request', 'settings.set takes an object of settings');
      for (const [key, value] of Object.entries(patch)) {
        // A system shortcut gets its own message (applyHotkey) before the shape check.
        if (key === 'captureHotkey' && typeof value === 'string' && isAvoidedAccelerator(value, ctx.platform)) continue;
        const problem = settingProblem(key, value);
        if (problem) throw new ApiRequestError('bad_request', problem);
      }
      const settings = ctx.settings;
      const next: StoredSettings = { ...settings, ...patch };
      if (next.captureHotkey !== settings.captureHotkey) capture.applyHotkey(next.captureHotkey, settings.captureHotkey);
      const reload = next.device !== settings.device && !ctx.options.executionProvider && loaded.currentDir() !== undefined;
      ctx.settings = next;
      await ctx.saveSettings();
      // The model moves to the chosen provider (the status line shows the one it really runs on).
      if (reload) void loaded.load(loaded.currentDir()!, loaded.status().name);
      return ctx.settings;
    },
  };
}
