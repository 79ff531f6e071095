/**
 * `omnifusion models list | pull | import | rm` as a user runs them, against a local stand-in of
 * the Hub (test/helpers/hub-server.ts on 127.0.0.1) and a test catalog ($OMNIFUSION_CATALOG):
 * a pull installs and `list --json` shows it; an interrupted transfer resumes (a dropped
 * connection within one run, and Ctrl+C then the same command again); 404 and 401 end with one
 * clear line and exit 1; rm removes; import installs a folder, checked against the catalog.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ModelsCatalog } from '../../main/api/contract.js';
import type { Catalog, CatalogModel } from '../../main/core/models/catalog.js';
import { HubServer } from '../helpers/hub-server.js';
import { ProgressBar, formatDuration } from '../../main/cli/models.js';
import { pullModel } from '../../main/core/models/download.js';
import { isOneLineError, runCli, type CliRun } from '../helpers/cli.js';
import { CONFIG, CONTENT, DECODER, REPO, REV, TOTAL_BYTES, VISION, sha256, testModel } from '../unit/models/fixture.js';

const GATED_REPO = 'test-org/gated-vlm';
const MISSING_REPO = 'test-org/missing-vlm';

function catalogOf(...models: CatalogModel[]): Catalog {
  return { format: 'omnifusion-model-catalog', format_version: 1, models };
}

/** The test model under another id and repository (same files). */
function variantOf(id: string, repo: string, facts: { sizes?: boolean; sha256?: boolean } = {}): CatalogModel {
  const m = testModel(facts, id);
  return { ...m, name: `Tiny VLM (${id})`, source: { kind: 'hub', repo, revision: REV } };
}

let hub: HubServer;
let root: string;
let modelsDir: string;
const saved: Record<string, string | undefined> = {};

