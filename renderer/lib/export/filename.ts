// File names for exported conversations and their images.

/** Longest file-name stem {@link safeFileName} returns (extension not counted). */
export const MAX_STEM_LENGTH = 80;

/** Stem used when a title has nothing usable left. */
export const FALLBACK_STEM = 'conversation';

// Characters no common file system (or a shell) takes well in a name: path separators,
// Windows' reserved punctuation, and control characters (C0, DEL, C1).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/g;
// Bidirectional overrides and other invisible format characters that can disguise an extension.
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
// Names Windows reserves whatever the extension.
const RESERVED = /^(?:con|prn|aux|nul|com[1-9]|lpt[1-9])$/i;

/**
 * A file name for a conversation titled `title`, ending in `.ext`: path separators, control
 * and invisible characters and characters Windows refuses become spaces or go; runs of
 * whitespace collapse; leading and trailing dots and spaces go; the stem is cut to
 * {@link MAX_STEM_LENGTH} characters (at a code-point boundary); an empty or reserved result
 * becomes {@link FALLBACK_STEM}.
 *
 *   safeFileName('Integral of x/2: why?', 'md') === 'Integral of x 2 why.md'
 */
export function safeFileName(title: string, ext: string): string {
  let stem = (title ?? '')
    .normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(UNSAFE, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  stem = Array.from(stem).slice(0, MAX_STEM_LENGTH).join('');
  stem = stem.replace(/^[.\s]+|[.\s]+$/g, '');
  if (!stem || RESERVED.test(stem)) stem = FALLBACK_STEM;
  const suffix = ext.replace(/^\.+/, '').replace(/[^A-Za-z0-9]/g, '');
  return suffix ? `${stem}.${suffix}` : stem;
}

const EXTENSIONS: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/bmp': 'bmp',
  'image/avif': 'avif',
  'image/tiff': 'tif',
};

/** The parts of an attachment {@link imageFileName} reads. */
export interface NamedImage {
  sha256: string;
  mime: string;
  /** The name it was attached under; empty when the store does not know it. */
  name: string;
}

/**
 * The file name an exported image is referred to by: the name it was attached under, made
 * safe, or `image-<first 12 hex digits of its sha256>.<ext from its MIME type>` when it has
 * none.
 */
export function imageFileName(image: NamedImage): string {
  const ext = EXTENSIONS[image.mime.toLowerCase()] ?? 'img';
  const name = image.name?.trim();
  if (name) {
    const dot = name.lastIndexOf('.');
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const own = dot > 0 ? name.slice(dot + 1) : ext;
    const safe = safeFileName(stem, own);
    if (!safe.startsWith(`${FALLBACK_STEM}.`) || stem.trim().toLowerCase() === FALLBACK_STEM) return safe;
  }
  return `image-${image.sha256.slice(0, 12)}.${ext}`;
}
