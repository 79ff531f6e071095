/**
 * What the engine keeps between requests so a follow-up does not start over: the decoder's KV
 * cache of earlier prompts (and the answers generated after them), matched by the longest common
 * prefix of prompt positions, and the image_features of recently seen images, keyed by the images'
 * content (sha256). Both are bounded by a byte budget with least-recently-used eviction, live in
 * the engine process with the loaded model (a new model or an engine restart starts empty; the
 * next request then computes from scratch and stores again) and hold CPU tensors only: a KV cache
 * kept in GPU memory (webgpu) cannot be sliced from JS, so it is not kept.
 *
 * Prefix reuse is the technique of vLLM's automatic prefix caching and llama.cpp's prompt cache
 * (`cache_prompt`): position i's keys and values depend only on the positions ≤ i, so a prompt
 * that begins like a cached sequence can start its prefill at the first position that differs.
 */
import * as ort from 'onnxruntime-node';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { checkImageFile } from '../../media/images/index.js';
import type { ImageSource } from '../protocol.js';

/**
 * What a prompt position holds, as a string that is equal exactly when the decoder's input there
 * is: `t<id>` a token, `s<name>` an OmniFusion special embedding, `i<images>:<row>` row `row` of
 * the image_features of the request's images (`<images>` is their content key, see imagesKey).
 */
export type PositionKey = string;

/** The past_key_values of one sequence: `past_key_values.N.key/value`, each [1, kv_heads, length, head_dim], CPU data. */
export type KvTensors = Record<string, ort.Tensor>;

/** A common byte-budgeted LRU map (Map keeps insertion order; a use moves the entry last). */
class LruBytes<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private total = 0;
  /** Entries dropped to stay within the budget. */
  evictions = 0;

  constructor(readonly budgetBytes: number) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Insert (or replace) and evict the least recently used until within the budget; a value larger than the whole budget is not kept. */
  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.budgetBytes) return;
    this.entries.set(key, { value, bytes });
    this.total += bytes;
    for (const [k, e] of this.entries) {
      if (this.total <= this.budgetBytes) break;
      this.entries.delete(k);
      this.total -= e.bytes;
      this.evictions += 1;
    }
  }

  delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.bytes;
  }

  /** Entries from least to most recently used. */
  *values(): IterableIterator<[K, V]> {
    for (const [k, e] of this.entries) yield [k, e.value];
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}

/** A cached sequence: what each position held and its KV tensors (length = keys.length). */
interface KvEntry {
  keys: PositionKey[];
  past: KvTensors;
}

/** The longest cached prefix of a prompt: copies of its KV tensors, `length` positions long. */
export interface KvPrefix {
  length: number;
  past: KvTensors;
}

/** Counters of one cache since load (for the bench and tests). */
export interface ReuseStats {
  /** Requests whose prefill started after a cached prefix, and the positions that saved. */
  kvHits: number;
  kvReusedPositions: number;
  /** Requests whose images' features came from the cache. */
  featureHits: number;
  /** Entries dropped to stay within the budget (least recently used first). */
  evictions: number;
  /** Entries and bytes held now. */
  kvEntries: number;
  kvBytes: number;
  featureBytes: number;
}

/** Bytes of a tensor's data. */
function tensorBytes(t: ort.Tensor): number {
  return (t.data as ArrayBufferView).byteLength;
}

/**
 * Positions of `past` kept: row `row` of every tensor, its first `length` positions, as new
 * tensors [1, heads, length, head_dim] (a copy; the input is left as it was).
 */
export function sliceKv(past: KvTensors, length: number, row = 0): KvTensors {
  const out: KvTensors = {};
  for (const [name, t] of Object.entries(past)) {
    const [rows, heads, seq, dim] = t.dims as [number, number, number, number];
    if (row >= rows || length > seq) throw new Error(`cannot take row ${row}, ${length} positions of a KV tensor [${t.dims.join(',')}]`);
    const src = t.data as Float32Array | Uint16Array;
    const dst = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(heads * length * dim);
    for (let h = 0; h < heads; h++) {
      const from = ((row * heads + h) * seq) * dim;
      dst.set(src.subarray(from, from + length * dim), h * length * dim);
    }
    out[name] = new ort.Tensor(t.type as 'float32', dst as Float32Array, [1, heads, length, dim]);
  }
  return out;
}

