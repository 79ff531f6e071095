/**
 * Conversations longer than the context and chat-ready decoding (issue 13): the earliest turns
 * are left out until the prompt fits (counted in the result, the reuse cache consistent with it);
 * chat defaults let the model write newlines and repeat itself, the package's reference defaults
 * keep OmniFusion's bans and forced EOS; one warning when a prompt passes OmniFusion's 2048
 * fine-tuning positions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { buildLogitsProcessor, presetDefaults, resolveGenerationConfig } from '../../main/engine/generation/index.js';
import type { ChatTurn } from '../../main/engine/protocol.js';
import { CHAT_FIXTURES } from '../fixtures/family-cases.js';
import { TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

/** Whether some 4 consecutive ids occur twice. */
function repeats4gram(ids: readonly number[]): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + 4 <= ids.length; i++) {
    const key = ids.slice(i, i + 4).join(',');
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

describe('a conversation twice as long as the context', () => {
  for (const [family, dir] of [['omnifusion', TINY_MODEL_DIR], ['llava', CHAT_FIXTURES.llava.modelDir]] as const) {
    test(`${family}: answers with the earliest turns left out, counted; the cache stays consistent`, async () => {
      const context = 256;
      const fresh = await VlmPipeline.load(dir, { contextLength: context, reuseCacheBytes: 0 });
      const cached = await VlmPipeline.load(dir, { contextLength: context });
      try {
        const history: ChatTurn[] = [];
        const turnText = 'Tell me more about the numbers on the receipt and what they mean for the total.';
        // Turns of ~40 tokens each until the history alone is twice the context.
        while (fresh.tokenizer.encode(history.map((t) => `${t.question} ${t.answer}`).join(' ')).length < 2 * context) {
          history.push({ question: turnText, answer: 'The numbers add up to the total, with the tax and the service charge included.' });
        }
        const generation = { max_new_tokens: 24 };
        for (const question of ['What is the total?', 'And the tax?']) {
          const a = await fresh.generate({ images: [], question, history, defaults: 'chat', generation });
          const b = await cached.generate({ images: [], question, history, defaults: 'chat', generation });
          assert.ok(a.dropped_turns && a.dropped_turns > 0 && a.dropped_turns < history.length, `dropped ${a.dropped_turns} of ${history.length}`);
          assert.equal(b.dropped_turns, a.dropped_turns);
          assert.ok(a.prompt_length + generation.max_new_tokens <= context, `prompt ${a.prompt_length} leaves room for the answer`);
          assert.ok(a.token_ids.length > 0);
          assert.deepEqual(b.token_ids, a.token_ids, 'the same tokens with the reuse cache');
          history.push({ question, answer: a.answer });
        }
      } finally {
        await fresh.dispose();
        await cached.dispose();
      }
    });
  }
});

describe('chat defaults and reference defaults', () => {
  let pipeline: VlmPipeline;
  before(async () => {
    pipeline = await VlmPipeline.load(TINY_MODEL_DIR);
  });
  after(async () => {
    await pipeline.dispose();
  });

  test("chat defaults are greedy, ban nothing and force no EOS; the package's keep OmniFusion's reference settings", () => {
    const model = resolveGenerationConfig(presetDefaults('model', pipeline.generationDefaults));
    const chat = resolveGenerationConfig(presetDefaults('chat', pipeline.generationDefaults));
    assert.deepEqual([model.num_beams, model.max_new_tokens, model.no_repeat_ngram_size, model.forced_eos_token_id], [3, 50, 4, 2]);
    assert.deepEqual([chat.num_beams, chat.do_sample, chat.no_repeat_ngram_size, chat.forced_eos_token_id, chat.bad_words_ids], [1, false, 0, undefined, []]);
    assert.ok(chat.max_new_tokens >= 512);
    // A row of logits whose best token is the newline (<0x0A>, id 13): chat keeps it, the reference bans it.
    const row = (): Float32Array => {
      const logits = new Float32Array(pipeline.manifest.text_config.vocab_size);
      logits[13] = 5;
      logits[100] = 1;
      return logits;
    };
    const argmax = (l: Float32Array): number => l.indexOf(Math.max(...l));
    const chatRow = row();
    buildLogitsProcessor(chat)([1, 2, 3], chatRow);
    const modelRow = row();
    buildLogitsProcessor(model)([1, 2, 3], modelRow);
    assert.equal(argmax(chatRow), 13);
    assert.equal(modelRow[13], -Infinity);
  });

  test('with chat defaults the tiny model repeats 4-grams; with the reference defaults it never does', async () => {
    let chatRepeats = 0;
    for (const question of ['Make a table.', 'Write a matrix of zeros.', 'Write a list.']) {
      const chat = await pipeline.generate({ images: [], question, defaults: 'chat', generation: { max_new_tokens: 64 } });
      const reference = await pipeline.generate({ images: [], question, defaults: 'model', generation: { max_new_tokens: 64, num_beams: 1 } });
      if (repeats4gram(chat.token_ids)) chatRepeats += 1;
      assert.ok(!repeats4gram(reference.token_ids), `${question}: the reference defaults ban repeated 4-grams`);
    }
    assert.ok(chatRepeats > 0, 'some chat answer repeats a 4-gram');
  });

  test('reference defaults: the max_new_tokens-th token is the forced EOS', async () => {
    const r = await pipeline.generate({ images: [], question: 'Describe this.', defaults: 'model', generation: { max_new_tokens: 6, num_beams: 1 } });
    assert.equal(r.token_ids.length, 6);
    assert.equal(r.token_ids.at(-1), 2);
    const chat = await pipeline.generate({ images: [], question: 'Describe this.', defaults: 'chat', generation: { max_new_tokens: 6 } });
    assert.notEqual(chat.token_ids.at(-1), 2, 'no forced EOS in chat');
  });

  test('a prompt past 2048 positions warns once', async () => {
    const question = 'numbers '.repeat(2200);
    const first = await pipeline.generate({ images: [], question, defaults: 'chat', generation: { max_new_tokens: 1 } });
    assert.ok(first.prompt_length > 2048);
    assert.match(first.warning ?? '', /more than the 2048 OmniFusion was fine-tuned at/);
    const second = await pipeline.generate({ images: [], question, defaults: 'chat', generation: { max_new_tokens: 1 } });
    assert.equal(second.warning, undefined);
  });
});
