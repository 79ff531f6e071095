/** Where OmniFusion keeps its files by default, shared by the command line and the desktop app. */
import os from 'node:os';
import path from 'node:path';

/**
 * The command line's data folder (history, attachments, settings) and the parent of the models
 * folder both share: $OMNIFUSION_DATA_DIR, else the platform's per-user data folder (XDG data home
 * on Linux, Application Support on macOS, %APPDATA% on Windows).
 */
export function defaultDataDir(): string {
  if (process.env.OMNIFUSION_DATA_DIR) return process.env.OMNIFUSION_DATA_DIR;
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'OmniFusion');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library/Application Support/OmniFusion');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local/share'), 'omnifusion');
}

/**
 * Installed models: $OMNIFUSION_MODELS_DIR, else models/ in the default data folder, so that a
 * model pulled with `omnifusion models pull` is the one the desktop app lists, and the other way round.
 */
export function defaultModelsDir(): string {
  return path.resolve(process.env.OMNIFUSION_MODELS_DIR || path.join(defaultDataDir(), 'models'));
}
