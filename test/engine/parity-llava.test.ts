/**
 * LLaVA (llava-interleave-qwen-0.5b layout) parity on the tiny fixture test/fixtures/models/llava-tiny,
 * a folder in the onnx-community / transformers.js layout with no manifest of ours:
 *
 * 1. against the PyTorch/PIL reference (native-models/llava/reference.py): bit-identical pixel_values
 *    (SiglipImageProcessor, PIL BICUBIC to 384²), the same chat template text and prompt ids
 *    (`<image>` × 729), image_features and first-step logits within float tolerance, and exactly the
 *    same greedy tokens;
 * 2. against @huggingface/transformers (AutoProcessor + AutoModelForImageTextToText, local files only):
 *    its template rendering and input_ids equal ours and its greedy tokens equal ours, from its own
 *    preprocessing and from our pixel_values (single-image cases: its LlavaProcessor expands only the
 *    first `<image>` of a prompt).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AutoModelForImageTextToText, AutoProcessor, env, RawImage, Tensor, type PreTrainedModel, type Processor } from '@huggingface/transformers';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { idefics3Messages } from '../../main/engine/models/idefics3.js';
import { LLAVA_MODEL_DIR, LLAVA_REFERENCE_DIR } from '../fixtures/llava-cases.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { maxAbsDiff } from '../helpers/reference.js';

interface LlavaReference {
  name: string;
  images: string[];
  question: string;
  history: { question: string; answer: string }[];
  generation: { max_new_tokens: number; eos_token_id: number; repetition_penalty: number };
  prompt_text: string;
  pixel_values_shape: number[];
  pixel_values_sha256: string;
  input_ids: number[];
  inputs_embeds_length: number;
  expected_token_ids: number[];
  min_margin: number;
  image_features_file?: string;
  image_features_shape?: number[];
  first_step_logits_file?: string;
}

const reference = JSON.parse(readFileSync(path.join(LLAVA_REFERENCE_DIR, 'reference.json'), 'utf8')) as { cases: LlavaReference[] };
const readF32 = (file: string): Float32Array => {
  const b = readFileSync(path.join(LLAVA_REFERENCE_DIR, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const sha256 = (a: Float32Array): string => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const sources = (c: LlavaReference) => c.images.map((p) => ({ path: path.join(REAL_DATA_DIR, p) }));
const generation = (c: LlavaReference) => ({ do_sample: false, max_new_tokens: c.generation.max_new_tokens, repetition_penalty: c.generation.repetition_penalty });

describe('tiny LLaVA (onnx-community layout) vs the PyTorch reference', () => {
  let pipeline: VlmPipeline;
  before(async () => {
    pipeline = await VlmPipeline.load(LLAVA_MODEL_DIR);
  });
  after(async () => {
    await pipeline.dispose();
  });

  test('the folder is read as published: family llava, 729 image tokens (384 / 14 = 27, 27²)', () => {
    assert.equal(existsSync(path.join(LLAVA_MODEL_DIR, 'manifest.json')), false);
    const m = pipeline.manifest;
    assert.equal(m.family, 'llava');
    if (m.family !== 'llava') return;
    assert.equal(m.prompt.image_seq_len, 729);
    assert.equal(m.prompt.tiles, undefined);
    assert.deepEqual(m.preprocessing.kind === 'resize' && [m.preprocessing.height, m.preprocessing.width, m.preprocessing.resample], [384, 384, 'bicubic']);
    assert.equal(m.generation.eos_token_id, pipeline.tokenizer.tokenToId('<|im_end|>'));
  });

  for (const c of reference.cases) {
    describe(c.name, () => {
      test('pixel_values bit-identical to HF SiglipImageProcessor (PIL BICUBIC)', async () => {
        const v = await pipeline.preprocess(sources(c));
        assert.deepEqual(v.dims, c.pixel_values_shape);
        assert.equal(sha256(v.pixel_values), c.pixel_values_sha256);
      });

      test('chat template text and prompt ids (<image> × 729 per image) equal the reference', async () => {
        const v = await pipeline.preprocess(sources(c));
        const prompt = pipeline.buildChatPrompt(c, v.grids!);
        assert.equal(prompt.text, c.prompt_text);
        assert.deepEqual(prompt.ids, c.input_ids);
      });

      test('image_features within 1e-4 and first-step logits within 1e-3', { skip: !c.image_features_file }, async (t) => {
        const v = await pipeline.preprocess(sources(c));
        const features = await pipeline.encodeImages(v.pixel_values, v.dims);
        assert.deepEqual(features.dims, c.image_features_shape);
        const featureDiff = maxAbsDiff(features.data, readF32(c.image_features_file!));
        assert.ok(featureDiff <= 1e-4, `image_features max abs diff ${featureDiff}`);
        const logitDiff = maxAbsDiff(await pipeline.prefill(await pipeline.embedChatPrompt(c.input_ids, features)), readF32(c.first_step_logits_file!));
        assert.ok(logitDiff <= 1e-3, `first-step logits max abs diff ${logitDiff}`);
        t.diagnostic(`image_features max abs diff ${featureDiff.toExponential(2)}, first-step logits ${logitDiff.toExponential(2)}`);
      });

      test('greedy token ids equal the reference exactly', async (t) => {
        const result = await pipeline.generate({ images: sources(c), question: c.question, history: c.history, generation: generation(c) });
        assert.deepEqual(result.token_ids, c.expected_token_ids);
        assert.equal(result.prompt_length, c.inputs_embeds_length);
        t.diagnostic(`tokens ${JSON.stringify(result.token_ids)} (reference min margin ${c.min_margin.toFixed(4)})`);
      });
    });
  }
});

describe('transformers.js runs the same LLaVA folder and agrees', () => {
  let pipeline: VlmPipeline;
  let processor: Processor;
  let model: PreTrainedModel;
  before(async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${path.dirname(LLAVA_MODEL_DIR)}/`;
    const id = path.basename(LLAVA_MODEL_DIR);
    processor = await AutoProcessor.from_pretrained(id, { local_files_only: true });
    model = await AutoModelForImageTextToText.from_pretrained(id, { local_files_only: true, dtype: 'fp32', device: 'cpu' });
    pipeline = await VlmPipeline.load(LLAVA_MODEL_DIR);
  });
  after(async () => {
    await model?.dispose();
    await pipeline?.dispose();
  });

  for (const c of reference.cases) {
    test(`${c.name}: same prompt ids, same greedy tokens (its preprocessing and ours)`, { skip: c.images.length !== 1 && 'transformers.js expands one <image> per prompt' }, async (t) => {
      const decoded = await pipeline.decodeImages(sources(c));
      const text = processor.apply_chat_template(idefics3Messages(c.question, c.history, decoded.length) as never, { add_generation_prompt: true }) as string;
      assert.equal(text, c.prompt_text);
      const image = new RawImage(new Uint8ClampedArray(decoded[0]!.data), decoded[0]!.width, decoded[0]!.height, 3);
      const inputs = await processor(image, text);
      const ids = Array.from(inputs.input_ids.data as BigInt64Array, Number);
      assert.deepEqual(ids, c.input_ids, 'transformers.js input_ids');
      assert.deepEqual(inputs.pixel_values.dims, c.pixel_values_shape);
      const ours = await pipeline.generate({ images: sources(c), question: c.question, history: c.history, generation: generation(c) });
      const run = async (pixelValues: Tensor): Promise<number[]> => {
        const out = (await model.generate({
          input_ids: inputs.input_ids,
          attention_mask: inputs.attention_mask,
          pixel_values: pixelValues,
          max_new_tokens: c.generation.max_new_tokens,
          do_sample: false,
          repetition_penalty: c.generation.repetition_penalty,
        } as never)) as Tensor;
        return Array.from(out.data as BigInt64Array, Number).slice(ids.length);
      };
      const own = await run(inputs.pixel_values);
      const v = await pipeline.preprocess(sources(c));
      const withOurPixels = await run(new Tensor('float32', v.pixel_values, v.dims));
      assert.deepEqual(withOurPixels, ours.token_ids, 'transformers.js on our pixel_values vs our engine');
      assert.deepEqual(own, ours.token_ids, 'transformers.js end to end vs our engine');
      t.diagnostic(`tokens ${JSON.stringify(ours.token_ids)}; pixel_values max abs diff (its vs ours) ${maxAbsDiff(inputs.pixel_values.data as Float32Array, v.pixel_values).toFixed(3)}`);
    });
  }
});
