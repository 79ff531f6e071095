/**
 * The rules behind the "Image text in prompt" control and its notes (renderer/lib/ocr-tokens.ts):
 * which images the next question is about, the effect of Auto / On / Off for them, the answer's
 * "used N OCR tokens" note, and where a search hit matched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageText } from '../../../main/api/contract.js';
import { latestImages, ocrTokensEffect, ocrTokensNote } from '../../../renderer/lib/ocr-tokens.js';

const att = (sha256: string) => ({ sha256, mime: 'image/png', bytes: 1, width: 1, height: 1, name: 'x.png', url: `/files/${sha256}` });

function text(sha256: string, status: ImageText['status'], body: string, documentLike: boolean): ImageText {
  return { sha256, status, text: body, blocks: [], width: 10, height: 10, rotation: 0, documentLike };
}

describe('latestImages', () => {
  test('the images of the latest user message that has any', () => {
    const messages = [
      { role: 'user' as const, attachments: [att('a'), att('b')] },
      { role: 'assistant' as const, attachments: [] },
      { role: 'user' as const, attachments: [] },
      { role: 'assistant' as const, attachments: [] },
    ];
    assert.deepEqual(latestImages(messages), ['a', 'b']);
    assert.deepEqual(latestImages([...messages, { role: 'user', attachments: [att('c')] }]), ['c']);
    assert.deepEqual(latestImages([]), []);
  });
});

describe('ocrTokensEffect', () => {
  const page = text('p', 'done', 'This is a lot of 12 point text', true);
  const photo = text('q', 'done', 'EXIT', false);
  const blank = text('r', 'done', '', false);
  const pending = text('s', 'pending', '', false);
  const texts = new Map([page, photo, blank, pending].map((t) => [t.sha256, t]));

  test('Off is off, whatever the images', () => {
    assert.equal(ocrTokensEffect('off', ['p'], texts).state, 'off');
    assert.equal(ocrTokensEffect('off', [], texts).state, 'off');
  });

  test('Auto: on for a document-like image, off for a photo, unknown while reading', () => {
    assert.equal(ocrTokensEffect('auto', ['p'], texts).state, 'on');
    assert.equal(ocrTokensEffect('auto', ['q', 'p'], texts).state, 'on');
    assert.equal(ocrTokensEffect('auto', ['q'], texts).state, 'off');
    assert.equal(ocrTokensEffect('auto', ['q', 's'], texts).state, 'unknown');
    assert.equal(ocrTokensEffect('auto', ['unasked'], texts).state, 'unknown');
    assert.equal(ocrTokensEffect('auto', [], texts).state, 'unknown');
    assert.match(ocrTokensEffect('auto', ['p'], texts).reason, /document/);
  });

  test('On: on when any image has text (or is still being read), off when none has', () => {
    assert.equal(ocrTokensEffect('on', ['q'], texts).state, 'on');
    assert.equal(ocrTokensEffect('on', ['s'], texts).state, 'on');
    assert.equal(ocrTokensEffect('on', ['r'], texts).state, 'off');
    assert.equal(ocrTokensEffect('on', [], texts).state, 'on');
  });

  test('a lookup function works as well as a map', () => {
    assert.equal(ocrTokensEffect('auto', ['p'], (sha) => texts.get(sha)).state, 'on');
  });
});

describe('ocrTokensNote', () => {
  test('only for answers that had OCR tokens', () => {
    assert.equal(ocrTokensNote(undefined), '');
    assert.equal(ocrTokensNote(0), '');
    assert.equal(ocrTokensNote(1), 'used 1 OCR token from the image');
    assert.equal(ocrTokensNote(57), 'used 57 OCR tokens from the image');
  });
});
