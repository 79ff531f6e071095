/**
 * The model package manifest: what the engine needs to know about a model folder.
 *
 * - An OmniFusion package has a `manifest.json` (written by native-models/omnifusion/export.py; see
 *   native-models/omnifusion/README.md for the fields' sources): graphs, special embeddings,
 *   tokenizer, prompt layout, preprocessing, generation defaults, checksums.
 * - A model published in the onnx-community / transformers.js layout (`onnx/*.onnx` beside the
 *   Hugging Face config files) is read as published: its manifest is generated in memory from
 *   config.json, preprocessor_config.json, processor_config.json, generation_config.json and the
 *   tokenizer files (see hf-folder.ts); nothing is written into the folder.
 *
 * The manifest's shapes live in manifest-types.ts and ModelPackageError in errors.ts (leaves, so
 * that hf-folder.ts, session.ts and models/ need not import this file); both are re-exported here
 * for the engine's users outside package/ (core/models, cli, tests).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { validateClipConfig } from '../preprocess/clip.js';
import { resolveGenerationConfig, type GenerationConfig } from '../generation/config.js';
import { readHfModelFolder, type HfFolderOptions } from './hf-folder.js';
import { ModelPackageError } from './errors.js';
import { GRAPH_NAMES, OCR_TEXT_POSITIONS, type GraphName, type ModelManifest, type OcrTextLayout, type OmniFusionManifest } from './manifest-types.js';

export { ModelPackageError } from './errors.js';
export { GRAPH_NAMES, OCR_TEXT_POSITIONS } from './manifest-types.js';
export type {
  ChatManifest,
  ChatPromptConfig,
  GenerationDefaults,
  GraphDtype,
  GraphName,
  GraphSpec,
  Idefics3Manifest,
  LlavaManifest,
  ModelManifest,
  OcrTextLayout,
  OcrTextPosition,
  OmniFusionManifest,
  PromptLayout,
  TensorDtype,
  TensorSpec,
  TextConfig,
} from './manifest-types.js';

/** Families a manifest.json package can declare. */
const KNOWN_FAMILIES = new Set(['omnifusion']);

/** Options for reading a folder; `dtype` picks among a published folder's onnx variants (see hf-folder.ts). */
export type LoadManifestOptions = HfFolderOptions;

/**
 * Read and check a model folder: `DIR/manifest.json` (an OmniFusion package: the manifest parses, the
 * family is known, every file it names is present), or else a folder in the onnx-community layout
 * with `config.json` (its manifest generated from the Hugging Face config files, see hf-folder.ts).
 * @throws ModelPackageError with a one-line message.
 */
export async function loadManifest(dir: string, options: LoadManifestOptions = {}): Promise<ModelManifest> {
  const folder = path.resolve(dir);
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new ModelPackageError(`model folder not found: ${folder}`);
  if (!info.isDirectory()) throw new ModelPackageError(`model path is not a folder: ${folder}`);
  const manifestPath = path.join(folder, 'manifest.json');
  const text = await readFile(manifestPath, 'utf8').catch(() => undefined);
  if (text === undefined) {
    const hasConfig = await stat(path.join(folder, 'config.json')).then((s) => s.isFile(), () => false);
    if (hasConfig) return readHfModelFolder(folder, options);
    throw new ModelPackageError(`no manifest.json (or config.json of an onnx-community model) in model folder ${folder}`);
  }
  let manifest: OmniFusionManifest;
  try {
    manifest = JSON.parse(text) as OmniFusionManifest;
  } catch (err) {
    throw new ModelPackageError(`${manifestPath}: invalid JSON (${(err as Error).message})`);
  }
  if (manifest.format !== 'omnifusion-model-package') {
    throw new ModelPackageError(`${manifestPath}: not an OmniFusion Desktop model package manifest`);
  }
  if (manifest.format_version !== 1) {
    throw new ModelPackageError(`${manifestPath}: format_version ${String(manifest.format_version)} is not supported (expected 1)`);
  }
  if (!KNOWN_FAMILIES.has(manifest.family)) {
    throw new ModelPackageError(`${manifestPath}: unknown model family "${manifest.family}"`);
  }
  for (const name of GRAPH_NAMES) {
    const graph = manifest.graphs?.[name];
    if (!graph?.file) throw new ModelPackageError(`${manifestPath}: graph "${name}" is not declared`);
  }
  for (const file of referencedFiles(manifest)) {
    const present = await stat(path.join(folder, file)).then((s) => s.isFile(), () => false);
    if (!present) throw new ModelPackageError(`${folder}: file "${file}" named in manifest.json is missing`);
  }
  validateManifest(manifest, manifestPath);
  return manifest;
}

