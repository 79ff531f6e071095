/**
 * OCR tokens in the assembled prompt of the tiny OmniFusion package (its real tokenizer and
 * manifest): the recognised text is exactly where the manifest's prompt.ocr_text names, for each
 * position; the token cap holds; the prompt the decoder gets grows by exactly those tokens; a
 * package without prompt.ocr_text refuses OCR text; bad ocr_text fields fail manifest loading
 * with one line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BadRequestError, VlmPipeline } from '../../main/engine/pipeline.js';
import { loadManifest, ModelPackageError, type OcrTextLayout, type PromptLayout } from '../../main/engine/package/manifest.js';
import type { PromptSegment } from '../../main/engine/models/omnifusion.js';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

const receipt = { path: path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg') };
const OCR = 'TOTAL 45.500\nCASH 50.000\n\nTHANK YOU';
const greedy = { do_sample: false, num_beams: 1, max_new_tokens: 4 };

/** Segments as readable pieces: text segments as their ids, special ones by name, images by index. */
type Piece = number[] | string;
const pieces = (segments: PromptSegment[]): Piece[] =>
  segments.map((s) => (s.kind === 'text' ? s.ids : s.kind === 'special' ? s.name : `<image ${s.index}>`));

describe('OCR text in the assembled prompt (tiny OmniFusion, real tokenizer)', () => {
  let pipeline: VlmPipeline;
  let exported: PromptLayout;
  const enc = (t: string): number[] => pipeline.tokenizer.encode(t);
  const useLayout = (ocr: OcrTextLayout | undefined): void => {
    const prompt = { ...exported };
    if (ocr) prompt.ocr_text = ocr;
    else delete prompt.ocr_text;
    (pipeline.manifest as { prompt: PromptLayout }).prompt = prompt;
  };
  before(async () => {
    pipeline = await VlmPipeline.load(TINY_MODEL_DIR);
    exported = structuredClone((pipeline.manifest as { prompt: PromptLayout }).prompt);
  });
  after(async () => {
    await pipeline.dispose();
  });

  test('the exported manifest names the paper\'s place: after the question, "Reference OCR token: a, b, …"', () => {
    assert.deepEqual(exported.ocr_text, { position: 'after_question', template: '\nReference OCR token: {text}', word_separator: ', ', max_tokens: 1024 });
    assert.equal(pipeline.info.ocr_text_position, 'after_question');
  });

  test('after_question: the question piece is the question + OCR tokens encoded together, between USER and BOT', () => {
    useLayout(exported.ocr_text);
    const { segments, ocr } = pipeline.assemblePrompt({ question: 'What is the total?', ocr_text: [OCR] }, 1);
    assert.deepEqual(pieces(segments), [
      enc(exported.system),
      'SOI',
      '<image 0>',
      'EOI',
      'USER',
      enc('What is the total?\nReference OCR token: TOTAL, 45.500, CASH, 50.000, THANK, YOU'),
      'BOT',
    ]);
    assert.deepEqual(ocr, { position: 'after_question', tokens: enc('TOTAL, 45.500, CASH, 50.000, THANK, YOU').length, truncated: false });
  });

  test('before_question: the OCR text leads the question piece', () => {
    useLayout({ position: 'before_question', template: 'Text in the image: {text}\n', max_tokens: 64 });
    const { segments } = pipeline.assemblePrompt({ question: 'What is the total?', ocr_text: [OCR] }, 1);
    assert.deepEqual(pieces(segments).slice(4), ['USER', enc(`Text in the image: ${OCR}\nWhat is the total?`), 'BOT']);
  });

  test("after_image: each image's text follows its EOI, before the turn", () => {
    useLayout({ position: 'after_image', template: 'Text: {text}', max_tokens: 64 });
    const { segments } = pipeline.assemblePrompt({ question: 'Compare.', ocr_text: ['first page', null, 'third page'] }, 3);
    assert.deepEqual(pieces(segments), [
      enc(exported.system),
      'SOI',
      '<image 0>',
      'EOI',
      enc('Text: first page'),
      'SOI',
      '<image 1>',
      'EOI',
      'SOI',
      '<image 2>',
      'EOI',
      enc('Text: third page'),
      'USER',
      enc('Compare.'),
      'BOT',
    ]);
  });

  test('the cap: at most max_tokens tokens of OCR text, cut at a word', () => {
    useLayout({ ...exported.ocr_text!, max_tokens: 12 });
    const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const { segments, ocr } = pipeline.assemblePrompt({ question: 'q?', ocr_text: [long] }, 1);
    assert.equal(ocr?.truncated, true);
    assert.ok(ocr!.tokens <= 12 && ocr!.tokens > 0, `${ocr!.tokens} tokens`);
    const question = pipeline.tokenizer.decode((segments[5] as { ids: number[] }).ids);
    assert.match(question, /^q\?\nReference OCR token: word0, word1, (word\d+, )*word\d+$/);
  });

  test('generate: the decoder gets the prompt with the OCR tokens, and the result says how many', async () => {
    useLayout(exported.ocr_text);
    const plain = await pipeline.generate({ images: [receipt], question: 'What is the total?', generation: greedy });
    const withOcr = await pipeline.generate({ images: [receipt], question: 'What is the total?', ocr_text: [OCR], generation: greedy });
    assert.equal(plain.ocr, undefined);
    const added = enc('What is the total?\nReference OCR token: TOTAL, 45.500, CASH, 50.000, THANK, YOU').length - enc('What is the total?').length;
    assert.equal(withOcr.prompt_length, plain.prompt_length + added);
    assert.equal(withOcr.ocr?.position, 'after_question');
    const blank = await pipeline.generate({ images: [receipt], question: 'What is the total?', ocr_text: ['  '], generation: greedy });
    assert.deepEqual(blank.token_ids, plain.token_ids, 'blank OCR text changes nothing');
  });

  test('a package without prompt.ocr_text refuses OCR text with one line; bad ocr_text lists are bad requests', () => {
    useLayout(undefined);
    assert.throws(() => pipeline.assemblePrompt({ question: 'q', ocr_text: ['text'] }, 1), (err: Error) => {
      assert.ok(err instanceof BadRequestError);
      assert.match(err.message, /takes no OCR text: its manifest has no prompt\.ocr_text/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    assert.doesNotThrow(() => pipeline.assemblePrompt({ question: 'q', ocr_text: [null] }, 1));
    useLayout(exported.ocr_text);
    assert.throws(() => pipeline.assemblePrompt({ question: 'q', ocr_text: ['a', 'b'] }, 1), /2 entries for 1 image/);
    assert.throws(() => pipeline.assemblePrompt({ question: 'q', ocr_text: [3 as unknown as string] }, 1), /list of strings/);
  });
});

describe('manifest prompt.ocr_text validation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-ocr-manifest-'));
    await cp(TINY_MODEL_DIR, dir, { recursive: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string, unknown, RegExp][] = [
    ['unknown position', { position: 'in_the_middle', template: '{text}', max_tokens: 8 }, /prompt\.ocr_text\.position must be one of after_question, before_question, after_image, got "in_the_middle"/],
    ['template without {text}', { position: 'after_question', template: 'OCR:', max_tokens: 8 }, /prompt\.ocr_text\.template must be a string with "\{text\}" exactly once/],
    ['template with {text} twice', { position: 'after_question', template: '{text}{text}', max_tokens: 8 }, /exactly once/],
    ['zero max_tokens', { position: 'after_image', template: '{text}', max_tokens: 0 }, /prompt\.ocr_text\.max_tokens must be a whole number ≥ 1, got 0/],
    ['empty word_separator', { position: 'after_image', template: '{text}', max_tokens: 8, word_separator: '' }, /word_separator must be a non-empty string/],
    ['not an object', 'after_question', /prompt\.ocr_text must be an object/],
  ];
  for (const [name, ocr, pattern] of cases) {
    test(name, async () => {
      const file = path.join(dir, 'manifest.json');
      const manifest = JSON.parse(await readFile(path.join(TINY_MODEL_DIR, 'manifest.json'), 'utf8'));
      manifest.prompt.ocr_text = ocr;
      await writeFile(file, JSON.stringify(manifest));
      await assert.rejects(loadManifest(dir), (err: Error) => {
        assert.ok(err instanceof ModelPackageError);
        assert.match(err.message, pattern);
        assert.ok(err.message.startsWith(file), err.message);
        assert.ok(!err.message.includes('\n'), err.message);
        return true;
      });
    });
  }
});
