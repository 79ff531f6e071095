/**
 * Errors for image inputs the user supplied (attachments, CLI paths, API uploads).
 *
 * These are user mistakes, not bugs: callers print `err.message` (one line that names
 * the file and the problem) and never a stack trace.
 */

/** Why an image input was refused. */
export type ImageInputErrorCode =
  | 'empty_file'
  | 'not_an_image'
  | 'truncated'
  | 'too_many_pixels'
  | 'too_large_file'
  | 'unsupported_format'
  | 'not_found'
  /** Decodes, but cannot hold a formula: too small, too thin, or blank (see media/images/formula.ts). */
  | 'degenerate';

/**
 * A refused image input. `message` is one line of the form `<name>: <problem>`,
 * e.g. `scan.png: 30000×30000 pixels exceeds the 100 MP limit`.
 */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
  /** Machine-readable reason, stable across releases. */
  readonly code: ImageInputErrorCode;
  /** The file name (basename) or caller-supplied name the message refers to. */
  readonly file: string;

  constructor(code: ImageInputErrorCode, file: string, problem: string, options?: { cause?: unknown }) {
    // One line, always: a decoder message may carry newlines, never let it through.
    super(`${file}: ${problem}`.replace(/\s*\n\s*/g, ' '), options);
    this.code = code;
    this.file = file;
  }
}

/** True when `err` is an ImageInputError (also across module copies, by shape). */
export function isImageInputError(err: unknown): err is ImageInputError {
  return err instanceof ImageInputError || (err instanceof Error && err.name === 'ImageInputError' && 'code' in err);
}
