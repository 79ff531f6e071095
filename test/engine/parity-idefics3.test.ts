/**
 * Idefics3 (SmolVLM layout) parity on the tiny fixture test/fixtures/models/idefics3-tiny, a folder in
 * the onnx-community / transformers.js layout with no manifest of ours:
 *
 * 1. against the PyTorch/PIL reference (native-models/idefics3/reference.py): the same tile grids
 *    and bit-identical pixel_values (sha256) as Hugging Face's PIL Idefics3ImageProcessor, the same
 *    rendered chat template and expanded prompt token ids, image_features and first-step logits
 *    within float tolerance, and exactly the same greedy tokens;
 * 2. against @huggingface/transformers (AutoProcessor + AutoModelForVision2Seq, local files only)
 *    on the same folder: its chat template rendering and input_ids equal ours, and its greedy
 *    tokens equal ours, both from its own preprocessing (which differs in pixels: sharp's lanczos3
 *    and bilinear tile resizes) and from our pixel_values.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AutoModelForVision2Seq, AutoProcessor, env, RawImage, Tensor, type PreTrainedModel, type Processor } from '@huggingface/transformers';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { idefics3Messages } from '../../main/engine/models/idefics3.js';
import { IDEFICS3_MODEL_DIR, IDEFICS3_REFERENCE_DIR } from '../fixtures/idefics3-cases.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { maxAbsDiff } from '../helpers/reference.js';

interface Idefics3Reference {
  name: string;
  images: string[];
  question: string;
  history: { question: string; answer: string }[];
  generation: { max_new_tokens: number; eos_token_id: number; repetition_penalty: number; no_repeat_ngram_size: number };
  prompt_text: string;
  rows: number[];
  cols: number[];
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

const reference = JSON.parse(readFileSync(path.join(IDEFICS3_REFERENCE_DIR, 'reference.json'), 'utf8')) as { cases: Idefics3Reference[] };
const readF32 = (file: string): Float32Array => {
  const b = readFileSync(path.join(IDEFICS3_REFERENCE_DIR, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const sha256 = (a: Float32Array): string => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const sources = (c: Idefics3Reference) => c.images.map((p) => ({ path: path.join(REAL_DATA_DIR, p) }));
const generation = (c: Idefics3Reference) => ({ do_sample: false, max_new_tokens: c.generation.max_new_tokens, repetition_penalty: c.generation.repetition_penalty });

describe('tiny Idefics3 (onnx-community layout) vs the PyTorch reference', () => {
  let pipeline: VlmPipeline;
  before(async () => {
    pipeline = await VlmPipeline.load(IDEFICS3_MODEL_DIR);
  });
  after(async () => {
    await pipeline.dispose();
  });

  test('the folder is read as published: config files and onnx/*.onnx, no manifest of ours', () => {
    assert.equal(existsSync(path.join(IDEFICS3_MODEL_DIR, 'manifest.json')), false);
    const m = pipeline.manifest;
    assert.equal(m.family, 'idefics3');
    assert.equal(m.origin, 'hf-config');
    assert.equal(pipeline.info.family, 'idefics3');
    assert.deepEqual(
      Object.values(m.graphs).map((g) => g.file),
      ['onnx/vision_encoder.onnx', 'onnx/embed_tokens.onnx', 'onnx/decoder_model_merged.onnx'],
    );
    if (m.family !== 'idefics3') return;
    // config-derived: (512 / 16)² / 4² = 64, as processor_config.json says
    assert.equal(m.vision_config.image_seq_len, 64);
    assert.equal((m.vision_config.image_size / m.vision_config.patch_size) ** 2 / m.vision_config.scale_factor ** 2, 64);
    assert.equal(m.preprocessing.longest_edge, 2048);
    assert.equal(m.preprocessing.tile_size, 512);
    assert.equal(m.preprocessing.resample, 'lanczos');
    assert.equal(m.generation.eos_token_id, pipeline.tokenizer.tokenToId('<end_of_utterance>'));
  });

  test('reference: ≥ 4 cases, ≥ 3 image categories, one multi-turn, one with two images', () => {
    assert.ok(reference.cases.length >= 4);
    assert.ok(new Set(reference.cases.flatMap((c) => c.images.map((i) => i.split('/')[0]))).size >= 3);
    assert.ok(reference.cases.some((c) => c.history.length > 0));
    assert.ok(reference.cases.some((c) => c.images.length === 2));
  });

  for (const c of reference.cases) {
    describe(c.name, () => {
      test('tile grid and pixel_values bit-identical to HF Idefics3ImageProcessor (PIL LANCZOS)', async () => {
        const v = await pipeline.preprocess(sources(c));
        assert.deepEqual(v.grids, c.rows.map((rows, i) => ({ rows, cols: c.cols[i] })));
        assert.deepEqual(v.dims, c.pixel_values_shape);
        assert.equal(sha256(v.pixel_values), c.pixel_values_sha256);
        assert.ok(v.pixel_attention_mask!.every((x) => x === 1));
      });

      test('chat template text and expanded prompt ids equal the reference', async () => {
        const v = await pipeline.preprocess(sources(c));
        const prompt = pipeline.buildChatPrompt(c, v.grids!);
        assert.equal(prompt.text, c.prompt_text);
        assert.deepEqual(prompt.ids, c.input_ids);
      });

      test('image_features within 1e-4 and first-step logits within 1e-3', { skip: !c.image_features_file }, async (t) => {
        const v = await pipeline.preprocess(sources(c));
        const features = await pipeline.encodeImages(v.pixel_values, v.dims, v.pixel_attention_mask);
        assert.deepEqual(features.dims, c.image_features_shape);
        const featureDiff = maxAbsDiff(features.data, readF32(c.image_features_file!));
        assert.ok(featureDiff <= 1e-4, `image_features max abs diff ${featureDiff}`);
        const embeds = await pipeline.embedChatPrompt(c.input_ids, features);
        assert.equal(embeds.length / pipeline.manifest.text_config.hidden_size, c.inputs_embeds_length);
        const logitDiff = maxAbsDiff(await pipeline.prefill(embeds), readF32(c.first_step_logits_file!));
        assert.ok(logitDiff <= 1e-3, `first-step logits max abs diff ${logitDiff}`);
        t.diagnostic(`image_features max abs diff ${featureDiff.toExponential(2)}, first-step logits ${logitDiff.toExponential(2)}`);
      });

      test('greedy token ids equal the reference exactly', async (t) => {
        const streamed: number[] = [];
        const result = await pipeline.generate(
          { images: sources(c), question: c.question, history: c.history, generation: generation(c) },
          { onToken: (id) => id >= 0 && streamed.push(id) },
        );
        assert.deepEqual(result.token_ids, c.expected_token_ids);
        assert.deepEqual(streamed, c.expected_token_ids);
        assert.equal(result.prompt_length, c.inputs_embeds_length);
        t.diagnostic(`tokens ${JSON.stringify(result.token_ids)} (reference min margin ${c.min_margin.toFixed(4)})`);
      });
    });
  }

  test('OCR text is refused with a one-line reason (the template has no place for it)', async () => {
    const c = reference.cases[0]!;
    await assert.rejects(pipeline.generate({ images: sources(c), question: 'q', ocr_text: ['TOTAL 24.50'] }), /takes no OCR text/);
  });

  test('a text-only question runs without the vision encoder', async () => {
    const result = await pipeline.generate({ images: [], question: 'Hello?', generation: { max_new_tokens: 3 } });
    assert.equal(result.token_ids.length, 3);
  });
});

describe('transformers.js runs the same folder and agrees', () => {
  let pipeline: VlmPipeline;
  let processor: Processor;
  let model: PreTrainedModel;
  before(async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${path.dirname(IDEFICS3_MODEL_DIR)}/`;
    const id = path.basename(IDEFICS3_MODEL_DIR);
    processor = await AutoProcessor.from_pretrained(id, { local_files_only: true });
    model = await AutoModelForVision2Seq.from_pretrained(id, { local_files_only: true, dtype: 'fp32', device: 'cpu' });
    pipeline = await VlmPipeline.load(IDEFICS3_MODEL_DIR);
  });
  after(async () => {
    await model?.dispose();
    await pipeline?.dispose();
  });

  for (const c of reference.cases) {
    test(`${c.name}: same prompt ids, same greedy tokens (its preprocessing and ours)`, async (t) => {
      const decoded = await pipeline.decodeImages(sources(c));
      const text = processor.apply_chat_template(idefics3Messages(c.question, c.history, decoded.length) as never, { add_generation_prompt: true }) as string;
      assert.equal(text, c.prompt_text);
      const images = decoded.map((d) => new RawImage(new Uint8ClampedArray(d.data), d.width, d.height, 3));
      const inputs = await processor(text, images);
      const ids = Array.from(inputs.input_ids.data as BigInt64Array, Number);
      assert.deepEqual(ids, c.input_ids, 'transformers.js input_ids');
      assert.deepEqual(inputs.rows, [c.rows]);
      assert.deepEqual(inputs.cols, [c.cols]);
      assert.deepEqual(inputs.pixel_values.dims, c.pixel_values_shape);

      const ours = await pipeline.generate({ images: sources(c), question: c.question, history: c.history, generation: generation(c) });
      const run = async (extra: Record<string, unknown>): Promise<number[]> => {
        const out = (await model.generate({
          input_ids: inputs.input_ids,
          attention_mask: inputs.attention_mask,
          ...extra,
          max_new_tokens: c.generation.max_new_tokens,
          do_sample: false,
          repetition_penalty: c.generation.repetition_penalty,
        } as never)) as Tensor;
        return Array.from(out.data as BigInt64Array, Number).slice(ids.length);
      };
      const own = await run({ pixel_values: inputs.pixel_values, pixel_attention_mask: inputs.pixel_attention_mask });
      const v = await pipeline.preprocess(sources(c));
      const [b, n, , h, w] = v.dims as [number, number, number, number, number];
      const withOurPixels = await run({
        pixel_values: new Tensor('float32', v.pixel_values, v.dims),
        pixel_attention_mask: new Tensor('bool', v.pixel_attention_mask!, [b, n, h, w]),
      });
      assert.deepEqual(withOurPixels, ours.token_ids, 'transformers.js on our pixel_values vs our engine');
      assert.deepEqual(own, ours.token_ids, 'transformers.js end to end vs our engine');
      t.diagnostic(`tokens ${JSON.stringify(ours.token_ids)}; pixel_values max abs diff (its vs ours) ${maxAbsDiff(inputs.pixel_values.data as Float32Array, v.pixel_values).toFixed(3)}`);
    });
  }
});