/**
 * Check a manifest's values and that its parts agree with each other: sizes are positive whole
 * numbers, the graphs' declared shapes match text_config / vision_config / preprocessing, the
 * special embeddings cover the prompt layout, and the generation defaults are valid.
 * @throws ModelPackageError naming the manifest field.
 */
export function validateManifest(m: OmniFusionManifest, manifestPath: string): void {
  const fail = (what: string): never => {
    throw new ModelPackageError(`${manifestPath}: ${what}`);
  };
  const t = m.text_config ?? fail('text_config is missing');
  for (const key of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size'] as const) {
    if (!Number.isInteger(t[key]) || t[key] < 1) fail(`text_config.${key} must be a whole number ≥ 1, got ${JSON.stringify(t[key])}`);
  }
  if (t.num_attention_heads % t.num_key_value_heads) fail('text_config.num_attention_heads must be a multiple of num_key_value_heads');
  if (t.kv_cache_dtype !== 'float32' && t.kv_cache_dtype !== 'float16') fail(`text_config.kv_cache_dtype must be float32 or float16`);
  try {
    validateClipConfig(m.preprocessing);
  } catch (err) {
    fail(`preprocessing: ${(err as Error).message}`);
  }
  const dim = (graph: GraphName, side: 'inputs' | 'outputs', name: string, axis: number): number | string | undefined =>
    m.graphs[graph][side][name]?.shape[axis];
  const expect = (where: string, actual: number | string | undefined, want: number, field: string): void => {
    if (typeof actual === 'number' && actual !== want) fail(`${where} is ${actual} but ${field} is ${want}`);
    if (actual === undefined) fail(`${where} is not declared`);
  };
  const dec = 'decoder_model_merged';
  expect(`${dec} inputs_embeds dimension 2`, dim(dec, 'inputs', 'inputs_embeds', 2), t.hidden_size, 'text_config.hidden_size');
  expect(`${dec} logits dimension 2`, dim(dec, 'outputs', 'logits', 2), t.vocab_size, 'text_config.vocab_size');
  expect(`embed_tokens inputs_embeds dimension 2`, dim('embed_tokens', 'outputs', 'inputs_embeds', 2), t.hidden_size, 'text_config.hidden_size');
  for (let layer = 0; layer < t.num_hidden_layers; layer++) {
    for (const kind of ['key', 'value']) {
      const name = `past_key_values.${layer}.${kind}`;
      expect(`${dec} ${name} dimension 1`, dim(dec, 'inputs', name, 1), t.num_key_value_heads, 'text_config.num_key_value_heads');
      expect(`${dec} ${name} dimension 3`, dim(dec, 'inputs', name, 3), t.head_dim, 'text_config.head_dim');
    }
  }
  const pastInputs = Object.keys(m.graphs[dec].inputs).filter((n) => n.startsWith('past_key_values.')).length;
  if (pastInputs !== 2 * t.num_hidden_layers) fail(`${dec} declares ${pastInputs} past_key_values inputs, text_config.num_hidden_layers needs ${2 * t.num_hidden_layers}`);
  const vis = 'vision_encoder';
  expect(`${vis} image_features dimension 2`, dim(vis, 'outputs', 'image_features', 2), t.hidden_size, 'text_config.hidden_size');
  expect(`${vis} image_features dimension 1`, dim(vis, 'outputs', 'image_features', 1), m.vision_config?.num_image_tokens, 'vision_config.num_image_tokens');
  expect(`${vis} pixel_values dimension 2`, dim(vis, 'inputs', 'pixel_values', 2), m.preprocessing.crop_size.height, 'preprocessing.crop_size.height');
  expect(`${vis} pixel_values dimension 3`, dim(vis, 'inputs', 'pixel_values', 3), m.preprocessing.crop_size.width, 'preprocessing.crop_size.width');
  const se = m.special_embeddings;
  if (!Array.isArray(se?.names) || se.shape?.[0] !== se.names.length || se.shape?.[1] !== t.hidden_size) {
    fail(`special_embeddings.shape must be [${se?.names?.length}, ${t.hidden_size}] (one row per name, text_config.hidden_size wide)`);
  }
  for (const piece of [...(m.prompt?.image ?? []), ...(m.prompt?.turn ?? [])]) {
    if (!piece.startsWith('<') && !se.names.includes(piece)) fail(`prompt uses "${piece}", which special_embeddings.names lacks`);
  }
  if (m.prompt?.ocr_text !== undefined) validateOcrTextLayout(m.prompt.ocr_text, fail);
  const g = m.generation ?? fail('generation is missing');
  const ids: [string, unknown][] = [
    ['text_config.bos_token_id', t.bos_token_id],
    ['text_config.eos_token_id', t.eos_token_id],
    ...(Array.isArray(g.eos_token_id) ? g.eos_token_id : [g.eos_token_id]).map((id): [string, unknown] => ['generation.eos_token_id', id]),
    ...(g.bad_words_ids ?? []).flat().map((id): [string, unknown] => ['generation.bad_words_ids', id]),
  ];
  for (const [field, id] of ids) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= t.vocab_size) {
      fail(`${field} ${JSON.stringify(id)} is not a token id of the ${t.vocab_size}-token vocabulary`);
    }
  }
  try {
    generationDefaultsOf(m, g.bad_words_ids ?? []);
  } catch (err) {
    fail(`generation: ${(err as Error).message}`);
  }
}