/** Positions two key lists share from the start. */
function commonPrefix(a: readonly PositionKey[], b: readonly PositionKey[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The KV prefix cache and the image-features cache of one loaded model, sharing one byte budget
 * (the features get at most a quarter of it).
 */
export class ReuseCache {
  private readonly kv: LruBytes<number, KvEntry>;
  private readonly features: LruBytes<string, unknown>;
  private nextId = 0;
  private kvHits = 0;
  private kvReusedPositions = 0;
  private featureHits = 0;

  /** @param budgetBytes bytes of KV tensors and features kept in all; 0 keeps nothing (every request from scratch). */
  constructor(readonly budgetBytes: number) {
    this.features = new LruBytes(Math.floor(budgetBytes / 4));
    this.kv = new LruBytes(budgetBytes - this.features.budgetBytes);
  }

  get enabled(): boolean {
    return this.budgetBytes > 0;
  }

  /**
   * The longest cached prefix of `keys`, at most `keys.length - 1` positions (the last prompt
   * position is always run: its logits start the answer), or undefined when none is shared.
   */
  takePrefix(keys: readonly PositionKey[]): KvPrefix | undefined {
    let best: { id: number; entry: KvEntry; length: number } | undefined;
    for (const [id, entry] of this.kv.values()) {
      const length = Math.min(commonPrefix(entry.keys, keys), keys.length - 1);
      if (length > 0 && (!best || length > best.length)) best = { id, entry, length };
    }
    if (!best) return undefined;
    this.kv.get(best.id); // most recently used
    this.kvHits += 1;
    this.kvReusedPositions += best.length;
    return { length: best.length, past: sliceKv(best.entry.past, best.length) };
  }

  /**
   * Keep the KV tensors of a sequence whose positions held `keys` (tensors [1, heads, keys.length,
   * head_dim], kept as given: the caller must not change them). An entry whose keys are a prefix
   * of these is dropped: the new one serves every prompt the old one did.
   */
  putSequence(keys: readonly PositionKey[], past: KvTensors): void {
    if (!this.enabled || !keys.length) return;
    for (const [name, t] of Object.entries(past)) {
      if (t.location !== 'cpu' || t.dims[0] !== 1 || t.dims[2] !== keys.length) throw new Error(`${name}: a cached KV tensor must be CPU data [1, heads, ${keys.length}, head_dim], got [${t.dims.join(',')}]`);
    }
    for (const [id, entry] of [...this.kv.values()]) {
      if (entry.keys.length <= keys.length && commonPrefix(entry.keys, keys) === entry.keys.length) this.kv.delete(id);
    }
    const bytes = Object.values(past).reduce((n, t) => n + tensorBytes(t), 0);
    this.kv.set(this.nextId++, { keys: [...keys], past }, bytes);
  }

  /** Cached image features of the images with content key `key` (see imagesKey). */
  getFeatures<T>(key: string): T | undefined {
    const hit = this.features.get(key) as T | undefined;
    if (hit !== undefined) this.featureHits += 1;
    return hit;
  }

  /** Keep `value` (features of `bytes` bytes) for the images with content key `key`. */
  putFeatures(key: string, value: unknown, bytes: number): void {
    if (this.enabled) this.features.set(key, value, bytes);
  }

  stats(): ReuseStats {
    return {
      kvHits: this.kvHits,
      kvReusedPositions: this.kvReusedPositions,
      featureHits: this.featureHits,
      evictions: this.kv.evictions + this.features.evictions,
      kvEntries: this.kv.size,
      kvBytes: this.kv.bytes,
      featureBytes: this.features.bytes,
    };
  }

  clear(): void {
    this.kv.clear();
    this.features.clear();
  }
}

/**
 * The content key of a request's images: the sha256 of each one's bytes, in order (a file is
 * read as a stream after the decoder's own file checks, so a large one is never held whole here).
 * @throws ImageInputError for a path that is not a readable image file within the size limit.
 */
export async function imagesKey(images: readonly ImageSource[]): Promise<string> {
  const parts: string[] = [];
  for (const image of images) {
    const hash = createHash('sha256');
    if ('path' in image) {
      await checkImageFile(image.path);
      for await (const chunk of createReadStream(image.path)) hash.update(chunk as Buffer);
    } else {
      hash.update(image.bytes);
    }
    parts.push(hash.digest('hex'));
  }
  return parts.join(',');
}
