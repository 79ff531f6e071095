/**
 * The long-lived engine process: bad requests answer with errors and do not kill it, the next
 * good request succeeds in the same process; tokens stream; cancel stops between steps; a
 * crashed engine is restarted and the model reloaded for the next request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EngineError, EngineHost } from '../../main/engine/host.js';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

const chart = { path: path.join(REAL_DATA_DIR, 'screenshots/vegalite_bar.png') };
const greedy = { do_sample: false, num_beams: 1, max_new_tokens: 8 };

describe('engine process', () => {
  let host: EngineHost;
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-engine-'));
    host = new EngineHost();
    const info = await host.load(TINY_MODEL_DIR, 'cpu');
    assert.equal(info.execution_provider, 'cpu');
  });
  after(async () => {
    await host.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('bad requests are answered with errors and the engine keeps serving', async () => {
    const pid = host.pid;
    const empty = path.join(tmp, 'empty.jpg');
    await writeFile(empty, '');
    const bad = [
      host.generate({ images: [{ path: empty }], question: 'q?' }).result,
      host.generate({ images: [{ bytes: new TextEncoder().encode('hello'), name: 'pasted.png' }], question: 'q?' }).result,
      host.generate({ images: [chart], question: '   ' }).result,
      host.generate({ images: [chart], question: 'q?', generation: { top_p: 2 } }).result,
    ];
    const codes = [];
    for (const p of bad) {
      const err = await p.then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof EngineError);
      assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
      codes.push(err.code);
    }
    assert.deepEqual(codes, ['bad_image', 'bad_image', 'bad_request', 'bad_request']);
    const tokens: number[] = [];
    let text = '';
    const ok = await host.generate({ images: [chart], question: 'Which bar is the highest?', generation: greedy }, (id, delta) => {
      if (id >= 0) tokens.push(id);
      text += delta;
    }).result;
    assert.deepEqual(tokens, ok.token_ids, 'each token streamed before done, in order');
    assert.equal(text, ok.answer, 'streamed text deltas add up to the answer');
    assert.ok(ok.token_ids.length > 0);
    assert.equal(host.pid, pid, 'same engine process');
  });

  test('images can be sent as bytes (paste) as well as paths', async () => {
    const { readFile } = await import('node:fs/promises');
    const bytes = new Uint8Array(await readFile(chart.path));
    const a = await host.generate({ images: [chart], question: 'What is shown?', generation: greedy }).result;
    const b = await host.generate({ images: [{ bytes, name: 'clipboard.png' }], question: 'What is shown?', generation: greedy }).result;
    assert.deepEqual(b.token_ids, a.token_ids);
  });

  test('cancel stops a generation between steps', async () => {
    let seen = 0;
    const handle = host.generate(
      { images: [chart], question: 'Describe the chart.', generation: { do_sample: false, num_beams: 1, max_new_tokens: 200, no_repeat_ngram_size: 0, bad_words_ids: [], eos_token_id: [] } },
      () => {
        seen++;
        if (seen === 3) handle.cancel();
      },
    );
    const result = await handle.result;
    assert.equal(result.finish_reason, 'cancelled');
    assert.ok(result.token_ids.length < 200, `stopped after ${result.token_ids.length} tokens`);
  });

  test('a killed engine is restarted and the model reloaded for the next request', async () => {
    const before = host.pid!;
    const pending = host.generate({ images: [chart], question: 'Describe the chart.', generation: { ...greedy, max_new_tokens: 200, eos_token_id: [] } }, () => {
      process.kill(before, 'SIGKILL');
    });
    const err = await pending.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof EngineError && err.code === 'crashed', String(err));
    const again = await host.generate({ images: [chart], question: 'Which bar is the highest?', generation: greedy }).result;
    assert.ok(again.token_ids.length > 0);
    assert.notEqual(host.pid, before);
  });
});
