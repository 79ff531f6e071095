/**
 * What the user is told about this start (app.notices): settings values that were not taken from
 * the settings file, and a history database that was damaged and set aside (with what was saved
 * from it). Each is also written to stderr as a note.
 */
import type { AppNotice } from '../../api/contract.js';
import type { StoreRecovery } from '../store/index.js';
import type { Handlers } from './handlers.js';

/** `n word`, plural with an s unless n is 1. */
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line for a history database that was set aside at open (store.recovered). */
function recoveryMessage({ salvaged, movedTo }: StoreRecovery): string {
  return salvaged.messages > 0 || salvaged.conversations > 0
    ? `the history database was damaged; ${plural(salvaged.conversations, 'conversation')} and ${plural(salvaged.messages, 'message')} were saved into a new one` +
        `${salvaged.expected.messages !== null ? ` (of about ${salvaged.expected.messages} messages)` : ''}; the damaged file was moved to ${movedTo}`
    : `the history database was damaged and nothing in it could be read; it was moved to ${movedTo} and a new one started`;
}

/**
 * The start's notices (the history recovery first, then one per settings note), each written to
 * stderr as `note: …` (settings notes first), and the app.notices call that returns them.
 */
export function createNotices(settingsNotes: readonly string[], recovered: StoreRecovery | null | undefined): Pick<Handlers, 'app.notices'> {
  for (const note of settingsNotes) process.stderr.write(`note: ${note}\n`);
  const notices: AppNotice[] = settingsNotes.map((message) => ({ code: 'settings', message }));
  if (recovered) {
    const message = recoveryMessage(recovered);
    process.stderr.write(`note: ${message}\n`);
    notices.unshift({ code: 'history_recovered', message });
  }
  return { 'app.notices': () => notices };
}
