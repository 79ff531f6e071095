/** Reading the tiny model's PyTorch reference (reference.json and its raw float32 tensors). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TINY_REFERENCE_DIR } from '../fixtures/reference-cases.js';

/** One case of reference.json as written by native-models/omnifusion/reference.py. */
export interface ReferenceCaseResult {
  name: string;
  images: string[];
  question: string;
  history: { question: string; answer: string }[];
  cli_args: string[] | null;
  pixel_values_file: string;
  pixel_values_shape: number[];
  generation: {
    max_new_tokens: number;
    repetition_penalty: number;
    no_repeat_ngram_size: number;
    bad_words_ids: number[][];
    eos_token_id: number;
    num_beams: number;
    length_penalty: number;
    early_stopping: boolean;
    /** OmniFusion's reference setting (2): the max_new_tokens-th token is EOS. */
    forced_eos_token_id?: number;
  };
  beam_early_stopped?: boolean;
  expected_token_ids: number[];
  min_margin: number;
  inputs_embeds_length: number;
  image_features_file?: string;
  image_features_shape?: number[];
  first_step_logits_file?: string;
}

/** reference.json's cases. */
export function loadReference(): { model: string; cases: ReferenceCaseResult[] } {
  return JSON.parse(readFileSync(path.join(TINY_REFERENCE_DIR, 'reference.json'), 'utf8')) as { model: string; cases: ReferenceCaseResult[] };
}

/** A raw little-endian float32 file of the reference folder. */
export function readF32(file: string): Float32Array {
  const bytes = readFileSync(path.join(TINY_REFERENCE_DIR, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** max |a - b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
