// The settings dialog's shortcut recorder: KeyboardEvent fields → Electron accelerator strings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceleratorFromKeyEvent,
  acceleratorKeys,
  keyName,
  keyPlatform,
  modifiersOf,
  tidyAccelerator,
  type KeyLike,
  type KeyPlatform,
} from '../../../renderer/lib/settings/accelerator.js';
import { isAcceleratorLike, normalizeAccelerator } from '../../../main/api/capture.js';

function ev(key: string, code: string, mods: Partial<Pick<KeyLike, 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>> = {}): KeyLike {
  return { key, code, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods };
}

function accel(e: KeyLike, platform: KeyPlatform = 'other'): string {
  const r = acceleratorFromKeyEvent(e, platform);
  assert.equal(r.kind, 'accelerator', JSON.stringify(r));
  return (r as { accelerator: string }).accelerator;
}

const ALL = { ctrlKey: true, metaKey: true, altKey: true, shiftKey: true };

describe('modifiers', () => {
  it('orders Control, Alt, Shift, Super on Windows/Linux', () => {
    assert.deepEqual(modifiersOf(ALL, 'other'), ['Control', 'Alt', 'Shift', 'Super']);
    assert.equal(accel(ev('Y', 'KeyY', { shiftKey: true, ctrlKey: true })), 'Control+Shift+Y');
    assert.equal(accel(ev('s', 'KeyS', { metaKey: true, shiftKey: true })), 'Shift+Super+S');
  });

  it('orders Control, Command, Alt, Shift on macOS (⌘ is Command)', () => {
    assert.deepEqual(modifiersOf(ALL, 'mac'), ['Control', 'Command', 'Alt', 'Shift']);
    assert.equal(accel(ev('m', 'KeyM', { metaKey: true, altKey: true, shiftKey: true }), 'mac'), 'Command+Alt+Shift+M');
    assert.equal(accel(ev('4', 'Digit4', { metaKey: true, ctrlKey: true }), 'mac'), 'Control+Command+4');
  });

  it('does not accept a lone modifier: reports what is held so far', () => {
    assert.deepEqual(acceleratorFromKeyEvent(ev('Control', 'ControlLeft', { ctrlKey: true }), 'other'), { kind: 'partial', modifiers: ['Control'] });
    assert.deepEqual(acceleratorFromKeyEvent(ev('Shift', 'ShiftRight', { ctrlKey: true, shiftKey: true }), 'other'), { kind: 'partial', modifiers: ['Control', 'Shift'] });
    assert.deepEqual(acceleratorFromKeyEvent(ev('Meta', 'MetaLeft', { metaKey: true }), 'mac'), { kind: 'partial', modifiers: ['Command'] });
    for (const key of ['Alt', 'AltGraph', 'OS', 'Super', 'Hyper']) assert.equal(acceleratorFromKeyEvent(ev(key, ''), 'other').kind, 'partial', key);
  });

  it('refuses a plain key without modifiers, but takes F1–F24 alone (as the API does)', () => {
    const r = acceleratorFromKeyEvent(ev('a', 'KeyA'), 'other');
    assert.equal(r.kind, 'invalid');
    assert.match((r as { reason: string }).reason, /modifier/);
    assert.equal(acceleratorFromKeyEvent(ev('Enter', 'Enter'), 'other').kind, 'invalid');
    assert.equal(acceleratorFromKeyEvent(ev('PrintScreen', 'PrintScreen'), 'other').kind, 'invalid');
    assert.equal(accel(ev('F9', 'F9')), 'F9');
    assert.equal(accel(ev('F24', 'F24')), 'F24');
    assert.equal(accel(ev('PrintScreen', 'PrintScreen', { shiftKey: true })), 'Shift+PrintScreen');
    for (const a of ['F9', 'F24', 'Shift+PrintScreen']) assert.ok(isAcceleratorLike(a), a);
    assert.equal(isAcceleratorLike('PrintScreen'), false);
  });
});

