/**
 * A prompt against the model's context: what each position holds (the keys the reuse cache
 * matches, reuse-cache.ts), and leaving out the earliest turns of a conversation until its
 * prompt fits. Never left out: the system text, the images, the current question.
 */
import type { PromptSegment } from '../models/omnifusion.js';
import type { GenerateRequest } from '../protocol.js';
import type { PositionKey } from './reuse-cache.js';

/**
 * OmniFusion: the key of every prompt position of `segments`, in order.
 * @param rowsPerImage image_features rows per image (T of [N,T,D]).
 * @param imageKeys each image's content key (sha256), by image index.
 */
export function omniFusionPositionKeys(segments: readonly PromptSegment[], rowsPerImage: number, imageKeys: readonly string[]): PositionKey[] {
  const keys: PositionKey[] = [];
  for (const s of segments) {
    if (s.kind === 'text') for (const id of s.ids) keys.push(`t${id}`);
    else if (s.kind === 'special') keys.push(`s${s.name}`);
    else for (let r = 0; r < rowsPerImage; r++) keys.push(`i${imageKeys[s.index]}:${r}`);
  }
  return keys;
}

/**
 * Idefics3 / LLaVA: the key of every prompt position; the k-th image token holds row k of the
 * request's image_features (all images, in order), so it is keyed by the images' content and k.
 */
export function chatPositionKeys(ids: readonly number[], imageTokenId: number, imagesKey: string): PositionKey[] {
  let row = 0;
  return ids.map((id) => (id === imageTokenId ? `i${imagesKey}:${row++}` : `t${id}`));
}

/**
 * The prompt of `request` with its earliest history turns left out, one at a time, until
 * `fits(length)` or none is left (then the caller's context check decides).
 * @param build the prompt of a request and its length in positions.
 * @returns the prompt built last and how many turns were left out.
 */
export function fitHistory<T>(
  request: GenerateRequest,
  build: (request: GenerateRequest) => { value: T; length: number },
  fits: (length: number) => boolean,
): { value: T; dropped: number } {
  const history = request.history ?? [];
  let dropped = 0;
  for (;;) {
    const built = build(dropped ? { ...request, history: history.slice(dropped) } : request);
    if (fits(built.length) || dropped >= history.length) return { value: built.value, dropped };
    dropped += 1;
  }
}