/**
 * Check `prompt.ocr_text`.
 * @param fail throws with a one-line message (validateManifest prefixes the manifest's path).
 */
export function validateOcrTextLayout(o: OcrTextLayout, fail: (what: string) => never): void {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) fail('prompt.ocr_text must be an object with position, template and max_tokens');
  if (!OCR_TEXT_POSITIONS.includes(o.position)) {
    fail(`prompt.ocr_text.position must be one of ${OCR_TEXT_POSITIONS.join(', ')}, got ${JSON.stringify(o.position)}`);
  }
  if (typeof o.template !== 'string' || o.template.split('{text}').length !== 2) {
    fail(`prompt.ocr_text.template must be a string with "{text}" exactly once, got ${JSON.stringify(o.template)}`);
  }
  if (o.word_separator !== undefined && (typeof o.word_separator !== 'string' || !o.word_separator)) {
    fail(`prompt.ocr_text.word_separator must be a non-empty string when given, got ${JSON.stringify(o.word_separator)}`);
  }
  if (!Number.isInteger(o.max_tokens) || o.max_tokens < 1) fail(`prompt.ocr_text.max_tokens must be a whole number ≥ 1, got ${JSON.stringify(o.max_tokens)}`);
}

/** Every file a manifest refers to: its graphs, special embeddings, tokenizer, and the checksum list. */
export function referencedFiles(manifest: ModelManifest): string[] {
  const files = new Set<string>(Object.keys(manifest.files ?? {}));
  for (const name of GRAPH_NAMES) files.add(manifest.graphs[name].file);
  if (manifest.family === 'omnifusion') files.add(manifest.special_embeddings.file);
  files.add(manifest.tokenizer.file);
  files.add(manifest.tokenizer.config_file);
  return [...files];
}

/**
 * The manifest's generation defaults as a validated GenerationConfig; `badWordsIds` are the
 * manifest's ids plus its bad-word strings tokenized (the caller has the tokenizer).
 * @throws GenerationConfigError for an invalid value.
 */
export function generationDefaultsOf(m: ModelManifest, badWordsIds: number[][]): GenerationConfig {
  const g = m.generation;
  const optional = { temperature: g.temperature, top_k: g.top_k, top_p: g.top_p, early_stopping: g.early_stopping, length_penalty: g.length_penalty, forced_eos_token_id: g.forced_eos_token_id };
  return resolveGenerationConfig({
    max_new_tokens: g.max_new_tokens,
    num_beams: g.num_beams,
    do_sample: g.do_sample,
    no_repeat_ngram_size: g.no_repeat_ngram_size,
    repetition_penalty: g.repetition_penalty,
    eos_token_id: g.eos_token_id,
    bad_words_ids: badWordsIds,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  });
}
