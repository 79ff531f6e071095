/** main/core/page-text.ts: stored layouts round-trip, failures stay failures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageTextLine } from '../../../main/api/contract.js';
import { failedLayout, imageTextFromStored, layoutOf, pendingImageText } from '../../../main/core/page-text.js';

const line = (text: string, confidence = 0.95): ImageTextLine => ({ text, confidence, box: [[0, 0], [10, 0], [10, 5], [0, 5]] });
const sha = 'a'.repeat(64);

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
