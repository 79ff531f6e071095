/**
 * The "press the shortcut" recorder's logic: a KeyboardEvent → an Electron accelerator string
 * (https://www.electronjs.org/docs/latest/api/accelerator). Pure (no DOM access beyond the event's
 * fields), so it is unit-tested in Node (test/unit/renderer-settings/accelerator.test.ts).
 *
 * - Modifiers come from the event's flags, in a fixed order: Control, Command, Alt, Shift on macOS
 *   (⌘ is `Command` there), Control, Alt, Shift, Super elsewhere (the Windows/Super key).
 * - The key is named as Electron expects: A–Z, 0–9, F1–F24, Space, Tab, Enter, Escape, Backspace,
 *   Delete, Insert, Home, End, PageUp, PageDown, Up/Down/Left/Right, PrintScreen, num0–num9 and
 *   numadd/numsub/nummult/numdiv/numdec, media and volume keys, punctuation as the character of the
 *   unshifted key (`-`, `=`, `[`, `]`, `\`, `;`, `'`, `,`, `.`, `/`, `` ` ``) and `Plus` for `+`
 *   (the separator cannot be a key name).
 * - Letters and digits use the key's character when it is a plain one (so AZERTY's A is A) and the
 *   physical key (`event.code`) otherwise (⌥Y types ¥ on a Mac, Shift+1 types !).
 * - A lone modifier is not a shortcut ('partial': the UI shows what is held so far). A key with no
 *   modifier is refused ('invalid') except F1–F24, as the API service's isAcceleratorLike does
 *   (PrintScreen alone is the system's screenshot key; with a modifier it is recorded, and the
 *   service refuses the system ones such as Shift+PrintScreen).
 */