before(async () => {
  const files = Object.entries(CONTENT).flatMap(([p, content]) => [
    { repo: REPO, revision: REV, path: p, content },
    { repo: GATED_REPO, revision: REV, path: p, content },
  ]);
  hub = await HubServer.start(files);
  hub.gate(GATED_REPO, 'hf_test_token');
  root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-cli-models-'));
  modelsDir = path.join(root, 'models');
  const catalogFile = path.join(root, 'catalog.json');
  // tiny-vlm: sizes and sha256 from the Hub; tiny-vlm-pinned: the catalog has them (offline import needs the sha256).
  const catalog = catalogOf(
    { ...testModel(), defaultPriority: 1, strengths: ['documents', 'handwriting'] },
    variantOf('tiny-vlm-pinned', REPO, { sizes: true, sha256: true }),
    variantOf('gated-vlm', GATED_REPO),
    variantOf('missing-vlm', MISSING_REPO),
  );
  await writeFile(catalogFile, JSON.stringify(catalog, null, 2));
  const env: Record<string, string | undefined> = {
    OMNIFUSION_HUB_URL: hub.url,
    OMNIFUSION_CATALOG: catalogFile,
    OMNIFUSION_MODELS_DIR: modelsDir,
    OMNIFUSION_DATA_DIR: path.join(root, 'data'),
    HF_TOKEN: undefined,
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await hub?.close();
  await rm(root, { recursive: true, force: true });
});

async function listJson(): Promise<ModelsCatalog> {
  const run = await runCli(['models', 'list', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ModelsCatalog;
}

function entry(view: ModelsCatalog, id: string) {
  const e = view.models.find((m) => m.id === id);
  assert.ok(e, `${id} listed`);
  return e;
}

function assertOneLine(run: CliRun, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}: ${run.stderr}`);
  assert.ok(isOneLineError(run), `one line expected, got:\n${run.stderr}`);
  assert.match(run.stderr, pattern);
}

async function getsWithRange(file: string): Promise<string[]> {
  return hub.requestsFor(file, 'cdn').filter((r) => r.method === 'GET').map((r) => r.range ?? '');
}

describe('omnifusion models', () => {
  test('list shows the catalog with sizes, memory, strengths, the default marked, nothing installed', async () => {
    const run = await runCli(['models', 'list']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\* tiny-vlm\s+fp32\s+/m, 'the default is marked');
    assert.match(run.stdout, /documents, handwriting/);
    assert.match(run.stdout, /not installed/);
    assert.match(run.stdout, /\* default: Tiny VLM \(fp32\) reads documents and handwriting/);
    const view = await listJson();
    assert.equal(view.default?.id, 'tiny-vlm');
    assert.match(view.default!.reason, /documents and handwriting/);
    assert.equal(view.modelsDir, modelsDir);
    const pinned = entry(view, 'tiny-vlm-pinned');
    assert.deepEqual(pinned.variants, [{ dtype: 'fp32', downloadBytes: TOTAL_BYTES, exact: true, unknownSizeFiles: 0, memoryBytes: 10_000_000 }]);
    assert.equal(pinned.installed, null);
    assert.deepEqual(pinned.strengths, ['documents']);
    assert.equal(pinned.licence.id, 'apache-2.0');
  });

  test('pull installs every verified file (no bar when stderr is not a terminal); list --json shows it installed', async () => {
    const run = await runCli(['models', 'pull', 'tiny-vlm']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^installed Tiny VLM \\(fp32\\) in ${modelsDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/tiny-vlm\\n$`));
    assert.equal(run.stderr, '', 'stderr is not a terminal: no progress bar');
    for (const [p, b] of Object.entries(CONTENT)) assert.deepEqual(await readFile(path.join(modelsDir, 'tiny-vlm', p)), b);
    const view = await listJson();
    const e = entry(view, 'tiny-vlm');
    assert.equal(e.installed?.dtype, 'fp32');
    assert.equal(e.installed?.from, 'hub');
    assert.equal(e.installed?.bytes, TOTAL_BYTES);
    assert.equal(entry(view, 'tiny-vlm-pinned').installed, null);
    const table = await runCli(['models', 'list']);
    assert.match(table.stdout, /^\* tiny-vlm\s+fp32\s+1\.\d+ MB\s.*installed$/m);
    // Pulling again is a no-op.
    const again = await runCli(['models', 'pull', 'tiny-vlm']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /is already installed/);
  });

  test('a connection dropped mid-file is resumed with Range in the same run', async () => {
    hub.cutAfter(DECODER, 400_000);
    const before = (await getsWithRange(DECODER)).length;
    const run = await runCli(['models', 'pull', 'tiny-vlm-pinned']);
    assert.equal(run.code, 0, run.stderr);
    const gets = (await getsWithRange(DECODER)).slice(before);
    assert.equal(gets.length, 2, `GETs: ${JSON.stringify(gets)}`);
    assert.equal(gets[0], '');
    const n = Number(/^bytes=(\d+)-$/.exec(gets[1]!)?.[1]);
    assert.ok(n > 300_000 && n <= 400_000, `resumed with ${gets[1]}`);
    assert.deepEqual(await readFile(path.join(modelsDir, 'tiny-vlm-pinned', DECODER)), CONTENT[DECODER]);
  });

  test('rm removes an installed model; removing it again is a one-line error', async () => {
    const run = await runCli(['models', 'rm', 'tiny-vlm-pinned']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^removed tiny-vlm-pinned: the installed model\n$/);
    await assert.rejects(stat(path.join(modelsDir, 'tiny-vlm-pinned')), { code: 'ENOENT' });
    assert.equal(entry(await listJson(), 'tiny-vlm-pinned').installed, null);
    assertOneLine(await runCli(['models', 'rm', 'tiny-vlm-pinned']), 1, /^omnifusion: model "tiny-vlm-pinned" is not installed in /);
  });

  test('Ctrl+C stops a pull (exit 130) keeping the bytes; the same command resumes from them', async () => {
    hub.throttle(16_384, 15);
    const before = hub.requests.length;
    let sent = false;
    const run = await runCli(['models', 'pull', 'tiny-vlm-pinned'], {
      onSpawn: (child) => {
        const timer = setInterval(() => {
          const got = hub.requests.slice(before).filter((r) => r.file === VISION && r.kind === 'cdn').reduce((s, r) => s + r.bytesSent, 0);
          if (got > 100_000 && !sent) {
            sent = true;
            child.kill('SIGINT');
          }
        }, 10);
        child.once('exit', () => clearInterval(timer));
      },
    });
    hub.throttle();
    assert.ok(sent, 'SIGINT was sent mid-download');
    assertOneLine(run, 130, /^omnifusion: download of tiny-vlm-pinned cancelled; [\d.]+ kB kept: run the same command to resume$/m);
    const view = await listJson();
    const e = entry(view, 'tiny-vlm-pinned');
    assert.equal(e.installed, null, 'a half-downloaded model is not installed');
    assert.ok(e.partialBytes > 100_000, `partial ${e.partialBytes}`);
    assert.match((await runCli(['models', 'list'])).stdout, /tiny-vlm-pinned .*partial: [\d.]+ kB kept, pull to resume/);

    const mark = hub.requests.length;
    const again = await runCli(['models', 'pull', 'tiny-vlm-pinned']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^note: resuming the earlier download of tiny-vlm-pinned \([\d.]+ kB kept\)$/m);
    const gets = hub.requests.slice(mark).filter((r) => r.kind === 'cdn' && r.method === 'GET');
    const vision = gets.find((r) => r.file === VISION);
    assert.match(vision?.range ?? '', /^bytes=\d+-$/, 'the vision encoder resumed with Range');
    const resumedAt = Number(/(\d+)/.exec(vision!.range!)![1]);
    assert.ok(resumedAt >= 100_000, `resumed at ${resumedAt}`);
    assert.equal(vision!.bytesSent, CONTENT[VISION]!.length - resumedAt, 'only the rest was sent');
    assert.deepEqual(await readFile(path.join(modelsDir, 'tiny-vlm-pinned', VISION)), CONTENT[VISION]);
    assert.ok(entry(await listJson(), 'tiny-vlm-pinned').installed);
    assert.deepEqual(await readdir(path.join(modelsDir, '.partial')), []);
  });

  test('404 and 401 end with one clear line and exit 1; a token opens the gated repository', async () => {
    assertOneLine(await runCli(['models', 'pull', 'missing-vlm']), 1, /^omnifusion: config\.json not found in test-org\/missing-vlm@0123456789abcdef/);
    assertOneLine(await runCli(['models', 'pull', 'gated-vlm']), 1, /^omnifusion: the Hub refused access to test-org\/gated-vlm \(gated or private: .*HTTP 401\)$/m);
    assert.equal(entry(await listJson(), 'gated-vlm').installed, null);
    process.env.HF_TOKEN = 'hf_test_token';
    try {
      const run = await runCli(['models', 'pull', 'gated-vlm']);
      assert.equal(run.code, 0, run.stderr);
    } finally {
      delete process.env.HF_TOKEN;
    }
    const auth = hub.requests.filter((r) => r.kind === 'resolve' && r.authorization);
    assert.ok(auth.length > 0 && auth.every((r) => r.authorization === 'Bearer hf_test_token'), 'the token from $HF_TOKEN went to the Hub');
  });

  test('import installs a folder checked against the catalog; a damaged copy is refused', async () => {
    const src = path.join(root, 'offline', 'tiny');
    for (const [p, b] of Object.entries(CONTENT)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), b);
    }
    await runCli(['models', 'rm', 'tiny-vlm-pinned']);
    const run = await runCli(['models', 'import', src, '--id', 'tiny-vlm-pinned']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^imported Tiny VLM \(tiny-vlm-pinned\) as tiny-vlm-pinned in .* \(every file checked against the catalog\)\n$/);
    const e = entry(await listJson(), 'tiny-vlm-pinned');
    assert.equal(e.installed?.from, 'import');
    assert.equal(e.installed?.bytes, TOTAL_BYTES);

    // A copied, installed model folder imports under another id (checked against its installed.json).
    const copy = path.join(root, 'offline', 'copy');
    await cp(path.join(modelsDir, 'tiny-vlm'), copy, { recursive: true });
    const copied = await runCli(['models', 'import', copy, '--id', 'my-tiny']);
    assert.equal(copied.code, 0, copied.stderr);
    const mine = entry(await listJson(), 'my-tiny');
    assert.equal(mine.source, 'local');
    assert.equal(mine.installed?.from, 'import');

    const bad = path.join(root, 'offline', 'bad');
    await cp(src, bad, { recursive: true });
    const bytes = await readFile(path.join(bad, CONFIG));
    bytes[3] = bytes[3]! ^ 0x20;
    await writeFile(path.join(bad, CONFIG), bytes);
    assertOneLine(await runCli(['models', 'import', bad, '--id', 'tiny-vlm-pinned', '--models-dir', path.join(root, 'other')]), 1, /does not match the catalog: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}; not imported$/m);
    assert.equal(sha256(CONTENT[CONFIG]!).length, 64);
    await assert.rejects(stat(path.join(root, 'other', 'tiny-vlm-pinned')), { code: 'ENOENT' });
  });

  test('import over an installed id is refused (one line naming it, suggesting --force) and touches nothing; --force replaces it', async () => {
    const dir = path.join(root, 'replace-models');
    const first = path.join(root, 'offline', 'first');
    const second = path.join(root, 'offline', 'second');
    for (const src of [first, second]) {
      for (const [p, b] of Object.entries(CONTENT)) {
        await mkdir(path.dirname(path.join(src, p)), { recursive: true });
        await writeFile(path.join(src, p), b);
      }
    }
    const marker = path.join(dir, 'tiny-vlm-pinned', 'installed.json');
    const installed = await runCli(['models', 'import', first, '--id', 'tiny-vlm-pinned', '--models-dir', dir]);
    assert.equal(installed.code, 0, installed.stderr);
    const before = await readFile(marker, 'utf8');
    assert.equal(JSON.parse(before).source.from, first);

    const refused = await runCli(['models', 'import', second, '--id', 'tiny-vlm-pinned', '--models-dir', dir]);
    assertOneLine(refused, 1, /./);
    assert.equal(refused.stderr, `omnifusion: model "tiny-vlm-pinned" is already installed in ${path.join(dir, 'tiny-vlm-pinned')}; add --force to replace it\n`);
    assert.equal(refused.stdout, '');
    assert.equal(await readFile(marker, 'utf8'), before, 'the installed model is untouched');
    assert.deepEqual(await readdir(path.join(dir, '.partial')).catch(() => []), [], 'nothing was staged');

    const forced = await runCli(['models', 'import', second, '--id', 'tiny-vlm-pinned', '--models-dir', dir, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /^imported Tiny VLM \(tiny-vlm-pinned\) as tiny-vlm-pinned in /);
    const after = JSON.parse(await readFile(marker, 'utf8'));
    assert.equal(after.source.from, second);
    assert.equal(Object.values(after.files as Record<string, { bytes: number }>).reduce((n, f) => n + f.bytes, 0), TOTAL_BYTES);
    const listed = await runCli(['models', 'list', '--json', '--models-dir', dir]);
    assert.deepEqual((JSON.parse(listed.stdout) as ModelsCatalog).models.filter((m) => m.installed).map((m) => m.id), ['tiny-vlm-pinned']);

    // A folder OmniFusion did not install is never replaced, not even with --force.
    const copy = path.join(root, 'offline', 'copy-for-stray');
    await cp(path.join(dir, 'tiny-vlm-pinned'), copy, { recursive: true });
    await mkdir(path.join(dir, 'stray'));
    await writeFile(path.join(dir, 'stray', 'notes.txt'), 'mine');
    for (const force of [[], ['--force']]) {
      const run = await runCli(['models', 'import', copy, '--id', 'stray', '--models-dir', dir, ...force]);
      assertOneLine(run, 1, /./);
      assert.equal(run.stderr, `omnifusion: ${path.join(dir, 'stray')} is in the way: it is not a model OmniFusion installed; move it away or import under another id\n`);
    }
    assert.equal(await readFile(path.join(dir, 'stray', 'notes.txt'), 'utf8'), 'mine');
  });

  test('usage mistakes exit 2 with one line; unknown models exit 1', async () => {
    assertOneLine(await runCli(['models', 'pull']), 2, /^omnifusion: missing required argument 'id'/);
    assertOneLine(await runCli(['models', 'pull', 'tiny-vlm', '--dtype', 'fp64']), 2, /--dtype.*fp64/);
    assertOneLine(await runCli(['models', 'pull', 'nope']), 1, /^omnifusion: unknown model "nope" \(known: tiny-vlm, tiny-vlm-pinned, gated-vlm, missing-vlm\)$/m);
    assertOneLine(await runCli(['models', 'pull', 'tiny-vlm', '--dtype', 'int8']), 1, /^omnifusion: model "tiny-vlm" has no int8 weights \(it has: fp32\)$/m);
    assertOneLine(await runCli(['models', 'list', '--catalog', path.join(root, 'no-such.json')]), 1, /cannot read the model catalog \(ENOENT\)$/m);
    assertOneLine(await runCli(['models', 'import', root, '--force=yes']), 2, /--force/);
  });
});

