/**
 * The model package manifest: a folder with `manifest.json`, the ONNX graphs, the special
 * embeddings and the tokenizer. Written by native-models/<family>/export.py; see
 * native-models/omnifusion/README.md for the fields' sources.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ClipPreprocessConfig } from '../preprocess/clip.js';

/** Tensor element types used in manifests (ONNX names as onnxruntime-node reports them). */
export type TensorDtype = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';

/** A tensor's declared type: fixed dimensions are numbers, symbolic ones are names. */
export interface TensorSpec {
  dtype: TensorDtype;
  shape: (number | string)[];
}

/** One ONNX graph of a package and its declared inputs/outputs. */
export interface GraphSpec {
  file: string;
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
}

/** The three graphs of the transformers.js / onnx-community VLM layout. */
export type GraphName = 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged';
export const GRAPH_NAMES: readonly GraphName[] = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];

/** Decoder sizes (Mistral-7B for OmniFusion 1.1: 32 layers, 8 KV heads, head_dim 128). */
export interface TextConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  bos_token_id: number;
  eos_token_id: number;
  kv_cache_dtype: 'float32' | 'float16';
}

/** Where prompt pieces go, as OmniFusion 1.1's `gen_answer` builds it (README of AIRI-Institute/OmniFusion). */
export interface PromptLayout {
  /** Text placed first ("This is a dialog with AI assistant.\n" for OmniFusion 1.1). */
  system: string;
  add_bos_token: boolean;
  /** Pieces around each image; `<image>` is the image's features, other names are special embeddings. */
  image: string[];
  /** Pieces of one user turn; `<question>` is the question's token embeddings. */
  turn: string[];
  /** Whether an earlier answer's tokens follow the turn's last piece (BOT) in a multi-turn history. */
  answer_follows_bot: boolean;
}

/** Generation defaults of the family (for OmniFusion: 3 beams, no-repeat 4-grams, newline and ":" banned). */
export interface GenerationDefaults {
  max_new_tokens: number;
  num_beams: number;
  do_sample: boolean;
  no_repeat_ngram_size: number;
  repetition_penalty: number;
  eos_token_id: number;
  /** Strings whose token sequences may not be generated (tokenized without special tokens at load). */
  bad_words?: string[];
  bad_words_ids?: number[][];
  temperature?: number;
  top_k?: number;
  top_p?: number;
}

/** A parsed `manifest.json`. */
export interface ModelManifest {
  format: 'omnifusion-model-package';
  format_version: 1;
  family: string;
  name: string;
  description?: string;
  graphs: Record<GraphName, GraphSpec>;
  text_config: TextConfig;
  vision_config: { image_size: number; num_image_tokens: number; [k: string]: unknown };
  preprocessing: ClipPreprocessConfig;
  prompt: PromptLayout;
  special_embeddings: { file: string; dtype: 'float32'; shape: [number, number]; names: string[] };
  tokenizer: { file: string; config_file: string };
  generation: GenerationDefaults;
  files: Record<string, { bytes: number; sha256: string }>;
}

/** A problem with a model package; `message` is one line naming the folder or file and the problem. */
export class ModelPackageError extends Error {
  override name = 'ModelPackageError';
}

/** Families this engine can run. */
const KNOWN_FAMILIES = new Set(['omnifusion']);

/**
 * Read and check `DIR/manifest.json`: the folder and the manifest exist and parse, the family
 * is known, and every file the manifest names is present.
 * @throws ModelPackageError with a one-line message.
 */
export async function loadManifest(dir: string): Promise<ModelManifest> {
  const folder = path.resolve(dir);
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new ModelPackageError(`model folder not found: ${folder}`);
  if (!info.isDirectory()) throw new ModelPackageError(`model path is not a folder: ${folder}`);
  const manifestPath = path.join(folder, 'manifest.json');
  const text = await readFile(manifestPath, 'utf8').catch(() => undefined);
  if (text === undefined) throw new ModelPackageError(`no manifest.json in model folder ${folder}`);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text) as ModelManifest;
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
  return manifest;
}

/** Every file a manifest refers to: its graphs, special embeddings, tokenizer, and the checksum list. */
export function referencedFiles(manifest: ModelManifest): string[] {
  const files = new Set<string>(Object.keys(manifest.files ?? {}));
  for (const name of GRAPH_NAMES) files.add(manifest.graphs[name].file);
  files.add(manifest.special_embeddings.file);
  files.add(manifest.tokenizer.file);
  files.add(manifest.tokenizer.config_file);
  return [...files];
}