/** The fields of a KeyboardEvent the recorder reads. */
export interface KeyLike {
  key: string;
  code: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

/** 'mac' names ⌘ `Command`; 'other' (Windows, Linux) names the Windows/Super key `Super`. */
export type KeyPlatform = 'mac' | 'other';

export type RecordResult =
  /** A complete shortcut. */
  | { kind: 'accelerator'; accelerator: string }
  /** Only modifiers are held so far (e.g. ['Control', 'Shift']). */
  | { kind: 'partial'; modifiers: string[] }
  /** Not a usable shortcut; `reason` is one line for the user. */
  | { kind: 'invalid'; reason: string };

/** The platform the renderer runs on, from the browser's own report. */
export function keyPlatform(nav: { platform?: string; userAgent?: string } | undefined = globalThis.navigator): KeyPlatform {
  const p = `${nav?.platform ?? ''} ${nav?.userAgent ?? ''}`;
  return /Mac|iPhone|iPad|iPod/i.test(p) ? 'mac' : 'other';
}

const MODIFIER_KEYS = new Set(['Control', 'Shift', 'Alt', 'AltGraph', 'Meta', 'OS', 'Super', 'Hyper', 'Fn', 'FnLock']);

/** The modifiers held, in Electron's conventional order for the platform. */
export function modifiersOf(e: Pick<KeyLike, 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>, platform: KeyPlatform): string[] {
  const mods: string[] = [];
  if (e.ctrlKey) mods.push('Control');
  if (platform === 'mac' && e.metaKey) mods.push('Command');
  if (e.altKey) mods.push('Alt');
  if (e.shiftKey) mods.push('Shift');
  if (platform !== 'mac' && e.metaKey) mods.push('Super');
  return mods;
}

/** event.code of keys whose character depends on the layout and Shift: the unshifted US character. */
const PUNCTUATION_BY_CODE: Record<string, string> = {
  Minus: '-',
  Equal: '=',
  BracketLeft: '[',
  BracketRight: ']',
  Backslash: '\\',
  IntlBackslash: '\\',
  Semicolon: ';',
  Quote: "'",
  Comma: ',',
  Period: '.',
  Slash: '/',
  Backquote: '`',
};

/** Characters Electron accepts as key names (besides letters and digits). */
const PUNCTUATION_CHARS = new Set(['-', '=', '[', ']', '\\', ';', "'", ',', '.', '/', '`', ')', '!', '@', '#', '$', '%', '^', '&', '*', '(', ':', '<', '_', '>', '?', '~', '{', '|', '}', '"']);

/** event.key (or event.code) of named keys → Electron's name. */
const NAMED_KEYS: Record<string, string> = {
  ' ': 'Space',
  Spacebar: 'Space',
  Space: 'Space',
  Tab: 'Tab',
  Enter: 'Enter',
  NumpadEnter: 'Enter',
  Escape: 'Escape',
  Esc: 'Escape',
  Backspace: 'Backspace',
  Delete: 'Delete',
  Del: 'Delete',
  Insert: 'Insert',
  Home: 'Home',
  End: 'End',
  PageUp: 'PageUp',
  PageDown: 'PageDown',
  ArrowUp: 'Up',
  ArrowDown: 'Down',
  ArrowLeft: 'Left',
  ArrowRight: 'Right',
  Up: 'Up',
  Down: 'Down',
  Left: 'Left',
  Right: 'Right',
  PrintScreen: 'PrintScreen',
  CapsLock: 'Capslock',
  NumLock: 'Numlock',
  ScrollLock: 'Scrolllock',
  AudioVolumeUp: 'VolumeUp',
  AudioVolumeDown: 'VolumeDown',
  AudioVolumeMute: 'VolumeMute',
  VolumeUp: 'VolumeUp',
  VolumeDown: 'VolumeDown',
  VolumeMute: 'VolumeMute',
  MediaTrackNext: 'MediaNextTrack',
  MediaTrackPrevious: 'MediaPreviousTrack',
  MediaStop: 'MediaStop',
  MediaPlayPause: 'MediaPlayPause',
};

const NUMPAD: Record<string, string> = {
  NumpadAdd: 'numadd',
  NumpadSubtract: 'numsub',
  NumpadMultiply: 'nummult',
  NumpadDivide: 'numdiv',
  NumpadDecimal: 'numdec',
};

/** Keys that make a shortcut without a modifier (as isAcceleratorLike in main/api/capture.ts). */
function standsAlone(key: string): boolean {
  return /^F([1-9]|1\d|2[0-4])$/.test(key);
}

/** Electron's name of the pressed (non-modifier) key, or undefined when it has none. */
export function keyName(e: Pick<KeyLike, 'key' | 'code'>): string | undefined {
  const { key, code } = e;
  // Function keys: F1–F24 (by key, else by code).
  for (const candidate of [key, code]) {
    if (/^F([1-9]|1\d|2[0-4])$/.test(candidate)) return candidate;
  }
  // Numpad: digits and operators by position (NumLock off turns Numpad4 into ArrowLeft: key wins then).
  const numDigit = /^Numpad(\d)$/.exec(code);
  if (numDigit && /^\d$/.test(key)) return `num${numDigit[1]}`;
  if (NUMPAD[code]) return NUMPAD[code];
  // Named keys by key, then by code.
  if (NAMED_KEYS[key]) return NAMED_KEYS[key];
  if (NAMED_KEYS[code]) return NAMED_KEYS[code];
  // Letters: the character when it is a plain letter, else the physical key.
  if (/^[a-z]$/i.test(key)) return key.toUpperCase();
  const letter = /^Key([A-Z])$/.exec(code);
  if (letter) return letter[1];
  // Digits by physical key (Shift+1 types "!"), else a plain digit character.
  const digit = /^Digit(\d)$/.exec(code);
  if (digit) return digit[1];
  if (/^\d$/.test(key)) return key;
  // Punctuation.
  if (key === '+') return 'Plus';
  if (PUNCTUATION_BY_CODE[code]) return PUNCTUATION_BY_CODE[code];
  if (PUNCTUATION_CHARS.has(key)) return key;
  return undefined;
}

/** A KeyboardEvent (keydown) → an Electron accelerator, the modifiers held so far, or why not. */
export function acceleratorFromKeyEvent(e: KeyLike, platform: KeyPlatform): RecordResult {
  const modifiers = modifiersOf(e, platform);
  if (MODIFIER_KEYS.has(e.key)) return { kind: 'partial', modifiers };
  if (e.key === 'Unidentified' && !e.code) return { kind: 'invalid', reason: 'This key has no name a shortcut can use: press another one.' };
  const key = keyName(e);
  if (!key) return { kind: 'invalid', reason: `"${e.key || e.code}" cannot be part of a shortcut: press another key.` };
  if (modifiers.length === 0 && !standsAlone(key)) {
    return { kind: 'invalid', reason: 'Hold Control, Alt, Shift or another modifier with the key.' };
  }
  return { kind: 'accelerator', accelerator: [...modifiers, key].join('+') };
}

/**
 * Tidy a typed accelerator (the text fallback): spaces around the pluses removed, modifier aliases
 * spelled as Electron's canonical names (ctrl → Control, cmd → Command, option → Alt, win/meta →
 * Super on Windows/Linux), single letters upper-cased. Anything else is left for the server to judge.
 */
export function tidyAccelerator(text: string, platform: KeyPlatform): string {
  const aliases: Record<string, string> = {
    ctrl: 'Control',
    control: 'Control',
    cmd: 'Command',
    command: 'Command',
    cmdorctrl: 'CommandOrControl',
    commandorcontrol: 'CommandOrControl',
    alt: 'Alt',
    option: 'Alt',
    altgr: 'AltGr',
    shift: 'Shift',
    super: 'Super',
    win: 'Super',
    meta: platform === 'mac' ? 'Command' : 'Super',
    plus: 'Plus',
    space: 'Space',
    esc: 'Escape',
    escape: 'Escape',
    prtsc: 'PrintScreen',
    printscreen: 'PrintScreen',
  };
  return text
    .trim()
    .split(/\s*\+\s*/)
    .filter(Boolean)
    .map((part) => aliases[part.toLowerCase()] ?? (/^[a-z]$/.test(part) ? part.toUpperCase() : part))
    .join('+');
}

/** The accelerator as keys to show (kbd elements): Electron names, with ⌘/⌥ glyphs on macOS. */
export function acceleratorKeys(accelerator: string, platform: KeyPlatform): string[] {
  const mac: Record<string, string> = { Command: '⌘', Cmd: '⌘', Alt: '⌥', Option: '⌥', Control: '⌃', Ctrl: '⌃', Shift: '⇧' };
  return accelerator
    .split('+')
    .filter(Boolean)
    .map((part) => (platform === 'mac' ? (mac[part] ?? part) : part === 'Control' ? 'Ctrl' : part));
}
