/**
 * Engine parity with the PyTorch reference of the tiny OmniFusion model: same pixel_values from
 * the engine's preprocessing, image_features within 1e-4, first-step logits within 1e-3, and
 * greedy token ids identical for every case (KV-cache decoding here vs full recompute in PyTorch).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { loadReference, maxAbsDiff, readF32 } from '../helpers/reference.js';

const reference = loadReference();

describe('tiny OmniFusion vs PyTorch reference', () => {
  let pipeline: VlmPipeline;
  before(async () => {
    pipeline = await VlmPipeline.load(TINY_MODEL_DIR);
  });
  after(async () => {
    await pipeline.dispose();
  });

  test('reference has at least 4 cases over at least 3 image categories, one multi-turn', () => {
    assert.ok(reference.cases.length >= 4);
    const categories = new Set(reference.cases.flatMap((c) => c.images.map((i) => i.split('/')[0])));
    assert.ok(categories.size >= 3, `categories: ${[...categories].join(', ')}`);
    assert.ok(reference.cases.some((c) => c.history.length > 0));
  });

  for (const c of reference.cases) {
    describe(c.name, () => {
      test('engine preprocessing reproduces the pixel_values the reference used', async () => {
        const { pixel_values, dims } = await pipeline.preprocess(c.images.map((p) => ({ path: path.join(REAL_DATA_DIR, p) })));
        assert.deepEqual(dims, c.pixel_values_shape);
        assert.equal(maxAbsDiff(pixel_values, readF32(c.pixel_values_file)), 0);
      });

      test('image_features within 1e-4 and first-step logits within 1e-3', { skip: !c.image_features_file }, async (t) => {
        const pixels = readF32(c.pixel_values_file);
        const features = await pipeline.encodeImages(pixels, c.pixel_values_shape);
        assert.deepEqual(features.dims, c.image_features_shape);
        const featureDiff = maxAbsDiff(features.data, readF32(c.image_features_file!));
        assert.ok(featureDiff <= 1e-4, `image_features max abs diff ${featureDiff}`);
        const segments = pipeline.buildPrompt(c, c.images.length);
        const embeds = await pipeline.embedPrompt(segments, features);
        assert.equal(embeds.length / pipeline.manifest.text_config.hidden_size, c.inputs_embeds_length);
        const logits = await pipeline.prefill(embeds);
        const logitDiff = maxAbsDiff(logits, readF32(c.first_step_logits_file!));
        assert.ok(logitDiff <= 1e-3, `first-step logits max abs diff ${logitDiff}`);
        t.diagnostic(`image_features max abs diff ${featureDiff.toExponential(2)}, first-step logits max abs diff ${logitDiff.toExponential(2)}`);
      });

      test(`${c.generation.num_beams > 1 ? `${c.generation.num_beams}-beam search` : 'greedy'} token ids equal the reference exactly`, async () => {
        const streamed: number[] = [];
        const result = await pipeline.generate(
          {
            images: c.images.map((p) => ({ path: path.join(REAL_DATA_DIR, p) })),
            question: c.question,
            history: c.history,
            generation: {
              do_sample: false,
              num_beams: c.generation.num_beams,
              length_penalty: c.generation.length_penalty,
              early_stopping: c.generation.early_stopping,
              eos_token_id: c.generation.eos_token_id,
              max_new_tokens: c.generation.max_new_tokens,
              repetition_penalty: c.generation.repetition_penalty,
              no_repeat_ngram_size: c.generation.no_repeat_ngram_size,
              bad_words_ids: c.generation.bad_words_ids,
              forced_eos_token_id: c.generation.forced_eos_token_id,
            },
          },
          { onToken: (id) => id >= 0 && streamed.push(id) },
        );
        assert.deepEqual(result.token_ids, c.expected_token_ids);
        if (c.generation.num_beams > 1) assert.equal(result.finish_reason, c.beam_early_stopped ? 'eos' : 'length');
        assert.deepEqual(streamed, c.expected_token_ids, 'every token is streamed once, in order');
        assert.equal(result.prompt_length, c.inputs_embeds_length);
      });
    });
  }
});

describe('chunked prefill (long prompts run through the KV cache in pieces)', () => {
  test('7-position chunks give the same first-step logits and tokens as one run', async () => {
    const chunked = await VlmPipeline.load(TINY_MODEL_DIR, { prefillChunk: 7 });
    try {
      const c = reference.cases.find((r) => r.first_step_logits_file)!;
      const features = await chunked.encodeImages(readF32(c.pixel_values_file), c.pixel_values_shape);
      const embeds = await chunked.embedPrompt(chunked.buildPrompt(c, c.images.length), features);
      const diff = maxAbsDiff(await chunked.prefill(embeds), readF32(c.first_step_logits_file!));
      assert.ok(diff <= 1e-3, `first-step logits max abs diff ${diff}`);
      const result = await chunked.generate({
        images: c.images.map((p) => ({ path: path.join(REAL_DATA_DIR, p) })),
        question: c.question,
        history: c.history,
        generation: { do_sample: false, num_beams: 1, max_new_tokens: c.generation.max_new_tokens },
      });
      assert.deepEqual(result.token_ids, c.expected_token_ids);
    } finally {
      await chunked.dispose();
    }
  });
});
