/**
 * Parity of the chat-template families on their tiny fixtures in the onnx-community /
 * transformers.js layout, folders with no manifest of ours (test/fixtures/family-cases.ts):
 * Idefics3 (SmolVLM layout, idefics3-tiny) and LLaVA (llava-interleave-qwen-0.5b layout, llava-tiny).
 *
 * 1. against the PyTorch/PIL reference (native-models/{idefics3,llava}/reference.py): bit-identical
 *    pixel_values (sha256) to Hugging Face's PIL image processor (Idefics3ImageProcessor's tile grids
 *    and LANCZOS resizes; SiglipImageProcessor's BICUBIC to 384²), the same rendered chat template
 *    and expanded prompt token ids (Idefics3's tile blocks; LLaVA's `<image>` × 729), image_features
 *    and first-step logits within float tolerance, and exactly the same greedy tokens;
 * 2. against @huggingface/transformers (AutoProcessor + the family's AutoModel class, local files
 *    only) on the same folder: its chat template rendering and input_ids equal ours, and its greedy
 *    tokens equal ours, both from its own preprocessing (which differs in pixels: sharp's resizes)
 *    and from our pixel_values. LLaVA: single-image cases only (its LlavaProcessor expands only the
 *    first `<image>` of a prompt).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AutoModelForImageTextToText,
  AutoModelForVision2Seq,
  AutoProcessor,
  env,
  RawImage,
  Tensor,
  type PreTrainedModel,
  type Processor,
} from '@huggingface/transformers';
import { VlmPipeline, type VisionInputs } from '../../main/engine/pipeline.js';
import { idefics3Messages } from '../../main/engine/models/idefics3.js';
import { CHAT_FIXTURES, type ChatFamily } from '../fixtures/family-cases.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { maxAbsDiff } from '../helpers/reference.js';

/** One case of reference.json as written by native-models/{idefics3,llava}/reference.py. */
interface ChatReference {
  name: string;
  images: string[];
  question: string;
  history: { question: string; answer: string }[];
  generation: { max_new_tokens: number; eos_token_id: number; repetition_penalty: number; no_repeat_ngram_size?: number };
  prompt_text: string;
  /** Idefics3: tile rows and cols per image. */
  rows?: number[];
  cols?: number[];
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

/** transformers.js's processor outputs that the tests read. */
interface ProcessorOutputs {
  input_ids: Tensor;
  attention_mask: Tensor;
  pixel_values: Tensor;
  pixel_attention_mask?: Tensor;
  rows?: number[][];
  cols?: number[][];
}

/** What differs between the families; everything else is checked the same way. */
interface FamilySpec {
  family: ChatFamily;
  title: string;
  /** The folder-reading test: its title's detail and the family-specific manifest checks. */
  published: string;
  checkManifest(pipeline: VlmPipeline): void;
  /** The pixel test: its title and the family-specific checks besides dims and sha256. */
  pixels: string;
  checkPixels?(v: VisionInputs, c: ChatReference): void;
  /** The prompt test's title detail. */
  prompt: string;
  /** Also check OCR-text refusal and a text-only question. */
  textOnlyAndOcr: boolean;
  AutoModel: typeof AutoModelForVision2Seq | typeof AutoModelForImageTextToText;
  /** A reason to skip the transformers.js comparison of a case, or false. */
  transformersSkip(c: ChatReference): string | false;
  /** transformers.js's processor on the rendered text and the decoded images, and checks of its outputs. */
  transformersInputs(processor: Processor, text: string, images: RawImage[], c: ChatReference): Promise<ProcessorOutputs>;
  /** The vision inputs of model.generate(): transformers.js's own, and ours as tensors. */
  theirVision(inputs: ProcessorOutputs): Record<string, Tensor>;
  ourVision(v: VisionInputs): Record<string, Tensor>;
}

const FAMILIES: FamilySpec[] = [
  {
    family: 'idefics3',
    title: 'Idefics3',
    published: 'config files and onnx/*.onnx, no manifest of ours',
    checkManifest(pipeline) {
      const m = pipeline.manifest;
      if (m.family !== 'idefics3') return;
      // config-derived: (512 / 16)² / 4² = 64, as processor_config.json says
      assert.equal(m.vision_config.image_seq_len, 64);
      assert.equal((m.vision_config.image_size / m.vision_config.patch_size) ** 2 / m.vision_config.scale_factor ** 2, 64);
      assert.equal(m.preprocessing.longest_edge, 2048);
      assert.equal(m.preprocessing.tile_size, 512);
      assert.equal(m.preprocessing.resample, 'lanczos');
      assert.equal(m.generation.eos_token_id, pipeline.tokenizer.tokenToId('<end_of_utterance>'));
    },
    pixels: 'tile grid and pixel_values bit-identical to HF Idefics3ImageProcessor (PIL LANCZOS)',
    checkPixels(v, c) {
      assert.deepEqual(v.grids, c.rows!.map((rows, i) => ({ rows, cols: c.cols![i] })));
      assert.ok(v.pixel_attention_mask!.every((x) => x === 1));
    },
    prompt: 'expanded prompt ids',
    textOnlyAndOcr: true,
    AutoModel: AutoModelForVision2Seq,
    transformersSkip: () => false,
    async transformersInputs(processor, text, images, c) {
      const inputs = (await processor(text, images)) as ProcessorOutputs;
      assert.deepEqual(inputs.rows, [c.rows]);
      assert.deepEqual(inputs.cols, [c.cols]);
      return inputs;
    },
    theirVision: (inputs) => ({ pixel_values: inputs.pixel_values, pixel_attention_mask: inputs.pixel_attention_mask! }),
    ourVision(v) {
      const [b, n, , h, w] = v.dims as [number, number, number, number, number];
      return {
        pixel_values: new Tensor('float32', v.pixel_values, v.dims),
        pixel_attention_mask: new Tensor('bool', v.pixel_attention_mask!, [b, n, h, w]),
      };
    },
  },
  {
    family: 'llava',
    title: 'LLaVA',
    published: 'family llava, 729 image tokens (384 / 14 = 27, 27²)',
    checkManifest(pipeline) {
      const m = pipeline.manifest;
      if (m.family !== 'llava') return;
      assert.equal(m.prompt.image_seq_len, 729);
      assert.equal(m.prompt.tiles, undefined);
      assert.deepEqual(m.preprocessing.kind === 'resize' && [m.preprocessing.height, m.preprocessing.width, m.preprocessing.resample], [384, 384, 'bicubic']);
      assert.equal(m.generation.eos_token_id, pipeline.tokenizer.tokenToId('<|im_end|>'));
    },
    pixels: 'pixel_values bit-identical to HF SiglipImageProcessor (PIL BICUBIC)',
    prompt: 'prompt ids (<image> × 729 per image)',
    textOnlyAndOcr: false,
    AutoModel: AutoModelForImageTextToText,
    transformersSkip: (c) => c.images.length !== 1 && 'transformers.js expands one <image> per prompt',
    transformersInputs: async (processor, text, images) => (await processor(images[0], text)) as ProcessorOutputs,
    theirVision: (inputs) => ({ pixel_values: inputs.pixel_values }),
    ourVision: (v) => ({ pixel_values: new Tensor('float32', v.pixel_values, v.dims) }),
  },
];

const readReference = (f: FamilySpec) =>
  (JSON.parse(readFileSync(path.join(CHAT_FIXTURES[f.family].referenceDir, 'reference.json'), 'utf8')) as { cases: ChatReference[] }).cases;
const sha256 = (a: Float32Array): string => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const sources = (c: ChatReference) => c.images.map((p) => ({ path: path.join(REAL_DATA_DIR, p) }));
const generation = (c: ChatReference) => ({ do_sample: false, max_new_tokens: c.generation.max_new_tokens, repetition_penalty: c.generation.repetition_penalty });

test('reference: ≥ 4 cases, ≥ 3 image categories, one multi-turn, one with two images (each family)', () => {
  for (const f of FAMILIES) {
    const cases = readReference(f);
    assert.ok(cases.length >= 4, f.family);
    assert.ok(new Set(cases.flatMap((c) => c.images.map((i) => i.split('/')[0]))).size >= 3, f.family);
    assert.ok(cases.some((c) => c.history.length > 0), f.family);
    assert.ok(cases.some((c) => c.images.length === 2), f.family);
  }
});

for (const f of FAMILIES) {
  const { modelDir, referenceDir } = CHAT_FIXTURES[f.family];
  const reference = readReference(f);
  const readF32 = (file: string): Float32Array => {
    const b = readFileSync(path.join(referenceDir, file));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };

  describe(`tiny ${f.title} (onnx-community layout) vs the PyTorch reference`, () => {
    let pipeline: VlmPipeline;
    before(async () => {
      pipeline = await VlmPipeline.load(modelDir);
    });
    after(async () => {
      await pipeline.dispose();
    });

    test(`the folder is read as published: ${f.published}`, () => {
      assert.equal(existsSync(path.join(modelDir, 'manifest.json')), false);
      const m = pipeline.manifest;
      assert.equal(m.family, f.family);
      assert.equal(m.origin, 'hf-config');
      assert.equal(pipeline.info.family, f.family);
      assert.deepEqual(
        Object.values(m.graphs).map((g) => g.file),
        ['onnx/vision_encoder.onnx', 'onnx/embed_tokens.onnx', 'onnx/decoder_model_merged.onnx'],
      );
      f.checkManifest(pipeline);
    });

    for (const c of reference) {
      describe(c.name, () => {
        test(f.pixels, async () => {
          const v = await pipeline.preprocess(sources(c));
          assert.deepEqual(v.dims, c.pixel_values_shape);
          assert.equal(sha256(v.pixel_values), c.pixel_values_sha256);
          f.checkPixels?.(v, c);
        });

        test(`chat template text and ${f.prompt} equal the reference`, async () => {
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

    if (f.textOnlyAndOcr) {
      test('OCR text is refused with a one-line reason (the template has no place for it)', async () => {
        const c = reference[0]!;
        await assert.rejects(pipeline.generate({ images: sources(c), question: 'q', ocr_text: ['TOTAL 24.50'] }), /takes no OCR text/);
      });

      test('a text-only question runs without the vision encoder', async () => {
        const result = await pipeline.generate({ images: [], question: 'Hello?', generation: { max_new_tokens: 3 } });
        assert.equal(result.token_ids.length, 3);
      });
    }
  });

  describe(`transformers.js runs the same ${f.title} folder and agrees`, () => {
    let pipeline: VlmPipeline;
    let processor: Processor;
    let model: PreTrainedModel;
    before(async () => {
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = `${path.dirname(modelDir)}/`;
      const id = path.basename(modelDir);
      processor = await AutoProcessor.from_pretrained(id, { local_files_only: true });
      model = await f.AutoModel.from_pretrained(id, { local_files_only: true, dtype: 'fp32', device: 'cpu' });
      pipeline = await VlmPipeline.load(modelDir);
    });
    after(async () => {
      await model?.dispose();
      await pipeline?.dispose();
    });

    for (const c of reference) {
      test(`${c.name}: same prompt ids, same greedy tokens (its preprocessing and ours)`, { skip: f.transformersSkip(c) }, async (t) => {
        const decoded = await pipeline.decodeImages(sources(c));
        const text = processor.apply_chat_template(idefics3Messages(c.question, c.history, decoded.length) as never, { add_generation_prompt: true }) as string;
        assert.equal(text, c.prompt_text);
        const images = decoded.map((d) => new RawImage(new Uint8ClampedArray(d.data), d.width, d.height, 3));
        const inputs = await f.transformersInputs(processor, text, images, c);
        const ids = Array.from(inputs.input_ids.data as BigInt64Array, Number);
        assert.deepEqual(ids, c.input_ids, 'transformers.js input_ids');
        assert.deepEqual(inputs.pixel_values.dims, c.pixel_values_shape);

        const ours = await pipeline.generate({ images: sources(c), question: c.question, history: c.history, generation: generation(c) });
        const run = async (vision: Record<string, Tensor>): Promise<number[]> => {
          const out = (await model.generate({
            input_ids: inputs.input_ids,
            attention_mask: inputs.attention_mask,
            ...vision,
            max_new_tokens: c.generation.max_new_tokens,
            do_sample: false,
            repetition_penalty: c.generation.repetition_penalty,
          } as never)) as Tensor;
          return Array.from(out.data as BigInt64Array, Number).slice(ids.length);
        };
        const own = await run(f.theirVision(inputs));
        const v = await pipeline.preprocess(sources(c));
        const withOurPixels = await run(f.ourVision(v));
        assert.deepEqual(withOurPixels, ours.token_ids, 'transformers.js on our pixel_values vs our engine');
        assert.deepEqual(own, ours.token_ids, 'transformers.js end to end vs our engine');
        t.diagnostic(`tokens ${JSON.stringify(ours.token_ids)}; pixel_values max abs diff (its vs ours) ${maxAbsDiff(inputs.pixel_values.data as Float32Array, v.pixel_values).toFixed(3)}`);
      });
    }
  });
}
