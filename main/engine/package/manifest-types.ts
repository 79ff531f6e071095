/**
 * The shapes of a model package's manifest: graphs and their tensors, decoder sizes, prompt
 * layouts (OmniFusion's segments, the chat-template families' ChatPromptConfig), generation
 * defaults, one manifest type per family, and the names they use (graphs, onnx variant dtypes,
 * OCR text positions). Types and constant lists only: manifest.ts (manifest.json) and hf-folder.ts
 * (onnx-community folders) build these, the rest of the engine reads them; this file imports only
 * the preprocessing config types, so dependencies point one way.
 */
import type { ClipPreprocessConfig } from '../preprocess/clip.js';
import type { Idefics3PreprocessConfig } from '../preprocess/idefics3.js';
import type { ResizePreprocessConfig } from '../preprocess/resize.js';

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
  /** Inputs the graph may have or not (fed only when it has them), e.g. a decoder's `num_logits_to_keep`. */
  optional_inputs?: Record<string, TensorSpec>;
}

/** The three graphs of the transformers.js / onnx-community VLM layout. */
export type GraphName = 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged';
export const GRAPH_NAMES: readonly GraphName[] = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];

/**
 * The onnx variants of a graph in the onnx-community layout, by transformers.js dtype name
 * (`utils/dtypes.js`); hf-folder.ts maps each to its file suffix.
 */
export type GraphDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

/** Decoder sizes (Mistral-7B for OmniFusion 1.1: 32 layers, 8 KV heads, head_dim 128). */
export interface TextConfig {
  /** Longest sequence (prompt + answer) the positions were made for; 32768 for Mistral-7B-v0.1. */
  max_position_embeddings?: number;
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
  /** Where text read from the images (OCR tokens) goes; absent: the package takes no OCR text. */
  ocr_text?: OcrTextLayout;
}

/**
 * Places for OCR text in the prompt:
 * - `after_question`: appended to the current question's text and encoded with it as one piece
 *   (`USER text(q + template) BOT`); OmniFusion, as the paper's TextVQA-with-OCR evaluation
 *   (lmms-eval `textvqa_doc_to_text`, ocr=True) builds the question: q + "\nReference OCR token: " + tokens joined by ", ".
 * - `before_question`: prepended to the current question's text, encoded with it as one piece.
 * - `after_image`: a text piece of its own right after each image's pieces (after EOI), holding that image's text.
 */
export type OcrTextPosition = 'after_question' | 'before_question' | 'after_image';
export const OCR_TEXT_POSITIONS: readonly OcrTextPosition[] = ['after_question', 'before_question', 'after_image'];

/** The manifest's `prompt.ocr_text`: where and how text read from the images enters the prompt. */
export interface OcrTextLayout {
  position: OcrTextPosition;
  /** The inserted text; "{text}" (exactly once) is replaced by the recognised text. */
  template: string;
  /**
   * If set, the recognised text is split into words at whitespace and joined with this (", " gives
   * TextVQA's "OCR tokens" list); if absent, lines stay as read (blocks separated by an empty line).
   * Texts of several images for a question position are joined with this too (else "\n\n").
   */
  word_separator?: string;
  /**
   * Most tokens of recognised text per request, all images together (the template's own tokens
   * are not counted). Longer text is cut at a word boundary; the budget is shared fairly among images.
   */
  max_tokens: number;
}

/** Generation defaults of the family (for OmniFusion: 3 beams, no-repeat 4-grams, newline and ":" banned). */
export interface GenerationDefaults {
  max_new_tokens: number;
  num_beams: number;
  early_stopping?: boolean;
  length_penalty?: number;
  do_sample: boolean;
  no_repeat_ngram_size: number;
  repetition_penalty: number;
  eos_token_id: number | number[];
  /** The token forced when one new token is left (transformers' forced_eos_token_id; OmniFusion's reference sets 2). */
  forced_eos_token_id?: number;
  /** Strings whose token sequences may not be generated (tokenized without special tokens at load). */
  bad_words?: string[];
  bad_words_ids?: number[][];
  temperature?: number;
  top_k?: number;
  top_p?: number;
}

/** Fields every family's manifest has. */
interface ManifestCommon {
  format: 'omnifusion-model-package';
  format_version: 1;
  name: string;
  description?: string;
  graphs: Record<GraphName, GraphSpec>;
  text_config: TextConfig;
  tokenizer: { file: string; config_file: string };
  generation: GenerationDefaults;
  /** Checksums; empty for a folder read as published (the catalog holds those checksums). */
  files: Record<string, { bytes: number; sha256: string }>;
  /** Where it came from: the package's manifest.json, or generated from a Hugging Face folder's config files. */
  origin?: 'manifest.json' | 'hf-config';
}

/** A parsed OmniFusion `manifest.json`. */
export interface OmniFusionManifest extends ManifestCommon {
  family: 'omnifusion';
  vision_config: { image_size: number; num_image_tokens: number; [k: string]: unknown };
  preprocessing: ClipPreprocessConfig;
  prompt: PromptLayout;
  special_embeddings: { file: string; dtype: 'float32'; shape: [number, number]; names: string[] };
}

/**
 * What a chat-template prompt is built from (the manifest's `prompt` for the idefics3 and llava
 * families).
 */
export interface ChatPromptConfig {
  kind: 'chat_template';
  /** The Jinja chat template. */
  chat_template: string;
  /** Extra template variables: the tokenizer's special tokens (bos_token, eos_token, …), as transformers passes them. */
  template_variables: Record<string, string>;
  image_token: string;
  image_token_id: number;
  /**
   * Idefics3: each image is expanded into tile blocks marked with these tokens (Idefics3Processor).
   * Absent: each `<image>` becomes `<image>` × image_seq_len (LlavaProcessor).
   */
  tiles?: { fake_image_token: string; global_image_token: string };
  /** Image tokens (and image_features rows) per tile (Idefics3) or per image (LLaVA). */
  image_seq_len: number;
  /** Whether the tokenizer's post-processor runs on the prompt (the processor tokenizes with add_special_tokens=True). */
  add_special_tokens: boolean;
}

/** An Idefics3 (SmolVLM, granite-docling) folder in the onnx-community layout, read as published. */
export interface Idefics3Manifest extends ManifestCommon {
  family: 'idefics3';
  origin: 'hf-config';
  /** config.json's `vision_config` sizes and `scale_factor`; `image_seq_len` tokens per tile. */
  vision_config: { image_size: number; patch_size: number; scale_factor: number; image_seq_len: number };
  preprocessing: Idefics3PreprocessConfig;
  prompt: ChatPromptConfig;
  /** The onnx file chosen per graph ('fp32', 'q4f16', …: the transformers.js dtype names). */
  dtypes: Record<GraphName, string>;
}

/** A LLaVA folder (llava-interleave-qwen-0.5b) in the onnx-community layout, read as published. */
export interface LlavaManifest extends ManifestCommon {
  family: 'llava';
  origin: 'hf-config';
  /** config.json's vision_config sizes; `image_seq_len` image tokens per image. */
  vision_config: { image_size: number; patch_size: number; image_seq_len: number };
  preprocessing: ClipPreprocessConfig | ResizePreprocessConfig;
  prompt: ChatPromptConfig;
  dtypes: Record<GraphName, string>;
}

/** A model's manifest, by family. */
export type ModelManifest = OmniFusionManifest | Idefics3Manifest | LlavaManifest;

/** The families whose prompt is the folder's chat template. */
export type ChatManifest = Idefics3Manifest | LlavaManifest;
