/**
 * The window's layout at a desktop and a narrow size: the conversation title keeps its room in the
 * header while the model status's note (e.g. "cuda unavailable: …", shown on every Linux machine
 * without CUDA) gives way and stays readable in full from its tooltip / accessible name; the
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
