// The scope of `\newcommand` and its kin: the conversation on screen. Each answer starts with
// the macros the answers before it defined, in order (a later definition wins from there on);
// user messages are plain text and define nothing. See docs/rendering.md.

import type { KatexMacros } from './formula.js';
import { macrosAfter } from './render.js';

/** The macros of a conversation's first answer: none. Frozen: renderers copy it before defining. */
export const NO_MACROS: Readonly<KatexMacros> = Object.freeze({});

/**
 * macrosAfter results by the macros they started from (identity) and the answer's text. The
 * answers of a conversation are the same strings render after render, so each is read once;
 * a streamed answer's growing text is bounded per start by PER_START.
 */
const memo = new WeakMap<Readonly<KatexMacros>, Map<string, Readonly<KatexMacros>>>();
const PER_START = 32;

function after(before: Readonly<KatexMacros>, text: string): Readonly<KatexMacros> {
  let byText = memo.get(before);
  if (!byText) memo.set(before, (byText = new Map()));
  let result = byText.get(text);
  if (result === undefined) {
    result = macrosAfter(text, before);
    if (byText.size >= PER_START) byText.clear();
    byText.set(text, result);
  }
  return result;
}

/**
 * The KaTeX macros in effect at the start of each message of a conversation, oldest first.
 * @param answers each message's Markdown text, or null for a message that is not rendered as
 *   Markdown (the user's own, shown as typed). The last message's text is never read: nothing
 *   follows it, so an answer still streaming costs nothing here.
 * @returns one object per message; the same object (identity) while the messages before it
 *   are unchanged, so a view that depends on it does not re-render. Treat them as read-only.
 */
export function conversationMacros(answers: readonly (string | null)[]): Readonly<KatexMacros>[] {
  const starts: Readonly<KatexMacros>[] = [];
  let current = NO_MACROS;
  for (const [i, text] of answers.entries()) {
    starts.push(current);
    if (text && i < answers.length - 1) current = after(current, text);
  }
  return starts;
}
