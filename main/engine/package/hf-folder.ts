/**
 * A model folder in the onnx-community / transformers.js layout, read as published:
 *
 *   config.json, generation_config.json, preprocessor_config.json, processor_config.json,
 *   tokenizer.json, tokenizer_config.json (+ chat_template.json / chat_template.jinja),
 *   onnx/vision_encoder{suffix}.onnx, onnx/embed_tokens{suffix}.onnx,
 *   onnx/decoder_model_merged{suffix}.onnx (+ `.onnx_data` external weights)
 *
 * The engine's manifest is generated here in memory from those files, so a folder downloaded from
 * the Hub (or imported from disk) runs without anything of ours added to it; checksums of such a
 * folder come from the model catalog at download time, not from the folder.
 *
 * Families, by config.json `model_type`: `idefics3` and `smolvlm` → idefics3 (SmolVLM,
 * granite-docling), `llava` → llava (llava-interleave-qwen-0.5b).
 *
 * Graph variants: transformers.js names them by dtype suffix (`utils/dtypes.js`): fp32 → none,
 * fp16 → `_fp16`, q8 → `_quantized`, int8 → `_int8`, uint8 → `_uint8`, q4 → `_q4`, q4f16 →
 * `_q4f16`, bnb4 → `_bnb4`. Without a requested dtype, the first present in that order is used.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { DEFAULT_GENERATION_CONFIG } from '../generation/config.js';
import { idefics3PreprocessConfig, Idefics3ConfigError } from '../preprocess/idefics3.js';
import { compileChatTemplate, firstLine } from '../models/idefics3.js';
import { ModelPackageError } from './errors.js';
import {
  GRAPH_NAMES,
  type ChatPromptConfig,
  type GenerationDefaults,
  type GraphDtype,
  type GraphName,
  type GraphSpec,
  type Idefics3Manifest,
  type LlavaManifest,
  type ModelManifest,
  type TextConfig,
} from './manifest-types.js';
import { llavaPreprocessConfig } from '../models/llava.js';

/** transformers.js dtype names → onnx file suffix. */
export const DTYPE_SUFFIXES = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const satisfies Record<GraphDtype, string>;
const DTYPE_ORDER = Object.keys(DTYPE_SUFFIXES) as GraphDtype[];

/** Which onnx variant to load: one dtype for every graph, or one per graph. */
export interface HfFolderOptions {
  dtype?: GraphDtype | Partial<Record<GraphName, GraphDtype>>;
}

/** config.json `model_type` → engine family. */
const FAMILIES: Record<string, 'idefics3' | 'llava'> = { idefics3: 'idefics3', smolvlm: 'idefics3', llava: 'llava' };

type Json = Record<string, unknown>;

const isFile = (p: string): Promise<boolean> => stat(p).then((s) => s.isFile(), () => false);

