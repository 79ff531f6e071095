/** Image input: decoding, guards and user-facing errors. */
export { checkImageFile, decodeImage, readImageFile, DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS } from './decode.js';
export type { DecodedImage, DecodeOptions, ImageSourceInfo } from './decode.js';
export { ImageInputError, isImageInputError } from './errors.js';
export type { ImageInputErrorCode } from './errors.js';
