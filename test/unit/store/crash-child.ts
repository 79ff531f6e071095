/**
 * Child process of crash.test.ts, killed with SIGKILL while it streams a reply.
 *
 * argv: <dataDir> <mode>. Every streamed chunk is exactly one batch (flushChars), so a
 * returned append() means that batch is committed. Prints one line per event:
 *   `setup <conversationId> <messageId>` once the complete history and the reply exist,
 *   `flushed <n>` after n batches are committed.
 * mode 'stop': streams BATCHES batches, appends an unflushed tail, prints
 *   `flushed BATCHES`, then idles until killed.
 * mode 'run': streams without end (with other writes in between), printing every 20 batches.
 */
import { openStore } from '../../../main/core/store/store.js';

export const FLUSH_CHARS = 8;
export const BATCHES = 25;
/** The i-th streamed chunk, FLUSH_CHARS long. */
export const chunk = (i: number): string => `b${String(i).padStart(6, '0')} `;
export const COMPLETE_HISTORY = ['What is 2 + 2?', 'It is 4.'];

// Only when run as a script; the test imports the constants above.
if (process.argv[1]?.endsWith('crash-child.ts')) {
  const [dataDir, mode] = process.argv.slice(2) as [string, 'stop' | 'run'];
  const store = openStore({ dataDir, flushChars: FLUSH_CHARS, flushIntervalMs: 3_600_000 });
  const c = store.createConversation('crash');
  store.addMessage(c.id, { role: 'user', content: COMPLETE_HISTORY[0]! });
  store.addMessage(c.id, { role: 'assistant', content: COMPLETE_HISTORY[1]!, model: 'tiny' });
  store.addMessage(c.id, { role: 'user', content: 'Now stream a long answer.' });
  const writer = store.beginAssistantMessage(c.id, 'tiny');
  process.stdout.write(`setup ${c.id} ${writer.messageId}\n`);

  if (mode === 'stop') {
    for (let i = 0; i < BATCHES; i++) writer.append(chunk(i));
    writer.append('unsaved');
    process.stdout.write(`flushed ${BATCHES}\n`);
    setInterval(() => {}, 1000);
  } else {
    const side = store.createConversation('side');
    let i = 0;
    const step = () => {
      writer.append(chunk(i++));
      if (i % 7 === 0) store.addMessage(side.id, { role: 'user', content: `side ${i}` });
      if (i % 20 === 0) process.stdout.write(`flushed ${i}\n`);
      setImmediate(step);
    };
    step();
  }
}
