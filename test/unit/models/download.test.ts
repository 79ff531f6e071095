import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pullModel } from '../../../main/core/models/download.js';
import { ModelError } from '../../../main/core/models/errors.js';
import { requestFile } from '../../../main/core/models/hub.js';
import { listInstalled, partialDir, MARKER_FILE } from '../../../main/core/models/install.js';
import type { PullProgress } from '../../../main/core/models/progress.js';
import { CONFIG, CONTENT, DECODER, REPO, REV, TOTAL_BYTES, VISION, checkProgress, makeEnv, sha256, testModel } from './fixture.js';

const check = (cond: boolean, msg: string): void => assert.ok(cond, msg);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<ModelError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    assert.equal(err.code, code, `code ${err.code}: ${err.message}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err;
  }
  assert.fail(`expected a ${code} error`);
}

async function installedFiles(dir: string): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const p of Object.keys(CONTENT)) out[p] = await readFile(path.join(dir, p));
  return out;
}

test('a pull with sizes and sha256 from the Hub installs every verified file and lists the model', async () => {
  const env = await makeEnv();
  try {
    const result = await pullModel(testModel(), env.options);
    assert.equal(result.alreadyInstalled, false);
    assert.deepEqual(await installedFiles(result.dir), CONTENT);
    for (const [p, b] of Object.entries(CONTENT)) assert.deepEqual(result.marker.files[p], { bytes: b.length, sha256: sha256(b) });
    assert.deepEqual(result.marker.source, { kind: 'hub', baseUrl: env.hub.url, repo: REPO, revision: REV });
    const listed = await listInstalled(env.modelsDir);
    assert.deepEqual(listed.map((m) => m.id), ['tiny-vlm']);
    // The catalog had no sizes: HEAD requests came first, then the GETs; LFS files through the CDN.
    assert.ok(env.hub.requests.filter((r) => r.method === 'HEAD').length >= 3);
    assert.equal(env.hub.requestsFor(DECODER, 'cdn').filter((r) => r.method === 'GET').length, 1);
    // The config is served from git: verified by its git blob sha1 ETag.
    assert.equal(env.hub.requestsFor(CONFIG, 'cdn').length, 0);
    // Nothing is left behind in .partial.
    assert.deepEqual(await readdir(path.join(env.modelsDir, '.partial')), []);
    // A second pull finds it installed and makes no request.
    const before = env.hub.requests.length;
    const again = await pullModel(testModel(), env.options);
    assert.equal(again.alreadyInstalled, true);
    assert.equal(env.hub.requests.length, before);
  } finally {
    await env.cleanup();
  }
});

test('an interrupted transfer resumes from where it stopped with Range: bytes=<n>-', async () => {
  const env = await makeEnv();
  try {
    env.hub.cutAfter(DECODER, 400_000);
    const result = await pullModel(testModel({ sizes: true }), env.options);
    const gets = env.hub.requestsFor(DECODER, 'cdn').filter((r) => r.method === 'GET');
    assert.equal(gets.length, 2);
    assert.equal(gets[0]!.range, undefined);
    assert.equal(gets[0]!.bytesSent, 400_000);
    // The resume starts at the bytes the client had written when the connection dropped (all
    // 400 000 unless some were still in flight when the socket closed).
    const n = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
    assert.ok(n > 300_000 && n <= 400_000, `second request: Range ${gets[1]!.range}`);
    assert.equal(gets[1]!.status, 206);
    assert.equal(gets[1]!.bytesSent, CONTENT[DECODER]!.length - n, 'only the rest was sent again');
    const transferred = gets.reduce((s, r) => s + r.bytesSent, 0);
    assert.ok(transferred <= CONTENT[DECODER]!.length + (400_000 - n), `${transferred} bytes transferred for a ${CONTENT[DECODER]!.length}-byte file, not twice`);
    assert.deepEqual(await readFile(path.join(result.dir, DECODER)), CONTENT[DECODER]);
    assert.equal(env.sleeps.length, 1, 'one backoff before the resume');
    checkProgress(env.events, check);
  } finally {
    await env.cleanup();
  }
});

test('a corrupted byte fails verification; the file is fetched again and the install succeeds', async () => {
  const env = await makeEnv();
  try {
    env.hub.corrupt(DECODER);
    const result = await pullModel(testModel({ sizes: true }), env.options);
    const gets = env.hub.requestsFor(DECODER, 'cdn').filter((r) => r.method === 'GET');
    assert.equal(gets.length, 2);
    assert.equal(gets[1]!.range, undefined, 'fetched again from the start');
    assert.deepEqual(await readFile(path.join(result.dir, DECODER)), CONTENT[DECODER]);
    assert.equal(result.marker.files[DECODER]!.sha256, sha256(CONTENT[DECODER]!));
    const last = checkProgress(env.events, check);
    assert.equal(last.bytesTotal, TOTAL_BYTES + CONTENT[DECODER]!.length, 'the refetch grows the total; done never goes back');
  } finally {
    await env.cleanup();
  }
});

test('a catalog sha256 is checked too: a file corrupted twice fails, is deleted, and nothing is listed', async () => {
  const env = await makeEnv();
  try {
    env.hub.corrupt(VISION, 2);
    const err = await rejectsWith(pullModel(testModel({ sizes: true, sha256: true }), env.options), 'checksum_mismatch');
    assert.match(err.message, /^onnx\/vision_encoder\.onnx from test-org\/tiny-vlm@0123456789abcdef0123456789abcdef01234567 failed verification twice/);
    await assert.rejects(stat(path.join(partialDir(env.modelsDir, 'tiny-vlm'), VISION)), { code: 'ENOENT' });
    assert.deepEqual(await listInstalled(env.modelsDir), []);
  } finally {
    await env.cleanup();
  }
});

test('404 → "<file> not found in <repo>@<rev>"', async () => {
  const env = await makeEnv();
  try {
    env.hub.notFound(DECODER);
    const err = await rejectsWith(pullModel(testModel({ sizes: true }), env.options), 'not_found');
    assert.equal(err.message, `${DECODER} not found in ${REPO}@${REV}`);
    assert.deepEqual(await listInstalled(env.modelsDir), []);
    // Also when found missing while planning (HEAD).
    const err2 = await rejectsWith(pullModel(testModel(), env.options), 'not_found');
    assert.equal(err2.message, `${DECODER} not found in ${REPO}@${REV}`);
    assert.equal(env.sleeps.length, 0, '404 is not retried');
  } finally {
    await env.cleanup();
  }
});

test('401 → "the Hub refused access to <repo> (gated or private: …)"; with the token it works', async () => {
  const env = await makeEnv();
  try {
    env.hub.gate(REPO, 'hf_secret');
    const err = await rejectsWith(pullModel(testModel(), env.options), 'access_denied');
    assert.match(err.message, /^the Hub refused access to test-org\/tiny-vlm \(gated or private: .*HTTP 401\)$/);
    assert.equal(env.sleeps.length, 0, '401 is not retried');
    const ok = await pullModel(testModel(), { ...env.options, token: 'hf_secret' });
    assert.equal(ok.id, 'tiny-vlm');
    assert.ok(env.hub.requests.filter((r) => r.kind === 'resolve').every((r) => r.authorization === undefined || r.authorization === 'Bearer hf_secret'));
  } finally {
    await env.cleanup();
  }
});

test('the token is sent to the Hub only, never to a CDN on another origin', async () => {
  const seen: { url: string; auth: string | null }[] = [];
  const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    seen.push({ url, auth: new Headers(init?.headers).get('authorization') });
    if (url.startsWith('https://hub.example')) {
      return new Response(null, { status: 302, headers: { location: 'https://cdn.example/blob', 'x-linked-size': '3', 'x-linked-etag': `"${'a'.repeat(64)}"` } });
    }
    return new Response('abc', { status: 200, headers: { 'content-length': '3' } });
  }) as typeof fetch;
  const { meta } = await requestFile({ baseUrl: 'https://hub.example', repo: 'o/r', revision: REV, path: 'x.onnx' }, { method: 'GET', token: 't0k', fetch: fakeFetch });
  assert.deepEqual(seen.map((s) => s.auth), ['Bearer t0k', null]);
  assert.deepEqual(meta, { size: 3, sha256: 'a'.repeat(64) });
});

test('5xx answers are retried with exponential backoff, then give up with a clear error', async () => {
  const env = await makeEnv();
  try {
    env.hub.fail(DECODER, 2, 500);
    await pullModel(testModel({ sizes: true }), env.options);
    assert.deepEqual(env.sleeps, [500, 1000]);
  } finally {
    await env.cleanup();
  }
  const env2 = await makeEnv({ retry: { retries: 3, baseDelayMs: 100 } });
  try {
    env2.hub.fail(DECODER, 100, 503);
    const err = await rejectsWith(pullModel(testModel({ sizes: true }), env2.options), 'http');
    assert.match(err.message, /HTTP 503 for onnx\/decoder_model_merged\.onnx .*gave up .*after 3 retries/);
    assert.deepEqual(env2.sleeps, [100, 200, 400]);
    assert.deepEqual(await listInstalled(env2.modelsDir), []);
  } finally {
    await env2.cleanup();
  }
});

test('disk full is reported before any request when the catalog has every size; nothing is written', async () => {
  const env = await makeEnv({ statfs: async () => ({ bavail: 1000, bsize: 1000 }) });
  try {
    const err = await rejectsWith(pullModel(testModel({ sizes: true }), env.options), 'disk_full');
    assert.match(err.message, /^not enough free disk space in .*models for Tiny VLM \(fp32\): need 1\.\d+ MB \(\d+ bytes\), 1\.00 MB \(1000000 bytes\) free$/);
    assert.equal(err.details.neededBytes, TOTAL_BYTES);
    assert.equal(err.details.freeBytes, 1_000_000);
    assert.equal(env.hub.requests.length, 0, 'no request at all');
    await assert.rejects(stat(env.modelsDir), { code: 'ENOENT' }, 'nothing written');
  } finally {
    await env.cleanup();
  }
});

test('disk full without sizes in the catalog: only HEAD requests, no GET, nothing written', async () => {
  const env = await makeEnv({ statfs: async () => ({ bavail: 10, bsize: 4096 }) });
  try {
    await rejectsWith(pullModel(testModel(), env.options), 'disk_full');
    assert.ok(env.hub.requests.length > 0);
    assert.ok(env.hub.requests.every((r) => r.method === 'HEAD' && r.bytesSent === 0));
    await assert.rejects(stat(env.modelsDir), { code: 'ENOENT' });
  } finally {
    await env.cleanup();
  }
});

test('the free-space check counts bytes already downloaded: a resume needs only the rest', async () => {
  const env = await makeEnv();
  try {
    const staging = partialDir(env.modelsDir, 'tiny-vlm');
    await mkdir(path.join(staging, 'onnx'), { recursive: true });
    await writeFile(path.join(staging, DECODER), CONTENT[DECODER]!.subarray(0, 900_000));
    const rest = TOTAL_BYTES - 900_000;
    await pullModel(testModel({ sizes: true }), { ...env.options, statfs: async () => ({ bavail: rest, bsize: 1 }) });
    const gets = env.hub.requestsFor(DECODER, 'cdn').filter((r) => r.method === 'GET');
    assert.deepEqual(gets.map((r) => r.range), ['bytes=900000-']);
    assert.equal(env.events[0]!.bytesDone, 0);
    assert.ok(env.events.some((e) => e.bytesDone === 900_000 && e.bytesTotal === TOTAL_BYTES), 'bytes on disk count as done from the start');
  } finally {
    await env.cleanup();
  }
});

test('cancel keeps the partial data; the next pull resumes it with Range', async () => {
  const env = await makeEnv();
  try {
    env.hub.throttle(16 * 1024, 2);
    const ctl = new AbortController();
    const pending: Promise<unknown>[] = [];
    const err = await rejectsWith(
      pullModel(testModel({ sizes: true }), {
        ...env.options,
        signal: ctl.signal,
        onProgress: (p) => {
          if (p.file === DECODER && p.bytesDone >= CONTENT[CONFIG]!.length + CONTENT[VISION]!.length + 200_000) ctl.abort();
          pending.push(listInstalled(env.modelsDir).then((l) => assert.deepEqual(l, [], 'never listed mid-download')));
        },
      }),
      'cancelled',
    );
    await Promise.all(pending);
    assert.match(err.message, /cancelled; downloaded data is kept for resume/);
    const partial = path.join(partialDir(env.modelsDir, 'tiny-vlm'), DECODER);
    const kept = (await stat(partial)).size;
    assert.ok(kept >= 200_000 && kept < CONTENT[DECODER]!.length, `kept ${kept} bytes`);
    assert.deepEqual(await listInstalled(env.modelsDir), []);

    env.hub.throttle();
    const before = env.hub.requests.length;
    const result = await pullModel(testModel({ sizes: true }), { ...env.options, onProgress: undefined });
    const resumed = env.hub.requests.slice(before).filter((r) => r.file === DECODER && r.kind === 'cdn' && r.method === 'GET');
    assert.deepEqual(resumed.map((r) => r.range), [`bytes=${kept}-`]);
    assert.equal(resumed[0]!.bytesSent, CONTENT[DECODER]!.length - kept);
    const earlier = env.hub.requests.slice(before).filter((r) => r.file === VISION && r.method === 'GET');
    assert.equal(earlier.length, 0, 'files verified before the cancel are not fetched again');
    assert.deepEqual(await readFile(path.join(result.dir, DECODER)), CONTENT[DECODER]);
  } finally {
    await env.cleanup();
  }
});

test('a model is listed as installed only after every file is verified', async () => {
  const env = await makeEnv();
  try {
    // During a download: never listed.
    const checks: Promise<void>[] = [];
    const seen: PullProgress[] = [];
    const model = testModel({ sizes: true });
    env.hub.notFound(DECODER, 1);
    await rejectsWith(
      pullModel(model, {
        ...env.options,
        onProgress: (p) => {
          seen.push(p);
          checks.push(listInstalled(env.modelsDir).then((l) => assert.equal(l.length, 0)));
        },
      }),
      'not_found',
    );
    await Promise.all(checks);
    assert.ok(seen.some((p) => p.phase === 'downloading'));
    // After a failed download: the verified files wait in .partial, but the model is not listed.
    const staging = partialDir(env.modelsDir, 'tiny-vlm');
    assert.deepEqual(await readFile(path.join(staging, VISION)), CONTENT[VISION]);
    assert.deepEqual(await listInstalled(env.modelsDir), []);
    // A folder that merely has the files (no marker) is not listed either.
    const fake = path.join(env.modelsDir, 'copied-by-hand');
    await mkdir(fake, { recursive: true });
    await writeFile(path.join(fake, CONFIG), CONTENT[CONFIG]!);
    assert.deepEqual(await listInstalled(env.modelsDir), []);
    // The retry completes it; now it is listed. Verified files are not fetched again.
    const before = env.hub.requests.length;
    const result = await pullModel(model, env.options);
    assert.deepEqual((await listInstalled(env.modelsDir)).map((m) => m.id), ['tiny-vlm']);
    assert.deepEqual(env.hub.requests.slice(before).map((r) => r.file).filter((f) => f !== DECODER), []);
    // A listed model whose file shrinks (damaged later) is no longer listed.
    await writeFile(path.join(result.dir, VISION), 'x');
    assert.deepEqual(await listInstalled(env.modelsDir), []);
    // A marker that is not valid JSON is not listed.
    await writeFile(path.join(result.dir, VISION), CONTENT[VISION]!);
    assert.equal((await listInstalled(env.modelsDir)).length, 1);
    await writeFile(path.join(result.dir, MARKER_FILE), '{');
    assert.deepEqual(await listInstalled(env.modelsDir), []);
  } finally {
    await env.cleanup();
  }
});

test('progress events are monotonic, carry rate and ETA, and end at the total', async () => {
  const env = await makeEnv();
  try {
    env.hub.throttle(64 * 1024, 1);
    await pullModel(testModel(), env.options);
    const last = checkProgress(env.events, check);
    assert.equal(last.bytesTotal, TOTAL_BYTES);
    assert.equal(last.fileCount, 3);
    const downloading = env.events.filter((e) => e.phase === 'downloading');
    assert.ok(downloading.some((e) => e.rateBytesPerSec > 0 && e.etaSec !== null), 'some event has a rate and an ETA');
    assert.deepEqual([...new Set(downloading.map((e) => e.file))], [CONFIG, VISION, DECODER]);
  } finally {
    await env.cleanup();
  }
  // Throttled: with a long interval only the phase changes get through.
  const env2 = await makeEnv({ progressIntervalMs: 60_000 });
  try {
    await pullModel(testModel(), env2.options);
    assert.ok(env2.events.length <= 8, `${env2.events.length} events`);
    checkProgress(env2.events, check);
  } finally {
    await env2.cleanup();
  }
});

test('a server that ignores Range (200 instead of 206) makes the file start over, still verified', async () => {
  const env = await makeEnv();
  try {
    env.hub.cutAfter(DECODER, 300_000);
    env.hub.ignoreRange(DECODER);
    const result = await pullModel(testModel({ sizes: true }), env.options);
    const gets = env.hub.requestsFor(DECODER, 'cdn').filter((r) => r.method === 'GET');
    assert.deepEqual(gets.map((r) => r.status), [200, 200]);
    assert.equal(gets[0]!.range, undefined);
    const n = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
    assert.ok(n > 200_000 && n <= 300_000, `second request: Range ${gets[1]!.range}`);
    assert.equal(gets[1]!.bytesSent, CONTENT[DECODER]!.length, 'the whole file came again');
    assert.deepEqual(await readFile(path.join(result.dir, DECODER)), CONTENT[DECODER]);
    const last = checkProgress(env.events, check);
    assert.equal(last.bytesTotal, TOTAL_BYTES + n, 'the discarded bytes grow the total');
  } finally {
    await env.cleanup();
  }
});

test('a catalog that disagrees with the Hub at the pinned revision is refused', async () => {
  const env = await makeEnv();
  try {
    const model = testModel({ sizes: true, sha256: true });
    model.files[2]!.sha256 = 'f'.repeat(64);
    const err = await rejectsWith(pullModel(model, env.options), 'hub_mismatch');
    assert.match(err.message, /^the catalog says onnx\/decoder_model_merged\.onnx has sha256 f{64}, the Hub says [0-9a-f]{64} at test-org\/tiny-vlm@/);
  } finally {
    await env.cleanup();
  }
});

test('a stalled transfer is dropped and resumed', async () => {
  const env = await makeEnv({ stallTimeoutMs: 150 });
  try {
    let slow = true;
    env.hub.throttle(100_000, 0);
    // Slow the first decoder body to a crawl after its first chunk.
    const realFetch = fetch;
    const stallingFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await realFetch(input, init);
      if (!String(input).includes('/cdn/') || !slow || !res.body || res.headers.get('content-length') !== String(CONTENT[DECODER]!.length)) return res;
      slow = false;
      const reader = res.body.getReader();
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (sent) return new Promise<void>(() => {}); // never another byte
          const { value } = await reader.read();
          sent = true;
          c.enqueue(value!);
        },
        cancel: () => reader.cancel(),
      });
      return new Response(body, { status: res.status, headers: res.headers });
    }) as typeof fetch;
    const result = await pullModel(testModel({ sizes: true }), { ...env.options, fetch: stallingFetch });
    assert.deepEqual(await readFile(path.join(result.dir, DECODER)), CONTENT[DECODER]);
    const gets = env.hub.requestsFor(DECODER, 'cdn').filter((r) => r.method === 'GET');
    assert.equal(gets.length, 2);
    assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  } finally {
    await env.cleanup();
  }
});

test('OmniFusion (export only) has no pull', async () => {
  const model = { ...testModel(), id: 'omni', name: 'OmniFusion 1.1', source: { kind: 'export' as const, exporter: 'export.py', checkpoints: ['x'] } };
  const err = await rejectsWith(pullModel(model, { modelsDir: '/nonexistent' }), 'no_download');
  assert.match(err.message, /^OmniFusion 1\.1 has no Hub download: export it \(export\.py\) and import the folder$/);
});

test('partial data of another revision is not resumed', async () => {
  const env = await makeEnv();
  try {
    const staging = partialDir(env.modelsDir, 'tiny-vlm');
    await mkdir(path.join(staging, 'onnx'), { recursive: true });
    await writeFile(path.join(staging, DECODER), CONTENT[DECODER]!.subarray(0, 500_000));
    await writeFile(path.join(staging, '.pull.json'), JSON.stringify({ repo: REPO, revision: 'f'.repeat(40), dtype: 'fp32', verified: {} }));
    // Even with room for only half the model plus the stale bytes, the check counts the full size.
    const err = await rejectsWith(pullModel(testModel({ sizes: true }), { ...env.options, statfs: async () => ({ bavail: TOTAL_BYTES - 500_000, bsize: 1 }) }), 'disk_full');
    assert.equal(err.details.neededBytes, TOTAL_BYTES);
    const result = await pullModel(testModel({ sizes: true }), env.options);
    assert.deepEqual(env.hub.requestsFor(DECODER, 'cdn').map((r) => r.range), [undefined]);
    assert.deepEqual(await readFile(path.join(result.dir, DECODER)), CONTENT[DECODER]);
  } finally {
    await env.cleanup();
  }
});

test('offline: the network error is one line that reads right in the window and the CLI alike', async () => {
  const env = await makeEnv({ retry: { retries: 2, baseDelayMs: 10 }, fetch: (async () => { throw new TypeError('fetch failed'); }) as unknown as typeof fetch });
  try {
    const err = await rejectsWith(pullModel(testModel({ sizes: true }), env.options), 'network');
    assert.doesNotMatch(err.message, /run the pull|omnifusion|--/, 'no command-line wording');
    assert.match(err.message, /gave up after 2 retries; what was downloaded is kept, and downloading again resumes from there\)$/);
    assert.ok(!err.message.includes('\n'));
  } finally {
    await env.cleanup();
  }
});
