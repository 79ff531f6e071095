/**
 * The window's layout at a desktop and a narrow size: the conversation title keeps its room in the
 * header beside the model's name, which stays whole at 800×600 and at 200 % zoom, while the model
 * status's note (shown only when a provider the user chose could not run) gives way and stays readable in full from its tooltip / accessible name; the
 * composer's placeholder fits after the window is resized. Screenshots go to test-results/e2e/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { call } from '../helpers/serve.js';

const TITLE = 'A very long conversation title about receipts';

let app: AppSession;
before(async () => {
  app = await openAppSession('layout', { viewport: { width: 1280, height: 800 } });
  await call(app.server, 'conversations.create', { title: TITLE });
});
after(() => app?.close());

async function openConversation(): Promise<void> {
  const { page } = app;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(app.server.url);
  await page.getByText(TITLE).first().click();
  await page.waitForFunction((t) => document.querySelector('header h1')?.textContent?.trim() === t, TITLE);
  // The model has loaded (its provider note, if any, is known).
  await page.locator('[data-testid=model-status]:not([data-state=loading])').waitFor();
}

async function width(selector: string): Promise<number> {
  const box = await app.page.locator(selector).first().boundingBox();
  return box ? Math.round(box.width) : 0;
}

async function measure() {
  const items = await app.page.locator('header.bar > *').evaluateAll((els) =>
    els.map((c) => `${c.tagName}.${c.className.toString().split(' ')[0]}:${Math.round(c.getBoundingClientRect().width)}`),
  );
  return { title: await width('header h1'), status: await width('[data-testid=model-status]'), items };
}

const shot = (name: string) => app.page.screenshot({ path: path.join(ARTIFACTS, name) });

async function fullNote(): Promise<{ note: string; title: string; label: string }> {
  const note = (await call<{ note?: string }>(app.server, 'models.status', {})).note ?? '';
  const status = app.page.getByTestId('model-status');
  return { note, title: (await status.getAttribute('title')) ?? '', label: (await status.getAttribute('aria-label')) ?? '' };
}

test('the conversation title keeps its room in the header at 1280×800; the model note gives way, readable in full', async () => {
  await openConversation();
  const m = await measure();
  await shot('layout-header-1280.png');
  assert.ok(m.title >= 250, `the title is ${m.title} px wide (header: ${m.items.join(', ')})`);
  const { note, title, label } = await fullNote();
  if (note) {
    assert.ok(title.includes(note), `the status tooltip has the whole note: ${title}`);
    assert.ok(label.includes(note), `the status's accessible name has the whole note: ${label}`);
    assert.equal(await app.page.getByTestId('model-note').getAttribute('title'), note);
  }
  assert.deepEqual(app.pageErrors, []);
});

test('at 420×800 the title still shows (≥ 120 px) beside a compact status', async () => {
  await openConversation();
  await app.page.setViewportSize({ width: 420, height: 800 });
  await app.page.waitForFunction(() => innerWidth === 420);
  const m = await measure();
  await shot('layout-header-420.png');
  assert.ok(m.title >= 120, `the title is ${m.title} px wide (header: ${m.items.join(', ')})`);
  assert.ok(m.status > 0, 'a compact model status is still shown');
  const { note, title, label } = await fullNote();
  if (note) {
    assert.ok(title.includes(note), `the status tooltip has the whole note: ${title}`);
    assert.ok(label.includes(note), `the status's accessible name has the whole note: ${label}`);
  }
  // Nothing in the header runs off the window.
  const right = await app.page.locator('header.bar > *:visible').evaluateAll((els) => Math.max(...els.map((e) => e.getBoundingClientRect().right)));
  assert.ok(right <= 420, `the header's last item ends at ${right} px`);
  assert.deepEqual(app.pageErrors, []);
});

for (const [w, h, what] of [[800, 600, '800×600'], [640, 400, '200 % zoom of 1280×800']] as const) {
  test(`at ${what} the header names the model in full, and with device auto it carries no fallback note`, async () => {
    await openConversation();
    await app.page.setViewportSize({ width: w, height: h });
    await app.page.waitForFunction((x) => innerWidth === x, w);
    const status = await call<{ name: string; note?: string }>(app.server, 'models.status', {});
    assert.equal(status.note, undefined, 'auto falling back to the CPU is quiet');
    assert.equal(await app.page.getByTestId('model-note').count(), 0);
    const name = app.page.locator('[data-testid=model-status] .name');
    assert.ok(await name.isVisible(), 'the name is shown');
    const [text, scroll, client] = await name.evaluate((e) => [e.textContent ?? '', e.scrollWidth, e.clientWidth] as const);
    assert.ok(text.includes(status.name) && status.name.length > 0, `${text} names ${status.name}`);
    assert.ok(scroll <= client, `the name is not cut: ${scroll} > ${client}`);
    const m = await measure();
    assert.ok(m.title >= 100, `the title keeps room: ${m.title} px (header: ${m.items.join(', ')})`);
    await shot(`layout-header-${w}.png`);
    assert.deepEqual(app.pageErrors, []);
  });
}

test('the model loaded with --model is listed in the model manager, in use, with its folder', async () => {
  await openConversation();
  const status = await call<{ name: string }>(app.server, 'models.status', {});
  await app.page.getByTestId('models-button').click();
  const entry = app.page.locator('[data-testid=model-entry][data-state=folder]');
  await entry.waitFor();
  assert.equal(await entry.count(), 1);
  assert.equal((await entry.locator('h3').innerText()).trim(), status.name);
  assert.ok(await entry.getByTestId('model-active').isVisible(), 'marked in use');
  assert.match(await entry.innerText(), /Loaded from \/.*omnifusion-tiny/);
  assert.equal(await entry.locator('button').count(), 0, 'nothing to download, use or remove');
  await shot('models-folder-entry.png');
  await app.page.keyboard.press('Escape');
  assert.deepEqual(app.pageErrors, []);
});

test('the composer re-measures after a resize: the placeholder fits at 420 px after loading at 1280 px', async () => {
  await openConversation();
  const input = app.page.getByTestId('composer-input');
  await input.waitFor();
  await app.page.setViewportSize({ width: 420, height: 800 });
  await app.page.waitForFunction(() => innerWidth === 420);
  // The resize observer and the window's resize event run after layout: give them a frame or two.
  await app.page.waitForTimeout(200);
  const [scrollHeight, clientHeight] = await input.evaluate((e) => [e.scrollHeight, e.clientHeight]);
  await shot('layout-composer-420-after-resize.png');
  assert.ok(scrollHeight <= clientHeight, `the placeholder fits: scrollHeight ${scrollHeight} ≤ clientHeight ${clientHeight}`);
  // And back: wider again, it shrinks to one row rather than keeping the tall box.
  await app.page.setViewportSize({ width: 1280, height: 800 });
  await app.page.waitForFunction(() => innerWidth === 1280);
  await app.page.waitForTimeout(200);
  const [sh, ch] = await input.evaluate((e) => [e.scrollHeight, e.clientHeight]);
  assert.ok(sh <= ch && ch < scrollHeight, `at 1280 px again: scrollHeight ${sh}, clientHeight ${ch} (was ${clientHeight})`);
  assert.deepEqual(app.pageErrors, []);
});
