/** main/core/page-text.ts: stored layouts round-trip, failures stay failures, the document-like and OCR-token rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageText, ImageTextLine } from '../../../main/api/contract.js';
import { failedLayout, imageTextFromStored, isDocumentLike, layoutOf, pendingImageText, useOcrTokens } from '../../../main/core/page-text.js';

const line = (text: string, confidence = 0.95): ImageTextLine => ({ text, confidence, box: [[0, 0], [10, 0], [10, 5], [0, 5]] });
const sha = 'a'.repeat(64);

test('isDocumentLike: enough confident lines and characters; a sign or low-confidence noise is not a document', () => {
  const page = [{ lines: [line('This is a lot of 12 point text to test the'), line('ocr code and see if it works on all types'), line('of file format.')] }];
  assert.equal(isDocumentLike(page), true);
  assert.equal(isDocumentLike([{ lines: [line('EXIT'), line('STOP'), line('Main Street 12')] }]), false, 'three short labels');
  assert.equal(isDocumentLike([{ lines: page[0]!.lines.map((l) => ({ ...l, confidence: 0.5 })) }]), false, 'unsure reading');
  assert.equal(isDocumentLike([]), false);
});

test('a stored layout round-trips to ImageText; a failure is stored as failed with its one-line reason', () => {
  const blocks = [{ lines: [line('The quick brown dog jumped over the'), line('lazy fox. The quick brown dog jumped'), line('over the lazy fox.')] }];
  const stored = imageTextFromStored(sha, 'The quick…', layoutOf({ text: 'The quick…', blocks, width: 640, height: 480, rotation: 90 }));
  assert.deepEqual(stored, { sha256: sha, status: 'done', text: 'The quick…', blocks, width: 640, height: 480, rotation: 90, documentLike: true });
  const failed = imageTextFromStored(sha, '', failedLayout('the image could not be decoded\nstack…'));
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'the image could not be decoded');
  assert.equal(imageTextFromStored(sha, 'old text', null).status, 'done', 'text stored before layouts existed');
  assert.equal(imageTextFromStored(sha, 'x', '{not json').text, 'x');
  assert.equal(pendingImageText(sha).status, 'pending');
});

test('useOcrTokens: off never; on with any text; auto only for a document-like image', () => {
  const doc: ImageText = { ...pendingImageText(sha), status: 'done', text: 'page text', documentLike: true };
  const sign: ImageText = { ...doc, documentLike: false, text: 'EXIT' };
  const blank: ImageText = { ...doc, documentLike: false, text: '  ' };
  assert.equal(useOcrTokens('off', [doc]), false);
  assert.equal(useOcrTokens('on', [sign]), true);
  assert.equal(useOcrTokens('on', [blank]), false);
  assert.equal(useOcrTokens('auto', [sign]), false);
  assert.equal(useOcrTokens('auto', [sign, doc]), true);
});
