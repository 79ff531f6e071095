/**
 * Page text OCR (PaddleOCR PP-OCRv4 detection + recognition on onnxruntime-node): see engine.ts.
 */
export { recognizePageText, sharedTextOcrEngine, TextOcrEngine, TextOcrCancelledError, DROP_SCORE } from './engine.js';
export type { PageText, PageTextBlock, PageTextLine, PageTextOptions, PageTextTimings, RecognizePageTextOptions, SmallTextPass } from './engine.js';
export type { SmallTextOptions } from './small-text.js';
export { TextOcrModelError, textOcrModelDir, TEXT_OCR_MODEL_ENV } from './models.js';
export type { Quad, Point } from './geometry.js';
export type { Rotation } from './orientation.js';