describe('key names as Electron expects them', () => {
  it('letters A–Z upper-case, by character, else by physical key', () => {
    for (const ch of 'abcdefghijklmnopqrstuvwxyz') {
      assert.equal(keyName({ key: ch, code: `Key${ch.toUpperCase()}` }), ch.toUpperCase());
      assert.equal(keyName({ key: ch.toUpperCase(), code: `Key${ch.toUpperCase()}` }), ch.toUpperCase());
    }
    // ⌥Y types ¥ on a Mac: the physical key names it.
    assert.equal(accel(ev('¥', 'KeyY', { metaKey: true, altKey: true }), 'mac'), 'Command+Alt+Y');
    // AZERTY: the key labelled A sits where QWERTY has Q; the character wins.
    assert.equal(accel(ev('a', 'KeyQ', { ctrlKey: true, shiftKey: true })), 'Control+Shift+A');
    // Cyrillic layout: no Latin character, the physical key names it.
    assert.equal(accel(ev('н', 'KeyY', { ctrlKey: true })), 'Control+Y');
  });

  it('digits 0–9 by physical key (Shift+1 types "!")', () => {
    for (let d = 0; d <= 9; d++) assert.equal(keyName({ key: String(d), code: `Digit${d}` }), String(d));
    assert.equal(accel(ev('!', 'Digit1', { ctrlKey: true, shiftKey: true })), 'Control+Shift+1');
    // AZERTY's top row types & without Shift; the physical key still says 1.
    assert.equal(accel(ev('&', 'Digit1', { ctrlKey: true })), 'Control+1');
  });

  it('F1–F24', () => {
    for (let n = 1; n <= 24; n++) assert.equal(keyName({ key: `F${n}`, code: `F${n}` }), `F${n}`);
    assert.equal(accel(ev('F5', 'F5', { altKey: true })), 'Alt+F5');
    assert.equal(keyName({ key: 'F25', code: 'F25' }), undefined);
  });

  it('named keys: Space, arrows, Enter, Escape, editing and navigation keys', () => {
    const cases: [string, string, string][] = [
      [' ', 'Space', 'Space'],
      ['ArrowUp', 'ArrowUp', 'Up'],
      ['ArrowDown', 'ArrowDown', 'Down'],
      ['ArrowLeft', 'ArrowLeft', 'Left'],
      ['ArrowRight', 'ArrowRight', 'Right'],
      ['Enter', 'Enter', 'Enter'],
      ['Enter', 'NumpadEnter', 'Enter'],
      ['Escape', 'Escape', 'Escape'],
      ['Tab', 'Tab', 'Tab'],
      ['Backspace', 'Backspace', 'Backspace'],
      ['Delete', 'Delete', 'Delete'],
      ['Insert', 'Insert', 'Insert'],
      ['Home', 'Home', 'Home'],
      ['End', 'End', 'End'],
      ['PageUp', 'PageUp', 'PageUp'],
      ['PageDown', 'PageDown', 'PageDown'],
      ['PrintScreen', 'PrintScreen', 'PrintScreen'],
      ['CapsLock', 'CapsLock', 'Capslock'],
      ['AudioVolumeUp', 'AudioVolumeUp', 'VolumeUp'],
      ['MediaPlayPause', 'MediaPlayPause', 'MediaPlayPause'],
      ['MediaTrackNext', 'MediaTrackNext', 'MediaNextTrack'],
    ];
    for (const [key, code, name] of cases) assert.equal(keyName({ key, code }), name, `${key}/${code}`);
    assert.equal(accel(ev(' ', 'Space', { ctrlKey: true, altKey: true })), 'Control+Alt+Space');
    assert.equal(accel(ev('ArrowUp', 'ArrowUp', { ctrlKey: true, shiftKey: true })), 'Control+Shift+Up');
  });

  it('punctuation: the unshifted character, and Plus for +', () => {
    assert.equal(accel(ev('+', 'Equal', { ctrlKey: true, shiftKey: true })), 'Control+Shift+Plus');
    assert.equal(accel(ev('=', 'Equal', { ctrlKey: true })), 'Control+=');
    assert.equal(accel(ev('_', 'Minus', { ctrlKey: true, shiftKey: true })), 'Control+Shift+-');
    assert.equal(accel(ev(':', 'Semicolon', { ctrlKey: true, shiftKey: true })), 'Control+Shift+;');
    assert.equal(accel(ev('/', 'Slash', { ctrlKey: true })), 'Control+/');
    assert.equal(accel(ev('`', 'Backquote', { altKey: true })), 'Alt+`');
    assert.equal(accel(ev('[', 'BracketLeft', { ctrlKey: true })), 'Control+[');
    // German layout: + has a key of its own.
    assert.equal(accel(ev('+', 'BracketRight', { ctrlKey: true })), 'Control+Plus');
  });

  it('numpad keys are num0–num9 and numadd/numsub/nummult/numdiv/numdec', () => {
    assert.equal(keyName({ key: '7', code: 'Numpad7' }), 'num7');
    assert.equal(keyName({ key: '+', code: 'NumpadAdd' }), 'numadd');
    assert.equal(keyName({ key: '-', code: 'NumpadSubtract' }), 'numsub');
    assert.equal(keyName({ key: '*', code: 'NumpadMultiply' }), 'nummult');
    assert.equal(keyName({ key: '/', code: 'NumpadDivide' }), 'numdiv');
    assert.equal(keyName({ key: '.', code: 'NumpadDecimal' }), 'numdec');
    // NumLock off: Numpad4 is an arrow.
    assert.equal(keyName({ key: 'ArrowLeft', code: 'Numpad4' }), 'Left');
  });

  it('refuses keys with no accelerator name', () => {
    const r = acceleratorFromKeyEvent(ev('Unidentified', '', { ctrlKey: true }), 'other');
    assert.equal(r.kind, 'invalid');
    assert.equal(acceleratorFromKeyEvent(ev('ContextMenu', 'ContextMenu', { ctrlKey: true }), 'other').kind, 'invalid');
  });

  it('every recorded shortcut is one the API accepts as modifiers plus one key', () => {
    const samples: [KeyLike, KeyPlatform][] = [
      [ev('Y', 'KeyY', { ctrlKey: true, shiftKey: true }), 'other'],
      [ev('+', 'Equal', { ctrlKey: true, shiftKey: true }), 'other'],
      [ev('ArrowUp', 'ArrowUp', ALL), 'other'],
      [ev('m', 'KeyM', ALL), 'mac'],
      [ev('F12', 'F12'), 'other'],
      [ev('-', 'Minus', { altKey: true }), 'other'],
    ];
    for (const [e, p] of samples) {
      const a = accel(e, p);
      assert.ok(isAcceleratorLike(a), a);
      assert.equal(normalizeAccelerator(a).split('+').length, a.split('+').length, a);
    }
  });
});

