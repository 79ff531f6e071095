/** The character error rate used by `npm run bench:ocr`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fragmentCer, levenshtein, normalizeText, pageCer, proseFragments, substringDistance } from '../../../main/engine/text-ocr/metrics.js';

describe('CER', () => {
  test('normalisation: NFKC, whitespace runs to one space, case kept', () => {
    assert.equal(normalizeText('  Title：\n\n OCR\tfree  '), 'Title: OCR free');
    assert.equal(normalizeText('ABC'), 'ABC');
  });
  test('Levenshtein over code points', () => {
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(levenshtein('', 'abc'), 3);
    assert.equal(levenshtein('𝑥y', 'xy'), 1);
  });
  test('page CER counts line breaks as spaces', () => {
    assert.deepEqual(pageCer('The quick\nbrown fox', 'The quick brown fox'), { cer: 0, edits: 0, referenceChars: 19 });
    assert.equal(pageCer('The quick brown fax', 'The quick brown fox').edits, 1);
  });
  test('fragment CER matches each fragment to its best place in the page', () => {
    assert.equal(substringDistance('TOTAL 174,600', 'SUB TOTAL 194,000 TOTAL 174,500 CASH'), 1);
    const r = fragmentCer('noise ICE BLACKCDFFE 82,000 more noise CASH 200,000', ['ICE BLACKCOFFE 2 82,000', 'CASH 200,000']);
    assert.equal(r.edits, 3);
    assert.equal(r.referenceChars, 23 + 12);
  });
  test('prose fragments of a Markdown-with-math transcription: the text between the formulas', () => {
    assert.deepEqual(proseFragments('The potential $V_ i$ of cell $\\mathcal{C}_ i$, $x$ and: $$V = \\sum_j q_j,$$ where $a$ is small, $b$ no'), [
      'The potential',
      'of cell',
      'and:',
      'where',
      'is small,',
    ]);
  });
});
