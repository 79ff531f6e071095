/**
 * The real chat window in headless Chromium (Debian's, through playwright-core) against
 * `omnifusion serve` with the tiny model: create a chat, attach one real image with the file
 * input and one by a paste event, ask, watch the answer grow, stop it, regenerate, reload, search;
 * screenshots of the light and dark themes go to test-results/e2e/. A conversation whose stored
 * answer carries hostile markup runs no script.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Page } from 'playwright-core';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { openStore } from '../../main/core/store/index.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { call, type Server } from '../helpers/serve.js';


const HOSTILE_ANSWER = [
  'Formula $x^2$ and <img src=x onerror="window.__pwned=1">',
  '<script>window.__pwned=2</script>',
  '[click](javascript:window.__pwned=3)',
  '$\\href{javascript:window.__pwned=4}{x}$ and $\\htmlData{foo=bar}{y}$',
  '<svg onload="window.__pwned=5"></svg><iframe src="javascript:window.__pwned=6"></iframe>',
].join('\n\n');

describe('chat window in Chromium against omnifusion serve', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  let pageErrors: string[];
  let hostileConversation: number;
  const dialogs: string[] = [];

  before(async () => {
    app = await openAppSession('chat', {
      viewport: { width: 1280, height: 800 },
      settings: { maxNewTokens: 2000, greedy: true },
      // A conversation from "earlier", written through the store: its answer is hostile model output.
      prepare: (dataDir) => {
        const store = openStore({ dataDir });
        const c = store.createConversation('Hostile answer');
        hostileConversation = c.id;
        store.addMessage(c.id, { role: 'user', content: 'Render this' });
        store.addMessage(c.id, { role: 'assistant', content: HOSTILE_ANSWER, status: 'complete', model: 'omnifusion-tiny' });
        store.close();
      },
    });
    ({ server, page, pageErrors } = app);
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const assistant = () => page.locator('[data-testid=message][data-role=assistant]').last();

  test('the page loads with the token, then works by cookie; the model is shown', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    assert.match(await byTestId('model-status').innerText(), /omnifusion-tiny/);
    assert.match(await byTestId('model-status').innerText(), /cpu/i);
  });

  test('new chat, attach by file input and by paste, ask: the answer streams in', async () => {
    await byTestId('new-chat').click();
    await byTestId('file-input').setInputFiles(path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg'));
    const pasted = (await readFile(path.join(REAL_DATA_DIR, 'handwritten-math/pix2text_hw-formula1.png'))).toString('base64');
    await byTestId('composer-input').evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'formula.png', { type: 'image/png' }));
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, pasted);
    await page.locator('[data-testid=attachment-thumb][data-status=ready]').nth(1).waitFor({ timeout: 30_000 });
    await byTestId('composer-input').fill('What is the total on this receipt?');
    await byTestId('composer-input').press('Enter');

    // Sample the answer while it streams: it must be seen at several growing lengths.
    await assistant().waitFor();
    const lengths = new Set<number>();
    for (let i = 0; i < 200 && lengths.size < 3; i++) {
      lengths.add((await assistant().locator('[data-testid=message-content]').innerText()).length);
      await page.waitForTimeout(25);
    }
    assert.ok([...lengths].filter((n) => n > 0).length >= 2, `seen lengths ${[...lengths].join(', ')}`);

    await byTestId('stop').click();
    await page.locator('[data-testid=message][data-role=assistant][data-status=partial]:not([data-streaming])').waitFor({ timeout: 30_000 });
    const stoppedText = await assistant().locator('[data-testid=message-content]').innerText();
    assert.ok(stoppedText.length > 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-stopped-light.png') });
  });

  test('regenerate replaces the stopped answer with a new one', async () => {
    await call(server, 'settings.set', { maxNewTokens: 24 });
    await byTestId('regenerate').click();
    await page.locator('[data-testid=message][data-role=assistant][data-status=complete]:not([data-streaming])').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('[data-testid=message]').count(), 2, 'one question, one (regenerated) answer');
  });

  test('after a reload the conversation, its images and answers are still there', async () => {
    const before = await assistant().locator('[data-testid=message-content]').innerText();
    await page.reload();
    await byTestId('conversation-item').first().waitFor();
    await byTestId('conversation-item').filter({ hasText: /receipt|total/i }).first().click();
    await page.locator('[data-testid=message]').nth(1).waitFor();
    assert.equal(await assistant().locator('[data-testid=message-content]').innerText(), before);
    const images = page.locator('[data-testid=message][data-role=user] img');
    assert.equal(await images.count(), 2);
    for (const width of await images.evaluateAll((els) => els.map((e) => (e as HTMLImageElement).naturalWidth))) assert.ok(width > 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-light.png') });
    await byTestId('theme-toggle').click();
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark' || document.documentElement.classList.contains('dark'));
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-dark.png') });
  });

  test('search finds a word of an earlier message', async () => {
    await byTestId('search-input').fill('receipt');
    await byTestId('search-result').first().waitFor({ timeout: 10_000 });
    assert.match(await byTestId('search-result').first().innerText(), /receipt/i);
    await byTestId('search-input').fill('');
  });

  test('hostile model output renders as text and math, and runs no script', async () => {
    await byTestId('conversation-item').filter({ hasText: 'Hostile answer' }).click();
    const content = page.locator(`[data-testid=message][data-role=assistant] [data-testid=message-content]`);
    await content.waitFor();
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(dialogs, []);
    assert.equal(await content.locator('script, iframe, svg[onload], [onerror], [onload]').count(), 0);
    assert.equal(await content.locator('a[href^="javascript:"]').count(), 0);
    assert.ok((await content.locator('.katex').count()) >= 1, 'the formula still renders');
    await page.screenshot({ path: path.join(ARTIFACTS, 'hostile-dark.png') });
    assert.deepEqual(pageErrors, [], 'no errors in the page');
    void hostileConversation;
  });
});