async function readJson(file: string, required: boolean): Promise<Json | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    if (required) throw new ModelPackageError(`${file} is missing`);
    return undefined;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Json;
  } catch (err) {
    throw new ModelPackageError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object. */
function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** Id of a token in tokenizer.json (added tokens first, then the model vocabulary). */
export function tokenIdIn(tokenizer: Json, token: string): number | undefined {
  const added = (tokenizer.added_tokens as { id: number; content: string }[] | undefined) ?? [];
  const hit = added.find((t) => t.content === token);
  if (hit) return hit.id;
  const vocab = (tokenizer.model as { vocab?: unknown } | undefined)?.vocab;
  if (vocab && !Array.isArray(vocab) && typeof vocab === 'object') {
    const id = (vocab as Record<string, number>)[token];
    if (typeof id === 'number') return id;
  }
  return undefined;
}

async function pickGraph(folder: string, graph: GraphName, options: HfFolderOptions): Promise<{ file: string; dtype: GraphDtype }> {
  const wanted = typeof options.dtype === 'string' ? options.dtype : options.dtype?.[graph];
  if (wanted !== undefined && !(wanted in DTYPE_SUFFIXES)) {
    throw new ModelPackageError(`unknown dtype "${wanted}" (one of ${DTYPE_ORDER.join(', ')})`);
  }
  for (const dtype of wanted ? [wanted] : DTYPE_ORDER) {
    const file = `onnx/${graph}${DTYPE_SUFFIXES[dtype]}.onnx`;
    if (await isFile(path.join(folder, file))) return { file, dtype };
  }
  throw new ModelPackageError(
    wanted ? `${folder}: no onnx/${graph}${DTYPE_SUFFIXES[wanted]}.onnx (dtype ${wanted})` : `${folder}: no onnx/${graph}*.onnx graph`,
  );
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Generate the manifest of a Hugging Face / onnx-community model folder.
 * @throws ModelPackageError naming the file and field at fault.
 */
export async function readHfModelFolder(folder: string, options: HfFolderOptions = {}): Promise<ModelManifest> {
  const configPath = path.join(folder, 'config.json');
  const config = (await readJson(configPath, true))!;
  const modelType = String(config.model_type ?? '');
  const family = FAMILIES[modelType];
  if (!family) {
    throw new ModelPackageError(`${configPath}: model_type "${modelType}" is not supported (supported: ${Object.keys(FAMILIES).join(', ')})`);
  }
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']) {
    if (!(await isFile(path.join(folder, f)))) throw new ModelPackageError(`${folder}: ${f} is missing`);
  }
  return readChatFolder(folder, config, family, options);
}

async function readChatFolder(folder: string, config: Json, family: 'idefics3' | 'llava', options: HfFolderOptions): Promise<Idefics3Manifest | LlavaManifest> {
  const configPath = path.join(folder, 'config.json');
  const fail = (file: string, what: string): never => {
    throw new ModelPackageError(`${path.join(folder, file)}: ${what}`);
  };
  const tc = (config.text_config ?? {}) as Json;
  const vc = (config.vision_config ?? {}) as Json;
  const hidden = num(tc.hidden_size) ?? fail('config.json', 'text_config.hidden_size is missing');
  const heads = num(tc.num_attention_heads) ?? fail('config.json', 'text_config.num_attention_heads is missing');
  const text: TextConfig = {
    hidden_size: hidden,
    num_hidden_layers: num(tc.num_hidden_layers) ?? fail('config.json', 'text_config.num_hidden_layers is missing'),
    num_attention_heads: heads,
    num_key_value_heads: num(tc.num_key_value_heads) ?? heads,
    head_dim: num(tc.head_dim) ?? hidden / heads,
    vocab_size: num(tc.vocab_size) ?? num(config.vocab_size) ?? fail('config.json', 'vocab_size is missing'),
    bos_token_id: num(tc.bos_token_id) ?? 1,
    eos_token_id: num(tc.eos_token_id) ?? 2,
    ...(num(tc.max_position_embeddings) ? { max_position_embeddings: num(tc.max_position_embeddings)! } : {}),
    kv_cache_dtype: 'float32',
  };
  for (const key of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size'] as const) {
    if (!Number.isInteger(text[key]) || text[key] < 1) fail('config.json', `text_config.${key} must be a whole number ≥ 1, got ${text[key]}`);
  }
  const imageSize = num(vc.image_size) ?? (family === 'idefics3' ? 512 : 384);
  const patch = num(vc.patch_size) ?? (family === 'idefics3' ? 16 : 14);
  const processor = (await readJson(path.join(folder, 'processor_config.json'), false)) ?? {};
  const pre = (await readJson(path.join(folder, 'preprocessor_config.json'), true))!;
  const tokenizerJson = (await readJson(path.join(folder, 'tokenizer.json'), true))!;
  const tokCfg = (await readJson(path.join(folder, 'tokenizer_config.json'), true))!;

  const gc = (await readJson(path.join(folder, 'generation_config.json'), false)) ?? {};
  const eosFromTokenizer = tokenString(tokCfg.eos_token) !== undefined ? tokenIdIn(tokenizerJson, tokenString(tokCfg.eos_token)!) : undefined;
  const eos = gc.eos_token_id ?? eosFromTokenizer ?? text.eos_token_id;
  if (!(Number.isInteger(eos) || (Array.isArray(eos) && eos.length > 0 && eos.every(Number.isInteger)))) {
    fail('generation_config.json', `eos_token_id ${JSON.stringify(eos)} is not a token id or a list of them`);
  }
  const generation: GenerationDefaults = {
    max_new_tokens: num(gc.max_new_tokens) ?? DEFAULT_GENERATION_CONFIG.max_new_tokens,
    num_beams: num(gc.num_beams) ?? 1,
    do_sample: gc.do_sample === true,
    no_repeat_ngram_size: num(gc.no_repeat_ngram_size) ?? 0,
    repetition_penalty: num(gc.repetition_penalty) ?? 1,
    eos_token_id: eos as number | number[],
    ...(Array.isArray(gc.bad_words_ids) ? { bad_words_ids: gc.bad_words_ids as number[][] } : {}),
    ...(gc.do_sample === true && num(gc.temperature) !== undefined ? { temperature: num(gc.temperature)! } : {}),
    ...(gc.do_sample === true && num(gc.top_k) !== undefined ? { top_k: num(gc.top_k)! } : {}),
    ...(gc.do_sample === true && num(gc.top_p) !== undefined ? { top_p: num(gc.top_p)! } : {}),
  };

  const files = {} as Record<GraphName, { file: string; dtype: GraphDtype }>;
  for (const g of GRAPH_NAMES) files[g] = await pickGraph(folder, g, options);
  // KV dtype follows the decoder variant (transformers.js_config.kv_cache_dtype, else fp16 graphs keep fp16 caches);
  // the pipeline takes it from the loaded graph (adoptKvDtype).
  const kvMap = ((config['transformers.js_config'] as Json | undefined)?.kv_cache_dtype ?? {}) as Record<string, string>;
  const decDtype = files.decoder_model_merged.dtype;
  const kv = kvMap[decDtype] ?? (decDtype === 'fp16' || decDtype === 'q4f16' ? 'float16' : 'float32');
  if (kv !== 'float16' && kv !== 'float32') fail('config.json', `transformers.js_config.kv_cache_dtype.${decDtype} must be float16 or float32`);
  text.kv_cache_dtype = kv as 'float16' | 'float32';

  const common = {
    format: 'omnifusion-model-package' as const,
    format_version: 1 as const,
    origin: 'hf-config' as const,
    name: path.basename(folder),
    description: `${String(config.model_type)} model read from ${path.basename(configPath)} (onnx-community layout)`,
    dtypes: Object.fromEntries(GRAPH_NAMES.map((g) => [g, files[g].dtype])) as Record<GraphName, string>,
    text_config: text,
    tokenizer: { file: 'tokenizer.json', config_file: 'tokenizer_config.json' },
    generation,
    files: {},
  };

  if (family === 'idefics3') {
    const scale = num(config.scale_factor) ?? 2;
    if (imageSize % patch || (imageSize / patch) % scale) fail('config.json', `scale_factor ${scale} does not divide the ${imageSize / patch}-patch grid`);
    const imageSeqLen = num(processor.image_seq_len) ?? (imageSize / patch) ** 2 / scale ** 2;
    if (!Number.isInteger(imageSeqLen) || imageSeqLen < 1) fail('processor_config.json', `image_seq_len must be a whole number ≥ 1, got ${imageSeqLen}`);
    let preprocessing;
    try {
      preprocessing = idefics3PreprocessConfig(pre);
    } catch (err) {
      if (err instanceof Idefics3ConfigError) fail('preprocessor_config.json', err.message);
      throw err;
    }
    const prompt = await chatPromptConfig(folder, config, tokenizerJson, tokCfg, imageSeqLen, true);
    return {
      ...common,
      family: 'idefics3',
      graphs: chatGraphs(files, text, {
        inputs: {
          pixel_values: { dtype: 'float32', shape: ['batch_size', 'num_images', 3, 'height', 'width'] },
          pixel_attention_mask: { dtype: 'bool', shape: ['batch_size', 'num_images', 'height', 'width'] },
        },
        outputs: { image_features: { dtype: 'float32', shape: ['num_tiles', 'image_seq_len', text.hidden_size] } },
      }),
      vision_config: { image_size: imageSize, patch_size: patch, scale_factor: scale, image_seq_len: imageSeqLen },
      preprocessing,
      prompt,
    };
  }

  // llava: one vision encoder run per image, [N,3,H,W] -> [N, tokens, hidden]
  let preprocessing: LlavaManifest['preprocessing'];
  try {
    preprocessing = llavaPreprocessConfig(pre);
  } catch (err) {
    if (err instanceof Idefics3ConfigError || err instanceof TypeError) fail('preprocessor_config.json', err.message);
    throw err;
  }
  const [outH, outW] = preprocessing.kind === 'clip' ? [preprocessing.crop_size.height, preprocessing.crop_size.width] : [preprocessing.height, preprocessing.width];
  const processorPatch = num(processor.patch_size);
  const strategy = String(processor.vision_feature_select_strategy ?? config.vision_feature_select_strategy ?? 'default');
  // LlavaProcessor: (H // patch) * (W // patch) + num_additional_image_tokens, minus 1 for the 'default' strategy (CLS dropped)
  const imageSeqLen = processorPatch
    ? Math.floor(outH / processorPatch) * Math.floor(outW / processorPatch) + (num(processor.num_additional_image_tokens) ?? 0) - (strategy === 'default' ? 1 : 0)
    : (num(config.image_seq_length) ?? Math.floor(imageSize / patch) ** 2 - (strategy === 'default' ? 1 : 0));
  const prompt = await chatPromptConfig(folder, config, tokenizerJson, tokCfg, imageSeqLen, false);
  return {
    ...common,
    family: 'llava',
    graphs: chatGraphs(files, text, {
      inputs: { pixel_values: { dtype: 'float32', shape: ['batch_size', 3, 'height', 'width'] } },
      outputs: { image_features: { dtype: 'float32', shape: ['batch_size', 'image_seq_len', text.hidden_size] } },
    }),
    vision_config: { image_size: imageSize, patch_size: patch, image_seq_len: imageSeqLen },
    preprocessing,
    prompt,
  };
}

/** The chat template (chat_template.jinja, chat_template.json, then tokenizer_config.json) and the image tokens. */
async function chatPromptConfig(folder: string, config: Json, tokenizer: Json, tokCfg: Json, imageSeqLen: number, tiled: boolean): Promise<ChatPromptConfig> {
  let template: string | undefined;
  let source = 'chat_template.jinja';
  const jinja = await readFile(path.join(folder, 'chat_template.jinja'), 'utf8').catch(() => undefined);
  if (jinja !== undefined) template = jinja;
  if (template === undefined) {
    source = 'chat_template.json';
    const ct = await readJson(path.join(folder, 'chat_template.json'), false);
    if (typeof ct?.chat_template === 'string') template = ct.chat_template;
  }
  if (template === undefined) {
    source = 'tokenizer_config.json';
    const t = tokCfg.chat_template;
    if (typeof t === 'string') template = t;
    else if (Array.isArray(t)) template = (t as { name: string; template: string }[]).find((x) => x.name === 'default')?.template;
  }
  if (template === undefined) throw new ModelPackageError(`${folder}: no chat template (tokenizer_config.json chat_template, chat_template.json or chat_template.jinja)`);
  // Parsed now, so that a broken template fails the load (and `models verify`), not the first question.
  try {
    compileChatTemplate(template);
  } catch (err) {
    throw new ModelPackageError(`${path.join(folder, source)}: the chat template does not parse (${firstLine(err)})`);
  }
  const variables: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
    const v = tokenString(tokCfg[key]);
    if (v !== undefined) variables[key] = v;
  }
  const processor = (await readJson(path.join(folder, 'processor_config.json'), false)) ?? {};
  const imageToken = tokenString(processor.image_token) ?? tokenString(tokCfg.image_token) ?? '<image>';
  const fake = tokenString(tokCfg.fake_image_token) ?? '<fake_token_around_image>';
  const globalImg = tokenString(tokCfg.global_image_token) ?? '<global-img>';
  const imageTokenId = num(config.image_token_id) ?? num(config.image_token_index);
  const tokenizerImageId = tokenIdIn(tokenizer, imageToken);
  if (imageTokenId === undefined) throw new ModelPackageError(`${path.join(folder, 'config.json')}: image_token_id is missing`);
  if (tokenizerImageId !== imageTokenId) {
    throw new ModelPackageError(`${folder}: config.json image_token_id ${imageTokenId} is not the tokenizer's ${imageToken} (${tokenizerImageId ?? 'absent'})`);
  }
  for (const t of tiled ? [fake, globalImg] : []) {
    if (tokenIdIn(tokenizer, t) === undefined) throw new ModelPackageError(`${path.join(folder, 'tokenizer.json')}: the tokenizer lacks ${t}`);
  }
  return {
    kind: 'chat_template',
    chat_template: template,
    template_variables: variables,
    image_token: imageToken,
    image_token_id: imageTokenId,
    ...(tiled ? { tiles: { fake_image_token: fake, global_image_token: globalImg } } : {}),
    image_seq_len: imageSeqLen,
    add_special_tokens: true,
  };
}