test('the progress bar on a terminal: one line redrawn with bytes done/total, rate and time left', async () => {
  const writes: string[] = [];
  const bar = new ProgressBar('tiny-vlm', { out: () => {}, err: (t) => void writes.push(t), errIsTty: true, columns: () => 120 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-cli-bar-'));
  hub.throttle(65_536, 10);
  try {
    await pullModel(testModel(), { modelsDir: dir, baseUrl: hub.url, onProgress: (p) => bar.update(p), progressIntervalMs: 0 });
  } finally {
    hub.throttle();
    await rm(dir, { recursive: true, force: true });
  }
  bar.finish();
  assert.ok(writes.length > 5, `${writes.length} redraws`);
  for (const w of writes.slice(0, -1)) {
    assert.ok(w.startsWith('\r\x1b[2K'), 'each redraw clears the line');
    assert.ok(!w.includes('\n') && w.length <= 8 + 119, `fits the width: ${JSON.stringify(w)}`);
  }
  const lines = writes.slice(0, -1).map((w) => w.slice(5));
  const mid = lines.find((l) => /[\d.]+ [kM]B\/s/.test(l) && /ETA \d+:\d\d/.test(l));
  assert.ok(mid, `a line with a rate and time left: ${lines.join(' | ')}`);
  assert.match(mid, /^tiny-vlm \[[█░]{24}\]\s+\d+%  [\d.]+ [kM]?B \/ 1\.30 MB  [\d.]+ [kM]B\/s  ETA \d+:\d\d  \(\d\/3 [\w/.]+\)$/);
  assert.match(lines[lines.length - 1]!, /^tiny-vlm \[█{24}\]  100%  1\.30 MB \/ 1\.30 MB  .*done$/);
  assert.equal(writes[writes.length - 1], '\n', 'finish ends the line');
  assert.equal(formatDuration(65), '1:05');
  assert.equal(formatDuration(3 * 3600 + 62), '3:01:02');
  // A narrow terminal drops the bar, never wraps.
  const narrow = new ProgressBar('tiny-vlm', { out: () => {}, err: () => {}, errIsTty: true, columns: () => 40 });
  assert.ok(narrow.line({ modelId: 'tiny-vlm', phase: 'downloading', file: DECODER, fileIndex: 2, fileCount: 3, bytesDone: 5e5, bytesTotal: 1.3e6, rateBytesPerSec: 2e5, etaSec: 4 }, 40).length <= 39);
});
