/** The composer's capture rules (renderer/lib/capture/question.ts) and the crop rectangle guard (crop.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PLACEHOLDER, escapeRemovesCapture, placeholderFor, questionToSend } from '../../../renderer/lib/capture/question.js';
import { cropRectProblem } from '../../../renderer/lib/capture/crop-rect.js';

describe('questionToSend', () => {
  test('typed text is sent as typed, with or without a capture', () => {
    assert.equal(questionToSend('What is x?', null), 'What is x?');
    assert.equal(questionToSend('What is x?', 'ocr'), 'What is x?');
  });

  test('an empty (or blank) box with a capture sends the mode default question', () => {
    assert.equal(questionToSend('', 'ask'), 'Describe this');
    assert.equal(questionToSend('  \n', 'ocr'), 'Convert to LaTeX');
  });

  test('an empty box without a capture sends nothing', () => {
    assert.equal(questionToSend('', null), null);
    assert.equal(questionToSend('   ', null), null);
  });
});

describe('escapeRemovesCapture', () => {
  test('only with a capture, an empty box and no answer streaming', () => {
    assert.equal(escapeRemovesCapture('', 'ask', false), true);
    assert.equal(escapeRemovesCapture(' ', 'ocr', false), true);
    assert.equal(escapeRemovesCapture('typed', 'ask', false), false);
    assert.equal(escapeRemovesCapture('', null, false), false);
    assert.equal(escapeRemovesCapture('', 'ask', true), false);
  });
});

test('placeholderFor shows the default question while a capture is attached', () => {
  assert.equal(placeholderFor('ask'), 'Describe this');
  assert.equal(placeholderFor('ocr'), 'Convert to LaTeX');
  assert.equal(placeholderFor(null), DEFAULT_PLACEHOLDER);
});

describe('cropRectProblem', () => {
  const size = { width: 1600, height: 1000 };

  test('a whole-pixel rectangle inside the image is fine, up to the far edges', () => {
    assert.equal(cropRectProblem({ x: 0, y: 0, width: 1600, height: 1000 }, size), null);
    assert.equal(cropRectProblem({ x: 100, y: 80, width: 400, height: 400 }, size), null);
  });

  test('fractions, empty rectangles and rectangles past an edge are refused', () => {
    assert.match(cropRectProblem({ x: 0.5, y: 0, width: 10, height: 10 }, size)!, /whole pixels/);
    assert.match(cropRectProblem({ x: 0, y: 0, width: 0, height: 10 }, size)!, /empty/);
    assert.match(cropRectProblem({ x: 1500, y: 0, width: 101, height: 10 }, size)!, /outside/);
    assert.match(cropRectProblem({ x: -1, y: 0, width: 10, height: 10 }, size)!, /outside/);
  });
});
