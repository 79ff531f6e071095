// When the chat window shows the hotkey notice, and how dismissals are remembered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CaptureStatus } from '../../../main/api/capture.js';
import {
  DISMISSED_STORAGE_KEY,
  dismissNotice,
  loadDismissed,
  noticeKey,
  saveDismissed,
  shouldShowHotkeyNotice,
  type StorageLike,
} from '../../../renderer/lib/settings/hotkey-notice.js';

const status = (state: CaptureStatus['state'], accelerator = 'Control+Alt+Shift+M'): CaptureStatus => ({
  accelerator,
  state,
  message: state === 'confirmed' ? undefined : 'Bind omnifusion-desktop --capture as a desktop shortcut.',
  command: 'omnifusion-desktop --capture',
});

function memoryStorage(initial: Record<string, string> = {}): StorageLike & { data: Record<string, string> } {
  const data = { ...initial };
  return { data, getItem: (k) => data[k] ?? null, setItem: (k, v) => void (data[k] = v) };
}

describe('hotkey notice visibility', () => {
  it('shows for unconfirmed and failed, not for confirmed, unavailable or no status', () => {
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed'), []), true);
    assert.equal(shouldShowHotkeyNotice(status('failed'), []), true);
    assert.equal(shouldShowHotkeyNotice(status('confirmed'), []), false);
    assert.equal(shouldShowHotkeyNotice(status('unavailable'), []), false);
    assert.equal(shouldShowHotkeyNotice(null, []), false);
    assert.equal(shouldShowHotkeyNotice(undefined, new Set()), false);
  });

  it('a dismissal hides that problem only', () => {
    const dismissed = dismissNotice([], status('unconfirmed'));
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed'), dismissed), false);
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed'), new Set(dismissed)), false);
    // The same accelerator written differently is the same problem.
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed', 'control + alt + shift + m'), dismissed), false);
    // A new problem: the hotkey now fails, or another hotkey is unconfirmed.
    assert.equal(shouldShowHotkeyNotice(status('failed'), dismissed), true);
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed', 'Control+Shift+Y'), dismissed), true);
  });

  it('comes back after the problem went away and returned as a different one', () => {
    let dismissed = dismissNotice([], status('failed'));
    assert.equal(shouldShowHotkeyNotice(status('confirmed'), dismissed), false);
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed'), dismissed), true);
    dismissed = dismissNotice(dismissed, status('unconfirmed'));
    assert.equal(shouldShowHotkeyNotice(status('failed'), dismissed), false);
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed'), dismissed), false);
  });

  it('dismissals are kept once, most recent last, bounded', () => {
    let dismissed: string[] = [];
    dismissed = dismissNotice(dismissed, status('failed'));
    dismissed = dismissNotice(dismissed, status('failed'));
    assert.deepEqual(dismissed, [noticeKey(status('failed'))]);
    for (let i = 0; i < 80; i++) dismissed = dismissNotice(dismissed, status('failed', `Control+F${(i % 24) + 1}+${i}`));
    assert.ok(dismissed.length <= 50);
    assert.equal(dismissed.at(-1), noticeKey(status('failed', 'Control+F8+79')));
  });

  it('survives a reload through storage; bad storage means nothing dismissed', () => {
    const storage = memoryStorage();
    saveDismissed(storage, dismissNotice(loadDismissed(storage), status('unconfirmed')));
    assert.equal(shouldShowHotkeyNotice(status('unconfirmed'), loadDismissed(storage)), false);
    assert.deepEqual(loadDismissed(memoryStorage({ [DISMISSED_STORAGE_KEY]: 'not json' })), []);
    assert.deepEqual(loadDismissed(memoryStorage({ [DISMISSED_STORAGE_KEY]: '{"a":1}' })), []);
    assert.deepEqual(loadDismissed(memoryStorage({ [DISMISSED_STORAGE_KEY]: '["x|failed", 3]' })), ['x|failed']);
    assert.deepEqual(loadDismissed(undefined), []);
    const throwing: StorageLike = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    assert.deepEqual(loadDismissed(throwing), []);
    assert.doesNotThrow(() => saveDismissed(throwing, ['a']));
  });
});
