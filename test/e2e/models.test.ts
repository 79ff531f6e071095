/**
 * The first-run screen and the model manager in headless Chromium (Debian's, through
 * playwright-core) against `omnifusion serve` with no model, pointed at a local stand-in of the
 * Hub (test/helpers/hub-server.ts on 127.0.0.1) and a test catalog: the first-run screen offers
 * the default model with its size and memory; Download shows a progress bar with bytes, rate and
 * time left and ends installed (and used); the model manager (opened with the header's
 * [data-testid=models-button]) lists the models, downloads another, cancels (keeping the bytes),
 * resumes, removes, and shows a 404 as one line; importing a folder whose model is already
 * installed asks first (Cancel keeps it, Replace imports over it). Screenshots go to test-results/e2e/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Page } from 'playwright-core';
import type { ModelsCatalog } from '../../main/api/contract.js';
import type { Catalog, CatalogModel } from '../../main/core/models/catalog.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { HubServer } from '../helpers/hub-server.js';
import { call, startServe, type Server } from '../helpers/serve.js';
import { CONTENT, REPO, REV, TOTAL_BYTES, sha256, testModel } from '../unit/models/fixture.js';

const OTHER_REPO = 'test-org/other-vlm';

function model(id: string, name: string, repo: string, extra: Partial<CatalogModel> = {}): CatalogModel {
  return { ...testModel({ sizes: true }, id), name, source: { kind: 'hub', repo, revision: REV }, ...extra };
}

/** `omnifusion serve` with no model, its models folder and catalog in `root`, the Hub at `hubUrl`. */
async function startServeWithoutModel(root: string, hubUrl: string): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, OMNIFUSION_HUB_URL: hubUrl, OMNIFUSION_CATALOG: path.join(root, 'catalog.json') };
  delete env.OMNIFUSION_MODEL;
  delete env.OMNIFUSION_MODELS_DIR;
  delete env.HF_TOKEN;
  return startServe(path.join(root, 'data'), { args: ['--models-dir', path.join(root, 'models')], env });
}

