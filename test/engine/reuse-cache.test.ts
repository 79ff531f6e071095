/**
 * The reuse cache (main/engine/stages/reuse-cache.ts) changes nothing but the work done: for every
 * family's tiny fixture, a pipeline that keeps KV caches and image features between requests gives
 * exactly the tokens of one that computes every request from scratch, over multi-turn follow-ups,
 * regenerate (sampling with a seed), edit (a different last question), beam search, a budget so
 * small that entries are evicted, and a fresh pipeline (an engine restart) mid-conversation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import type { ChatTurn, GenerateRequest, GenerateResult } from '../../main/engine/protocol.js';
import type { GenerationConfig } from '../../main/engine/generation/index.js';
import { CHAT_FIXTURES } from '../fixtures/family-cases.js';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

const FAMILIES = [
  { family: 'omnifusion', dir: TINY_MODEL_DIR },
  { family: 'idefics3', dir: CHAT_FIXTURES.idefics3.modelDir },
  { family: 'llava', dir: CHAT_FIXTURES.llava.modelDir },
];
const IMAGE = { path: path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg') };
const GREEDY: Partial<GenerationConfig> = { max_new_tokens: 8, do_sample: false, num_beams: 1, bad_words_ids: [], no_repeat_ngram_size: 0 };
const QUESTIONS = ['What is the total?', 'And the tax?', 'Who is the seller?', 'List the items.'];

for (const { family, dir } of FAMILIES) {
  describe(`reuse cache: ${family}`, () => {
    let fresh: VlmPipeline;
    let cached: VlmPipeline;
    before(async () => {
      fresh = await VlmPipeline.load(dir, { reuseCacheBytes: 0 });
      cached = await VlmPipeline.load(dir);
    });
    after(async () => {
      await fresh.dispose();
      await cached.dispose();
    });

    /** Ask `request` of both pipelines: the same tokens, and the cached one's result. */
    const both = async (request: GenerateRequest): Promise<{ cached: GenerateResult; fresh: GenerateResult }> => {
      const a = await fresh.generate(request);
      const b = await cached.generate(request);
      assert.deepEqual(b.token_ids, a.token_ids, `${request.question}: tokens with the cache differ from scratch`);
      assert.equal(b.prompt_length, a.prompt_length);
      assert.equal(a.reused_prompt_tokens, 0);
      return { cached: b, fresh: a };
    };

    test('follow-ups prefill only their new positions and give the tokens of a run from scratch', async () => {
      const history: ChatTurn[] = [];
      for (const [turn, question] of QUESTIONS.entries()) {
        const { cached: r } = await both({ images: [IMAGE], question, history: [...history], generation: GREEDY });
        if (turn === 0) assert.equal(r.reused_prompt_tokens, 0);
        // Everything up to the previous question's answer was computed already.
        else assert.ok(r.reused_prompt_tokens > r.prompt_length / 2, `turn ${turn + 1}: ${r.reused_prompt_tokens} of ${r.prompt_length} positions reused`);
        history.push({ question, answer: r.answer });
      }
      assert.ok(cached.reuseStats().featureHits >= QUESTIONS.length - 1, 'the image was encoded once');
    });

    test('regenerate (seeded sampling) and edit (another last question) reuse the shared prefix', async () => {
      const history: ChatTurn[] = [{ question: QUESTIONS[0]!, answer: 'The total is 45.' }];
      const base = { images: [IMAGE], history, generation: GREEDY };
      const first = await both({ ...base, question: QUESTIONS[1]! });
      const again = await both({ ...base, question: QUESTIONS[1]!, generation: { ...GREEDY, do_sample: true, temperature: 0.8, top_p: 0.9, seed: 7 } });
      assert.equal(again.cached.reused_prompt_tokens, first.cached.prompt_length - 1, 'regenerate runs only the last prompt position');
      const edited = await both({ ...base, question: 'What was bought?' });
      assert.ok(edited.cached.reused_prompt_tokens > 0 && edited.cached.reused_prompt_tokens < edited.cached.prompt_length - 1);
    });

    test('beam search gives the same tokens with the cache', async () => {
      const history: ChatTurn[] = [{ question: QUESTIONS[0]!, answer: 'It is 45.' }];
      const beams = { ...GREEDY, num_beams: 3, early_stopping: true };
      await both({ images: [IMAGE], question: QUESTIONS[1]!, history, generation: beams });
      const { cached: r } = await both({ images: [IMAGE], question: QUESTIONS[2]!, history: [...history, { question: QUESTIONS[1]!, answer: 'None.' }], generation: beams });
      assert.ok(r.reused_prompt_tokens > 0, 'the prompt kept after beam search is reused');
    });

    test('under a budget that holds about one entry, eviction still gives the same tokens', async () => {
      // The size of one first-turn entry, measured; the KV part of the budget gets 3/4 of it.
      cached.clearReuseCache();
      await cached.generate({ images: [IMAGE], question: QUESTIONS[0]!, generation: GREEDY });
      const budget = Math.ceil((cached.reuseStats().kvBytes * 4) / 3 * 1.2);
      const tiny = await VlmPipeline.load(dir, { reuseCacheBytes: budget });
      try {
        // Two conversations taking turns: each one's entry pushes the other's out.
        const histories: ChatTurn[][] = [[], []];
        for (const question of QUESTIONS.slice(0, 3)) {
          for (const [c, history] of histories.entries()) {
            const request = { images: [IMAGE], question: c ? `${question} Answer briefly.` : question, history: [...history], generation: GREEDY };
            const a = await fresh.generate(request);
            const b = await tiny.generate(request);
            assert.deepEqual(b.token_ids, a.token_ids);
            history.push({ question: request.question, answer: a.answer });
          }
        }
        const stats = tiny.reuseStats();
        assert.ok(stats.kvBytes + stats.featureBytes <= budget, `held ${stats.kvBytes + stats.featureBytes} of ${budget} bytes`);
        assert.ok(stats.evictions > 0, 'entries were evicted');
        console.log(`# ${family}, ${budget}-byte budget: ${JSON.stringify(stats)}`);
      } finally {
        await tiny.dispose();
      }
    });

    test('a fresh pipeline mid-conversation (an engine restart) answers as before', async () => {
      const history: ChatTurn[] = [{ question: QUESTIONS[0]!, answer: 'The total is 45.' }];
      const request = { images: [IMAGE], question: QUESTIONS[1]!, history, generation: GREEDY };
      const before = await cached.generate(request);
      const restarted = await VlmPipeline.load(dir);
      try {
        const r = await restarted.generate(request);
        assert.equal(r.reused_prompt_tokens, 0);
        assert.deepEqual(r.token_ids, before.token_ids);
        const next = await restarted.generate({ ...request, question: QUESTIONS[2]!, history: [...history, { question: QUESTIONS[1]!, answer: r.answer }] });
        assert.ok(next.reused_prompt_tokens > 0, 'the cache is rebuilt after the restart');
      } finally {
        await restarted.dispose();
      }
    });
  });
}
