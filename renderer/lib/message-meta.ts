// The one-line description of how an answer was made (model · execution provider · tokens ·
// speed · time), as the chat window shows it under an answer and the exports write it.

import type { MessageTimings } from '../../main/api/contract.js';

/** The parts of a message {@link answerMeta} reads. */
export interface MetaSource {
  model?: string;
  executionProvider?: string;
  timings?: MessageTimings;
}

/**
 * `model · provider · N tokens · R tok/s · T s`, leaving out what is unknown; '' when nothing is.
 * The speed is of decoding only: (completionTokens − 1) over the time after the first token.
 */
export function answerMeta(message: MetaSource): string {
  const parts: string[] = [];
  if (message.model) parts.push(message.model);
  if (message.executionProvider) parts.push(message.executionProvider);
  const t = message.timings;
  if (t?.completionTokens) parts.push(`${t.completionTokens} tokens`);
  const decodeMs = t?.totalMs !== undefined ? t.totalMs - (t.timeToFirstTokenMs ?? 0) : 0;
  if (t?.completionTokens && t.completionTokens > 1 && decodeMs > 0) parts.push(`${((t.completionTokens - 1) / (decodeMs / 1000)).toFixed(1)} tok/s`);
  if (t?.totalMs) parts.push(`${(t.totalMs / 1000).toFixed(1)} s`);
  return parts.join(' · ');
}

/**
 * What an answer's prompt lacked or exceeded, one line for the answer's details: the earliest
 * turns left out to fit the context, and the engine's warning; '' when neither.
 */
export function contextNote(timings: MessageTimings | null | undefined): string {
  const parts: string[] = [];
  const dropped = timings?.droppedTurns ?? 0;
  if (dropped > 0) parts.push(`${dropped} earliest ${dropped === 1 ? 'turn' : 'turns'} left out to fit the model's context`);
  if (timings?.warning) parts.push(timings.warning);
  return parts.join(' · ');
}
