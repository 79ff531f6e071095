/**
 * The OmniFusion family: prompt layout from the manifest, as OmniFusion 1.1 builds it in
 * `gen_answer` (README of AIRI-Institute/OmniFusion) and trains it in train_src/dataset.py:
 * text(system) [SOI image EOI]… USER text(q) BOT, with no BOS; a history appends
 * answer, USER, q, BOT. Special pieces are learned embeddings, not token ids.
 */
import type { PromptLayout } from '../package/manifest.js';
import type { ChatTurn } from '../protocol.js';

/** One piece of the prompt, in order: token ids, a special embedding row, or an image's features. */
export type PromptSegment =
  | { kind: 'text'; ids: number[] }
  | { kind: 'special'; name: string }
  | { kind: 'image'; index: number };

/** What a prompt is built from. */
export interface PromptInput {
  numImages: number;
  question: string;
  history?: readonly ChatTurn[];
}

const IMAGE_PLACEHOLDER = '<image>';
const QUESTION_PLACEHOLDER = '<question>';

/**
 * Build the prompt segments for OmniFusion.
 * @param encode tokenizer without special tokens (each text piece is encoded separately, as upstream).
 * @param bosTokenId prepended only when the layout asks for it (OmniFusion 1.1 does not).
 */
export function buildOmniFusionPrompt(
  layout: PromptLayout,
  encode: (text: string) => number[],
  input: PromptInput,
  bosTokenId: number,
): PromptSegment[] {
  const segments: PromptSegment[] = [];
  if (layout.add_bos_token) segments.push({ kind: 'text', ids: [bosTokenId] });
  if (layout.system) segments.push({ kind: 'text', ids: encode(layout.system) });
  for (let index = 0; index < input.numImages; index++) {
    for (const piece of layout.image) {
      segments.push(piece === IMAGE_PLACEHOLDER ? { kind: 'image', index } : { kind: 'special', name: piece });
    }
  }
  const pushTurn = (question: string): void => {
    for (const piece of layout.turn) {
      segments.push(piece === QUESTION_PLACEHOLDER ? { kind: 'text', ids: encode(question) } : { kind: 'special', name: piece });
    }
  };
  for (const turn of input.history ?? []) {
    pushTurn(turn.question);
    if (layout.answer_follows_bot) segments.push({ kind: 'text', ids: encode(turn.answer) });
  }
  pushTurn(input.question);
  return segments.filter((s) => s.kind !== 'text' || s.ids.length > 0);
}