describe('text fallback and display', () => {
  it('tidies aliases and spacing', () => {
    assert.equal(tidyAccelerator(' ctrl + shift + y ', 'other'), 'Control+Shift+Y');
    assert.equal(tidyAccelerator('Cmd+Option+m', 'mac'), 'Command+Alt+M');
    assert.equal(tidyAccelerator('meta+shift+s', 'other'), 'Super+Shift+S');
    assert.equal(tidyAccelerator('prtsc', 'other'), 'PrintScreen');
    assert.equal(tidyAccelerator('Control+Alt+Shift+M', 'other'), 'Control+Alt+Shift+M');
  });

  it('shows keys, with glyphs on macOS', () => {
    assert.deepEqual(acceleratorKeys('Control+Alt+Shift+M', 'other'), ['Ctrl', 'Alt', 'Shift', 'M']);
    assert.deepEqual(acceleratorKeys('Command+Alt+Shift+M', 'mac'), ['⌘', '⌥', '⇧', 'M']);
  });

  it('detects the platform from navigator', () => {
    assert.equal(keyPlatform({ platform: 'MacIntel' }), 'mac');
    assert.equal(keyPlatform({ platform: 'Linux x86_64' }), 'other');
    assert.equal(keyPlatform({ platform: 'Win32' }), 'other');
    assert.equal(keyPlatform(undefined), 'other');
  });
});
