import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOmniFusionPrompt, fillOcrTemplate, prepareOcrText, questionWithOcr } from '../../main/engine/models/omnifusion.js';
import type { OcrTextLayout, PromptLayout } from '../../main/engine/package/manifest.js';

/** OmniFusion 1.1's layout as the exporter writes it into the manifest. */
const layout: PromptLayout = {
  system: 'This is a dialog with AI assistant.\n',
  add_bos_token: false,
  image: ['SOI', '<image>', 'EOI'],
  turn: ['USER', '<question>', 'BOT'],
  answer_follows_bot: true,
};

/** A fake tokenizer that makes each piece recognisable: one id per character code. */
const encode = (text: string): number[] => [...text].map((ch) => ch.codePointAt(0)!);
const text = (s: string) => ({ kind: 'text' as const, ids: encode(s) });
const special = (name: string) => ({ kind: 'special' as const, name });

test('single image, single question: system, SOI image EOI, USER q BOT, no BOS', () => {
  const segments = buildOmniFusionPrompt(layout, encode, { numImages: 1, question: 'Hi?' }, 1);
  assert.deepEqual(segments, [text(layout.system), special('SOI'), { kind: 'image', index: 0 }, special('EOI'), special('USER'), text('Hi?'), special('BOT')]);
});

test('history appends answer after BOT, then USER q BOT; each image gets SOI/EOI', () => {
  const segments = buildOmniFusionPrompt(
    layout,
    encode,
    { numImages: 2, question: 'q2', history: [{ question: 'q1', answer: 'a1' }] },
    1,
  );
  assert.deepEqual(segments, [
    text(layout.system),
    special('SOI'),
    { kind: 'image', index: 0 },
    special('EOI'),
    special('SOI'),
    { kind: 'image', index: 1 },
    special('EOI'),
    special('USER'),
    text('q1'),
    special('BOT'),
    text('a1'),
    special('USER'),
    text('q2'),
    special('BOT'),
  ]);
});

test('a layout that asks for BOS gets it first; a text-only prompt has no image pieces', () => {
  const segments = buildOmniFusionPrompt({ ...layout, add_bos_token: true }, encode, { numImages: 0, question: 'q' }, 7);
  assert.deepEqual(segments.slice(0, 2), [{ kind: 'text', ids: [7] }, text(layout.system)]);
  assert.ok(!segments.some((s) => s.kind === 'image' || (s.kind === 'special' && s.name === 'SOI')));
});

// ---------------------------------------------------------------------------------------------
// OCR tokens: the recognised text goes exactly where the manifest's prompt.ocr_text names.
// ---------------------------------------------------------------------------------------------

/** OmniFusion's ocr_text as the exporter writes it (lmms-eval TextVQA with OCR tokens). */
const ofOcr: OcrTextLayout = { position: 'after_question', template: '\nReference OCR token: {text}', word_separator: ', ', max_tokens: 1024 };
const withOcr = (ocr: OcrTextLayout): PromptLayout => ({ ...layout, ocr_text: ocr });

/** A tokenizer where every whitespace-separated word is one token (to count the cap by hand). */
const wordEncode = (t: string): number[] => t.split(/\s+/).filter(Boolean).map((w) => w.length);