describe('first-run screen and model manager in Chromium against omnifusion serve', () => {
  let hub: HubServer;
  let app: AppSession;
  let server: Server;
  let page: Page;
  let pageErrors: string[];

  before(async () => {
    hub = await HubServer.start(Object.entries(CONTENT).flatMap(([p, content]) => [REPO, OTHER_REPO].map((repo) => ({ repo, revision: REV, path: p, content }))));
    const catalog: Catalog = {
      format: 'omnifusion-model-catalog',
      format_version: 1,
      models: [
        model('tiny-vlm', 'Tiny VLM', REPO, { strengths: ['documents', 'handwriting'], description: 'A tiny test model for documents.', defaultPriority: 1 }),
        model('other-vlm', 'Other VLM', OTHER_REPO, { strengths: ['general'] }),
        model('missing-vlm', 'Missing VLM', 'test-org/missing'),
      ],
    };
    app = await openAppSession('models', {
      viewport: { width: 1200, height: 820 },
      prepare: (root) => writeFile(path.join(root, 'catalog.json'), JSON.stringify(catalog)),
      start: (root) => startServeWithoutModel(root, hub.url),
    });
    ({ server, page, pageErrors } = app);
  });

  after(async () => {
    await app?.close();
    await hub?.close();
  });

  const byTestId = (id: string) => page.getByTestId(id);
  const entry = (id: string) => page.locator(`[data-testid=model-entry][data-model-id="${id}"]`);

  /** aria-valuenow of a progress bar, sampled until `done` holds; returns the distinct values seen. */
  async function sampleProgress(selector: string, done: () => Promise<boolean>): Promise<{ values: number[]; texts: string[] }> {
    const values: number[] = [];
    const texts: string[] = [];
    for (let i = 0; i < 2000 && !(await done()); i++) {
      const sample = await page.evaluate((sel) => {
        const bar = document.querySelector(`${sel} [role=progressbar]`);
        const text = document.querySelector(`${sel} [aria-live]`);
        return bar ? { now: bar.getAttribute('aria-valuenow'), text: text?.textContent ?? '' } : null;
      }, selector);
      if (sample?.now != null && Number(sample.now) !== values[values.length - 1]) values.push(Number(sample.now));
      if (sample?.text && sample.text !== texts[texts.length - 1]) texts.push(sample.text);
      await page.waitForTimeout(20);
    }
    return { values, texts };
  }

  test('with no model, the first-run screen offers the default model with its size, memory and reason', async () => {
    await page.goto(server.url);
    await byTestId('first-run').waitFor({ timeout: 30_000 });
    assert.equal(await byTestId('first-run-model').innerText(), 'Tiny VLM');
    assert.equal(await byTestId('first-run-size').innerText(), '1.30 MB');
    assert.equal(await byTestId('first-run-memory').innerText(), 'about 10.0 MB');
    assert.match(await byTestId('first-run-reason').innerText(), /reads documents and handwriting and fits this machine/);
    assert.match(await byTestId('first-run').innerText(), /Good at: Documents, handwriting/);
    assert.equal(await page.locator('[data-testid=model-status]').getAttribute('data-state'), 'none');
    await page.screenshot({ path: path.join(ARTIFACTS, 'models-first-run.png') });
  });

  test('Download shows a progress bar with bytes, rate and time left, and ends installed and in use', async () => {
    hub.throttle(8192, 12);
    await byTestId('first-run-download').click();
    await byTestId('first-run-progress').waitFor();
    let shot = false;
    const seen = await sampleProgress('[data-testid=first-run]', async () => {
      if (!shot && (await page.locator('[data-testid=first-run-progress-text]').count()) > 0) {
        const t = await page.locator('[data-testid=first-run-progress-text]').innerText().catch(() => '');
        if (/left/.test(t)) {
          shot = true;
          await page.screenshot({ path: path.join(ARTIFACTS, 'models-first-run-downloading.png') });
        }
      }
      return (await byTestId('first-run').count()) === 0;
    });
    hub.throttle();
    assert.ok(seen.values.length >= 3, `progress values seen: ${seen.values.join(', ')}`);
    assert.deepEqual([...seen.values].sort((a, b) => a - b), seen.values, 'the bar only moves forward');
    assert.ok(
      seen.texts.some((t) => /^[\d.]+ [kM]?B of 1\.30 MB · [\d.]+ [kM]?B\/s · (\d+ s|about \d+ min) left$/.test(t)),
      `a line with bytes, rate and time left: ${seen.texts.join(' | ')}`,
    );
    // Installed, and made the active model: the engine was asked to load it (this fake one cannot run).
    const view = await call<ModelsCatalog>(server, 'models.catalog', {});
    const tiny = view.models.find((m) => m.id === 'tiny-vlm')!;
    assert.equal(tiny.installed?.bytes, TOTAL_BYTES);
    assert.equal(view.activeId, 'tiny-vlm');
    await page.waitForFunction(() => ['loading', 'error', 'ready'].includes(document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state ?? ''), null, { timeout: 30_000 });
  });

  test('the model manager lists the models; another downloads, cancels keeping bytes, resumes, is removed', async () => {
    await byTestId('models-button').click();
    await byTestId('model-manager').waitFor();
    await entry('tiny-vlm').waitFor();
    assert.equal(await entry('tiny-vlm').getAttribute('data-state'), 'installed');
    assert.equal(await entry('tiny-vlm').getAttribute('data-active'), '');
    assert.match(await entry('tiny-vlm').innerText(), /Recommended/);
    assert.match(await entry('tiny-vlm').innerText(), /Good at: Documents, handwriting/);
    assert.equal(await entry('other-vlm').getAttribute('data-state'), 'available');
    assert.equal(await entry('other-vlm').getByTestId('model-size').innerText(), '1.30 MB');
    assert.equal(await entry('other-vlm').getByTestId('model-memory').innerText(), 'about 10.0 MB');
    assert.equal(await entry('other-vlm').getByTestId('model-licence').innerText(), 'apache-2.0');

    hub.throttle(8192, 15);
    await entry('other-vlm').getByTestId('model-download').click();
    await entry('other-vlm').getByTestId('model-progress-text').filter({ hasText: /of 1\.30 MB/ }).waitFor();
    await page.waitForFunction(() => Number(document.querySelector('[data-model-id="other-vlm"] [role=progressbar]')?.getAttribute('aria-valuenow')) >= 20);
    await page.screenshot({ path: path.join(ARTIFACTS, 'models-manager-downloading.png') });
    await entry('other-vlm').getByTestId('model-cancel').click();
    await page.locator('[data-testid=model-entry][data-model-id="other-vlm"][data-state=partial]').waitFor();
    assert.match(await entry('other-vlm').getByTestId('model-partial').innerText(), /^[\d.]+ kB downloaded; resume to finish\.$/);
    assert.equal(await entry('other-vlm').getByTestId('model-download').innerText(), 'Resume download');
    const kept = (await call<ModelsCatalog>(server, 'models.catalog', {})).models.find((m) => m.id === 'other-vlm')!;
    assert.equal(kept.installed, null, 'a half-downloaded model is not installed');
    assert.ok(kept.partialBytes > 200_000);

    hub.throttle();
    const mark = hub.requests.length;
    await entry('other-vlm').getByTestId('model-download').click();
    await page.locator('[data-testid=model-entry][data-model-id="other-vlm"][data-state=installed]').waitFor({ timeout: 30_000 });
    assert.ok(hub.requests.slice(mark).some((r) => r.kind === 'cdn' && r.range), 'the download resumed with Range');
    assert.equal(await entry('other-vlm').getByTestId('model-use').isVisible(), true);

    await entry('other-vlm').getByTestId('model-remove').click();
    assert.match(await entry('other-vlm').getByTestId('model-remove').innerText(), /Remove 1\.30 MB\?/);
    await entry('other-vlm').getByTestId('model-remove').click();
    await page.locator('[data-testid=model-entry][data-model-id="other-vlm"][data-state=available]').waitFor();
  });

  test('a failed download shows one line under its model', async () => {
    await entry('missing-vlm').getByTestId('model-download').click();
    const error = entry('missing-vlm').getByTestId('model-error');
    await error.waitFor();
    assert.match(await error.innerText(), /^config\.json not found in test-org\/missing@0123456789abcdef/);
    assert.equal((await error.innerText()).includes('\n'), false);
    assert.equal(await entry('missing-vlm').getAttribute('data-state'), 'available');
    await page.screenshot({ path: path.join(ARTIFACTS, 'models-manager.png') });
    await page.keyboard.press('Escape');
    await byTestId('model-manager').waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });

  test('importing a folder whose model is installed asks first: Cancel keeps it, Replace imports it over it', async () => {
    // An exported package: its files and a manifest with their checksums.
    const src = path.join(app.dataDir, 'package');
    for (const [p, content] of Object.entries(CONTENT)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), content);
    }
    const files = Object.fromEntries(Object.entries(CONTENT).map(([p, b]) => [p, { bytes: b.length, sha256: sha256(b) }]));
    await writeFile(path.join(src, 'manifest.json'), JSON.stringify({ format: 'omnifusion-model-package', name: 'My Package', family: 'idefics3', files }));
    const marker = path.join(app.dataDir, 'models', 'my-package', 'installed.json');
    const installedAt = async (): Promise<string> => (JSON.parse(await readFile(marker, 'utf8')) as { installedAt: string }).installedAt;
    const installedIds = async (): Promise<string[]> => (await call<ModelsCatalog>(server, 'models.catalog', {})).models.filter((m) => m.installed).map((m) => m.id);
    const importForm = async (): Promise<{ dir: string; id: string }> => ({ dir: await byTestId('model-import-dir').inputValue(), id: await byTestId('model-import-id').inputValue() });

    await byTestId('models-button').click();
    await byTestId('model-manager').waitFor();
    await byTestId('model-import-dir').fill(src);
    await byTestId('model-import-id').fill('my-package');
    await byTestId('model-import-submit').click();
    await page.locator('[data-testid=model-entry][data-model-id="my-package"][data-state=installed]').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLInputElement>('[data-testid=model-import-dir]')?.value ?? 'x') === '');
    const first = await installedAt();

    // The same folder again: a question naming the model, not an error; nothing changes yet.
    await byTestId('model-import-dir').fill(src);
    await byTestId('model-import-id').fill('my-package');
    await byTestId('model-import-submit').click();
    const offer = byTestId('model-import-replace');
    await offer.waitFor();
    assert.equal(await offer.getAttribute('data-model-id'), 'my-package');
    assert.equal(await byTestId('model-import-replace-text').innerText(), "My Package is already installed. Replace it with the folder's copy?");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'model-import-replace-cancel', 'Cancel has the focus');
    assert.equal(await byTestId('model-import-error').count(), 0);
    assert.equal(await installedAt(), first, 'the installed model is untouched while asking');
    await page.screenshot({ path: path.join(ARTIFACTS, 'models-import-replace.png') });

    // Cancel: the question goes, the model stays installed once, the form keeps what was typed.
    await byTestId('model-import-replace-cancel').click();
    await offer.waitFor({ state: 'detached' });
    assert.deepEqual(await importForm(), { dir: src, id: 'my-package' });
    assert.equal(await byTestId('model-import-error').count(), 0);
    assert.deepEqual((await installedIds()).filter((id) => id === 'my-package'), ['my-package']);
    assert.equal(await entry('my-package').count(), 1);
    assert.equal(await entry('my-package').getAttribute('data-state'), 'installed');
    assert.equal(await installedAt(), first);

    // Again, and Replace: imported over it, no error, the form cleared.
    await byTestId('model-import-submit').click();
    await offer.waitFor();
    await byTestId('model-import-replace-confirm').click();
    await offer.waitFor({ state: 'detached' });
    await page.waitForFunction(() => (document.querySelector<HTMLInputElement>('[data-testid=model-import-dir]')?.value ?? 'x') === '', null, { timeout: 30_000 });
    assert.notEqual(await installedAt(), first, 'installed again from the folder');
    assert.deepEqual((await installedIds()).filter((id) => id === 'my-package'), ['my-package']);
    assert.equal(await entry('my-package').count(), 1);
    assert.equal(await entry('my-package').getAttribute('data-state'), 'installed');
    assert.equal(await byTestId('model-import-error').count(), 0);
    assert.equal(await entry('my-package').getByTestId('model-error').count(), 0);

    await page.keyboard.press('Escape');
    await byTestId('model-manager').waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });
});
