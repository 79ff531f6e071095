import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOmniFusionPrompt } from '../../main/engine/models/omnifusion.js';
import type { PromptLayout } from '../../main/engine/package/manifest.js';

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
