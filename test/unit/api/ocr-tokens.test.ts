/** main/api/ocr-tokens.ts: the document-like test and the Auto / On / Off rule for OCR tokens. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageText, ImageTextLine } from '../../../main/api/contract.js';
import { isDocumentLike, useOcrTokens } from '../../../main/api/ocr-tokens.js';

const line = (text: string, confidence = 0.95): ImageTextLine => ({ text, confidence, box: [[0, 0], [10, 0], [10, 5], [0, 5]] });

test('isDocumentLike: enough confident lines and characters; a sign or low-confidence noise is not a document', () => {
  const page = [{ lines: [line('This is a lot of 12 point text to test the'), line('ocr code and see if it works on all types'), line('of file format.')] }];
  assert.equal(isDocumentLike(page), true);
  assert.equal(isDocumentLike([{ lines: [line('EXIT'), line('STOP'), line('Main Street 12')] }]), false, 'three short labels');
  assert.equal(isDocumentLike([{ lines: page[0]!.lines.map((l) => ({ ...l, confidence: 0.5 })) }]), false, 'unsure reading');
  assert.equal(isDocumentLike([]), false);
});

test('useOcrTokens: off never; on with any text; auto only for a document-like image', () => {
  const doc: ImageText = { sha256: 'a'.repeat(64), status: 'done', text: 'page text', blocks: [], width: 0, height: 0, rotation: 0, documentLike: true };
  const sign: ImageText = { ...doc, documentLike: false, text: 'EXIT' };
  const blank: ImageText = { ...doc, documentLike: false, text: '  ' };
  assert.equal(useOcrTokens('off', [doc]), false);
  assert.equal(useOcrTokens('on', [sign]), true);
  assert.equal(useOcrTokens('on', [blank]), false);
  assert.equal(useOcrTokens('auto', [sign]), false);
  assert.equal(useOcrTokens('auto', [sign, doc]), true);
});
