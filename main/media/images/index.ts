/** Image input: decoding, guards, user-facing errors. Rule: core and engine may import main/media; main/media imports neither. */
export { checkImageFile, decodeImage, readImageFile, DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS } from './decode.js';
export type { DecodedImage, DecodeOptions, ImageSourceInfo } from './decode.js';
export { ImageInputError, isImageInputError } from './errors.js';
export type { ImageInputErrorCode } from './errors.js';