describe('OCR text in the prompt, per manifest position', () => {
  test('after_question (OmniFusion): inside the user turn, question + template encoded as one piece', () => {
    const segments = buildOmniFusionPrompt(withOcr(ofOcr), encode, { numImages: 1, question: 'Total?', ocrTexts: ['TOTAL, 45.00'] }, 1);
    assert.deepEqual(segments, [
      text(layout.system),
      special('SOI'),
      { kind: 'image', index: 0 },
      special('EOI'),
      special('USER'),
      text('Total?\nReference OCR token: TOTAL, 45.00'),
      special('BOT'),
    ]);
  });

  test('before_question: the template first, then the question, one piece', () => {
    const ocr: OcrTextLayout = { position: 'before_question', template: 'Text in the image:\n{text}\n', max_tokens: 100 };
    const segments = buildOmniFusionPrompt(withOcr(ocr), encode, { numImages: 1, question: 'Total?', ocrTexts: ['TOTAL 45.00'] }, 1);
    assert.deepEqual(segments.slice(4), [special('USER'), text('Text in the image:\nTOTAL 45.00\nTotal?'), special('BOT')]);
  });

  test("after_image: each image's own text right after its EOI; an image without text gets none", () => {
    const ocr: OcrTextLayout = { position: 'after_image', template: '[{text}]', max_tokens: 100 };
    const segments = buildOmniFusionPrompt(withOcr(ocr), encode, { numImages: 3, question: 'q', ocrTexts: ['one', null, 'three'] }, 1);
    assert.deepEqual(segments, [
      text(layout.system),
      special('SOI'),
      { kind: 'image', index: 0 },
      special('EOI'),
      text('[one]'),
      special('SOI'),
      { kind: 'image', index: 1 },
      special('EOI'),
      special('SOI'),
      { kind: 'image', index: 2 },
      special('EOI'),
      text('[three]'),
      special('USER'),
      text('q'),
      special('BOT'),
    ]);
  });

  test('question positions: several images joined with the word separator (else a blank line); only the current question gets it', () => {
    const segments = buildOmniFusionPrompt(
      withOcr(ofOcr),
      encode,
      { numImages: 2, question: 'q2', history: [{ question: 'q1', answer: 'a1' }], ocrTexts: ['a, b', 'c'] },
      1,
    );
    assert.deepEqual(segments.slice(-7), [special('USER'), text('q1'), special('BOT'), text('a1'), special('USER'), text('q2\nReference OCR token: a, b, c'), special('BOT')]);
    assert.equal(questionWithOcr({ ...ofOcr, word_separator: undefined } as unknown as OcrTextLayout, 'q', ['x', '', 'y']), 'q\nReference OCR token: x\n\ny');
  });

  test('no OCR text (or none recognised): the prompt is the one without OCR', () => {
    const plain = buildOmniFusionPrompt(layout, encode, { numImages: 1, question: 'Hi?' }, 1);
    assert.deepEqual(buildOmniFusionPrompt(withOcr(ofOcr), encode, { numImages: 1, question: 'Hi?' }, 1), plain);
    assert.deepEqual(buildOmniFusionPrompt(withOcr(ofOcr), encode, { numImages: 1, question: 'Hi?', ocrTexts: [null] }, 1), plain);
  });

  test('text with "$&" and "{text}" in it is inserted literally', () => {
    assert.equal(fillOcrTemplate(ofOcr, 'price $& {text}'), '\nReference OCR token: price $& {text}');
  });

  test('a layout without ocr_text cannot be given OCR text', () => {
    assert.throws(() => buildOmniFusionPrompt(layout, encode, { numImages: 1, question: 'q', ocrTexts: ['x'] }, 1), /without ocr_text/);
  });
});

describe('prepareOcrText: normalising and the token cap', () => {
  test('word_separator turns lines and blocks into the OCR-token list; blank text is none', () => {
    const out = prepareOcrText(ofOcr, ['TOTAL 45.00\nCASH  50.00\n\nThank you', '  \n', null], wordEncode);
    assert.deepEqual(out, { texts: ['TOTAL, 45.00, CASH, 50.00, Thank, you', null, null], tokens: 6, truncated: false });
  });

  test('without word_separator the lines are kept (CRLF → LF, trimmed)', () => {
    const out = prepareOcrText({ position: 'after_image', template: '{text}', max_tokens: 10 }, ['  line one\r\nline two\n\nblock two \n'], wordEncode);
    assert.deepEqual(out.texts, ['line one\nline two\n\nblock two']);
  });

  test('a long text is cut at a word boundary to max_tokens', () => {
    const ocr = { ...ofOcr, max_tokens: 4 };
    const out = prepareOcrText(ocr, ['w1 w2 w3 w4 w5 w6'], wordEncode);
    assert.deepEqual(out, { texts: ['w1, w2, w3, w4'], tokens: 4, truncated: true });
    const lines = prepareOcrText({ position: 'after_image', template: '{text}', max_tokens: 3 }, ['a b\nc d\ne'], wordEncode);
    assert.deepEqual(lines.texts, ['a b\nc'], 'the text keeps its own line breaks, no trailing whitespace');
  });

  test('the budget is shared fairly: short texts keep everything, long ones split the rest', () => {
    const words = (n: number, p: string): string => Array.from({ length: n }, (_, i) => `${p}${i}`).join(' ');
    const out = prepareOcrText({ ...ofOcr, max_tokens: 10 }, [words(20, 'a'), words(2, 'b'), words(20, 'c')], wordEncode);
    assert.deepEqual(out.texts.map((t) => t!.split(', ').length), [4, 2, 4]);
    assert.equal(out.tokens, 10);
    assert.equal(out.truncated, true);
  });

  test('one unspaced run longer than the cap is cut inside (CJK lines have no spaces)', () => {
    const perChar = (t: string): number[] => [...t].map((c) => c.codePointAt(0)!);
    const out = prepareOcrText({ position: 'after_question', template: '{text}', max_tokens: 3 }, ['中文文本识别'], perChar);
    assert.deepEqual(out, { texts: ['中文文'], tokens: 3, truncated: true });
  });
});