/** The graphs' inputs and outputs as transformers.js feeds and reads them (the vision encoder's are per family). */
function chatGraphs(files: Record<GraphName, { file: string }>, t: TextConfig, vision: Pick<GraphSpec, 'inputs' | 'outputs'>): Record<GraphName, GraphSpec> {
  const kv = t.kv_cache_dtype;
  const decoderInputs: GraphSpec['inputs'] = {
    inputs_embeds: { dtype: 'float32', shape: ['batch_size', 'sequence_length', t.hidden_size] },
    attention_mask: { dtype: 'int64', shape: ['batch_size', 'total_sequence_length'] },
  };
  const decoderOutputs: GraphSpec['outputs'] = { logits: { dtype: 'float32', shape: ['batch_size', 'sequence_length', t.vocab_size] } };
  for (let i = 0; i < t.num_hidden_layers; i++) {
    for (const kind of ['key', 'value']) {
      decoderInputs[`past_key_values.${i}.${kind}`] = { dtype: kv, shape: ['batch_size', t.num_key_value_heads, 'past_sequence_length', t.head_dim] };
      decoderOutputs[`present.${i}.${kind}`] = { dtype: kv, shape: ['batch_size', t.num_key_value_heads, 'total_sequence_length', t.head_dim] };
    }
  }
  return {
    vision_encoder: { file: files.vision_encoder.file, ...vision },
    embed_tokens: {
      file: files.embed_tokens.file,
      inputs: { input_ids: { dtype: 'int64', shape: ['batch_size', 'sequence_length'] } },
      outputs: { inputs_embeds: { dtype: 'float32', shape: ['batch_size', 'sequence_length', t.hidden_size] } },
    },
    decoder_model_merged: {
      file: files.decoder_model_merged.file,
      inputs: decoderInputs,
      outputs: decoderOutputs,
      optional_inputs: {
        position_ids: { dtype: 'int64', shape: ['batch_size', 'sequence_length'] },
        num_logits_to_keep: { dtype: 'int64', shape: [] },
      },
    },
  };
}

/**
 * A published folder's KV dtype is known for sure only from its decoder graph: take it from the
 * session's `past_key_values.0.key` (float16 or float32) into the generated manifest.
 */
export function adoptKvDtype(manifest: ModelManifest, session: Pick<InferenceSession, 'inputMetadata'>): void {
  const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
  if (!meta?.isTensor || (meta.type !== 'float16' && meta.type !== 'float32')) return;
  const dtype = meta.type;
  manifest.text_config.kv_cache_dtype = dtype;
  const spec = manifest.graphs.decoder_model_merged;
  for (const side of [spec.inputs, spec.outputs]) {
    for (const [name, t] of Object.entries(side)) if (name.startsWith('past_key_values.') || name.startsWith('present.')) t.dtype = dtype;
  }
}
