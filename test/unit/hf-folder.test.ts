/**
 * Reading a folder in the onnx-community layout as published (package/hf-folder.ts): family from
 * config.json, graph variants by transformers.js dtype suffix, KV dtype taken from the decoder graph,
 * and one-line errors for folders the engine cannot run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadManifest, ModelPackageError } from '../../main/engine/package/manifest.js';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { CHAT_FIXTURES } from '../fixtures/family-cases.js';

const IDEFICS3_MODEL_DIR = CHAT_FIXTURES.idefics3.modelDir;
const LLAVA_MODEL_DIR = CHAT_FIXTURES.llava.modelDir;

describe('onnx-community folders', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hf-folder-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const copy = async (src: string, name: string): Promise<string> => {
    const to = path.join(dir, name);
    await cp(src, to, { recursive: true });
    return to;
  };
  const editJson = async (file: string, edit: (j: Record<string, unknown>) => void): Promise<void> => {
    const j = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    edit(j);
    await writeFile(file, JSON.stringify(j));
  };

  test('family from config.json model_type; no checksums; fp32 graphs picked', async () => {
    const i3 = await loadManifest(IDEFICS3_MODEL_DIR);
    assert.equal(i3.family, 'idefics3');
    assert.deepEqual(i3.files, {});
    assert.equal(i3.family === 'idefics3' && i3.dtypes.decoder_model_merged, 'fp32');
    const lv = await loadManifest(LLAVA_MODEL_DIR);
    assert.equal(lv.family, 'llava');
    assert.equal(lv.generation.eos_token_id, 638); // <|im_end|> of the tiny vocabulary
  });

  test('variants by suffix: without fp32 the q4f16 decoder is picked; its KV dtype is read from the graph', async () => {
    const folder = await copy(IDEFICS3_MODEL_DIR, 'variants');
    await rename(path.join(folder, 'onnx/decoder_model_merged.onnx'), path.join(folder, 'onnx/decoder_model_merged_q4f16.onnx'));
    const m = await loadManifest(folder);
    assert.equal(m.graphs.decoder_model_merged.file, 'onnx/decoder_model_merged_q4f16.onnx');
    assert.equal(m.text_config.kv_cache_dtype, 'float16'); // transformers.js_config.kv_cache_dtype.q4f16
    await assert.rejects(loadManifest(folder, { dtype: 'fp16' }), /no onnx\/vision_encoder_fp16\.onnx/);
    // the graph is really fp32: loading takes the KV dtype from it and runs
    const pipeline = await VlmPipeline.load(folder);
    try {
      assert.equal(pipeline.manifest.text_config.kv_cache_dtype, 'float32');
      const r = await pipeline.generate({ images: [], question: 'Hi', generation: { max_new_tokens: 2 } });
      assert.equal(r.token_ids.length, 2);
    } finally {
      await pipeline.dispose();
    }
  });

  test('one-line errors: unknown model_type, missing tokenizer, image token mismatch, no graph', async () => {
    const unknown = await copy(IDEFICS3_MODEL_DIR, 'unknown');
    await editJson(path.join(unknown, 'config.json'), (j) => {
      j.model_type = 'qwen2_vl';
    });
    await assert.rejects(loadManifest(unknown), (e: Error) => e instanceof ModelPackageError && /model_type "qwen2_vl" is not supported/.test(e.message));
    const noTok = await copy(IDEFICS3_MODEL_DIR, 'notok');
    await rm(path.join(noTok, 'tokenizer.json'));
    await assert.rejects(loadManifest(noTok), /tokenizer\.json is missing/);
    const mismatch = await copy(IDEFICS3_MODEL_DIR, 'mismatch');
    await editJson(path.join(mismatch, 'config.json'), (j) => {
      j.image_token_id = 5;
    });
    await assert.rejects(loadManifest(mismatch), /image_token_id 5 is not the tokenizer's <image>/);
    const noGraph = await copy(IDEFICS3_MODEL_DIR, 'nograph');
    await rm(path.join(noGraph, 'onnx/embed_tokens.onnx'));
    await assert.rejects(loadManifest(noGraph), /no onnx\/embed_tokens\*\.onnx graph/);
    await assert.rejects(loadManifest(dir), /no manifest\.json \(or config\.json/);
  });
});
