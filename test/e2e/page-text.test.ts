/**
 * The text of an attached page in headless Chromium against `omnifusion serve` with the tiny
 * model: a real page turned 90° (tesseract_phototest-rotated-L.png, read from the shared test
 * data) is attached and asked about; history search finds a word that appears only in the image
 * (not in the question nor the answer); the image viewer lays the read text over the image,
 * rotated with the page, where a line selected with the mouse copies as its text and "Copy text"
 * copies the page; the conversation's "Image text in prompt" setting goes Off and On, persists
 * (conversations.get, a reload) and decides whether an answer notes the OCR tokens it used.
 * Screenshots go to test-results/e2e/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Page } from 'playwright-core';
import type { Conversation, ImageText, SearchHit } from '../../main/api/contract.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { call, type Server } from '../helpers/serve.js';

const PAGE = path.join(REAL_DATA_DIR, 'documents/tesseract_phototest-rotated-L.png');
/** From the page's transcription in SOURCES.md (testing/phototest.txt); not in the question. */
const IMAGE_ONLY_WORD = 'jumped';
const QUESTION = 'What is written on this page?';

describe('page text of an attached image in Chromium against omnifusion serve', { skip: existsSync(PAGE) ? false : `${PAGE} is absent` }, () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  let pageErrors: string[];
  let conversationId = '';
  let sha256 = '';
  let pageText: ImageText;

  before(async () => {
    app = await openAppSession('page-text', { viewport: { width: 1280, height: 860 }, clipboard: true, settings: { maxNewTokens: 8, greedy: true } });
    ({ server, page, pageErrors } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const lastAnswer = () => page.locator('[data-testid=message][data-role=assistant]').last();
  const settled = () => page.locator('[data-testid=message][data-role=assistant]:not([data-streaming])').last();

  /** Regenerate the last answer and wait until the new one is complete. */
  async function regenerate(): Promise<void> {
    const old = await lastAnswer().getAttribute('data-id');
    await byTestId('regenerate').click();
    await page.waitForFunction(
      (oldId) => {
        const last = [...document.querySelectorAll<HTMLElement>('[data-testid=message][data-role=assistant]')].pop();
        return !!last && last.dataset.id !== oldId && last.dataset.status === 'complete' && !last.dataset.streaming;
      },
      old,
      { timeout: 120_000 },
    );
  }

  async function clipboard(): Promise<string | undefined> {
    return page.evaluate(() => navigator.clipboard.readText()).catch(() => undefined);
  }

  async function waitForText(sha: string, timeoutMs = 120_000): Promise<ImageText> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const t = await call<ImageText>(server, 'attachments.text', { sha256: sha });
      if (t.status !== 'pending') return t;
      if (Date.now() > end) throw new Error(`the text of ${sha.slice(0, 12)}… is still pending after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  test('attach the page and ask: the answer comes', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await byTestId('new-chat').click();
    await byTestId('file-input').setInputFiles(PAGE);
    await page.locator('[data-testid=attachment-thumb][data-status=ready]').waitFor({ timeout: 30_000 });
    await byTestId('composer-input').fill(QUESTION);
    await byTestId('composer-input').press('Enter');
    await page.locator('[data-testid=message][data-role=assistant][data-status=complete]:not([data-streaming])').waitFor({ timeout: 120_000 });
    conversationId = (await page.evaluate(() => decodeURIComponent(/^#\/c\/(.+)$/.exec(location.hash)?.[1] ?? ''))) || '';
    assert.ok(conversationId, 'the open conversation is in the address');
    const c = await call<Conversation>(server, 'conversations.get', { id: conversationId });
    sha256 = c.messages[0]!.attachments[0]!.sha256;
    assert.equal(c.ocrTokens, 'auto', 'a new conversation starts at Auto');
  });

  test('the page is read in the background, upright; the word is in its text only', async () => {
    pageText = await waitForText(sha256);
    assert.equal(pageText.status, 'done', pageText.error);
    assert.equal(pageText.rotation, 90, 'the page was turned 90° clockwise to read it');
    assert.equal(pageText.width, 480);
    assert.equal(pageText.height, 640);
    assert.match(pageText.text, new RegExp(`\\b${IMAGE_ONLY_WORD}\\b`, 'i'));
    assert.ok(pageText.documentLike, 'a printed page is document-like');
    const c = await call<Conversation>(server, 'conversations.get', { id: conversationId });
    for (const m of c.messages) assert.doesNotMatch(m.content, new RegExp(IMAGE_ONLY_WORD, 'i'), `the ${m.role} message must not contain the word`);
  });

  test('the answer says it used OCR tokens from the image (Auto, document-like page)', async () => {
    const c = await call<Conversation>(server, 'conversations.get', { id: conversationId });
    const tokens = c.messages.at(-1)!.timings?.ocrTokens;
    assert.ok(tokens && tokens > 0, `timings.ocrTokens = ${tokens}`);
    assert.equal((await lastAnswer().getByTestId('ocr-tokens-note').innerText()).trim(), `used ${tokens} OCR tokens from the image`);
  });

  test('history search for a word only in the image finds the conversation', async () => {
    await byTestId('new-chat').click();
    await byTestId('search-input').fill(IMAGE_ONLY_WORD);
    const hit = page.locator(`[data-testid=search-result][data-id="${conversationId}"]`);
    await hit.first().waitFor({ timeout: 10_000 });
    assert.match(await hit.first().innerText(), new RegExp(IMAGE_ONLY_WORD, 'i'));
    // The hit says where the match is (SearchHit.source): in the image's text.
    const hits = await call<SearchHit[]>(server, 'search.messages', { query: IMAGE_ONLY_WORD });
    const apiHit = hits.find((h) => h.conversationId === conversationId);
    assert.ok(apiHit, 'search.messages finds it');
    assert.equal(apiHit.source, 'attachment');
    assert.equal(await hit.first().getAttribute('data-source'), 'image');
    assert.match(await hit.first().getByTestId('search-in-image').innerText(), /in image/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-text-search.png') });
    await hit.first().click();
    await page.waitForFunction((id) => location.hash === `#/c/${encodeURIComponent(id)}`, conversationId);
    await page.locator('[data-testid=message][data-role=user]').first().waitFor();
    await byTestId('search-input').fill('');
  });

  test('the image viewer lays the text over the page, turned with it', async () => {
    await page.locator('[data-testid=message][data-role=user] [data-testid=attachment-thumb] button.open').first().click();
    const viewer = byTestId('image-viewer');
    await viewer.waitFor();
    // The title reads "name · W×H", with a space on both sides of the dot.
    assert.match(await viewer.locator('header .name').innerText(), /\S \u00b7 \d+\u00d7\d+$/);
    await byTestId('text-layer').waitFor({ timeout: 30_000 });
    assert.equal(await byTestId('image-text-status').getAttribute('data-status'), 'done');
    const lineTexts = await byTestId('text-line').allInnerTexts();
    assert.equal(lineTexts.length, pageText.blocks.reduce((n, b) => n + b.lines.length, 0));
    assert.match(await byTestId('text-layer').innerText(), new RegExp(`\\b${IMAGE_ONLY_WORD}\\b`, 'i'));

    // The layer covers the picture exactly, and every line lies inside it, turned -90° (reads upwards).
    // (No named helpers inside evaluate: tsx would wrap them in a __name the page does not have.)
    const geometry = await page.evaluate(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid=image-viewer] img')!;
      const layer = document.querySelector<HTMLElement>('[data-testid=text-layer]')!;
      const [ib, lb] = [img.getBoundingClientRect(), layer.getBoundingClientRect()];
      return {
        img: { x: ib.x, y: ib.y, w: ib.width, h: ib.height },
        layer: { x: lb.x, y: lb.y, w: lb.width, h: lb.height },
        lines: [...layer.querySelectorAll<HTMLElement>('[data-testid=text-line]')].map((el) => {
          const m = new DOMMatrix(getComputedStyle(el).transform);
          const b = el.getBoundingClientRect();
          return { rect: { x: b.x, y: b.y, w: b.width, h: b.height }, angle: (Math.atan2(m.b, m.a) * 180) / Math.PI };
        }),
      };
    });
    for (const k of ['x', 'y', 'w', 'h'] as const) assert.ok(Math.abs(geometry.img[k] - geometry.layer[k]) < 1.5, `layer ${k} ${geometry.layer[k]} vs image ${geometry.img[k]}`);
    for (const line of geometry.lines) {
      assert.ok(Math.abs(line.angle + 90) < 3, `line angle ${line.angle}`);
      assert.ok(line.rect.h > line.rect.w, 'a line of the turned page is tall and thin on screen');
      assert.ok(line.rect.x >= geometry.layer.x - 2 && line.rect.x + line.rect.w <= geometry.layer.x + geometry.layer.w + 2, 'inside horizontally');
      assert.ok(line.rect.y >= geometry.layer.y - 2 && line.rect.y + line.rect.h <= geometry.layer.y + geometry.layer.h + 2, 'inside vertically');
    }
    await byTestId('show-image-text').click();
    assert.equal(await byTestId('show-image-text').getAttribute('aria-pressed'), 'true');
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-text-viewer-lines.png') });
    await byTestId('show-image-text').click();
  });

  test('a line selected with the mouse copies as its text', async () => {
    const line = byTestId('text-line').filter({ hasText: new RegExp(`\\b${IMAGE_ONLY_WORD}\\b`, 'i') }).first();
    const expected = (await line.innerText()).trim();
    // Drag along the line, from just inside its first character to just inside its last.
    const { start, end } = await line.evaluate((el: HTMLElement) => {
      const layer = el.parentElement!.getBoundingClientRect();
      const m = new DOMMatrix(getComputedStyle(el).transform);
      const tl = { x: layer.x + el.offsetLeft, y: layer.y + el.offsetTop };
      const along = { x: m.a * el.offsetWidth, y: m.b * el.offsetWidth };
      const across = { x: m.c * el.offsetHeight, y: m.d * el.offsetHeight };
      const inset = 1.5 / Math.hypot(along.x, along.y);
      return {
        start: { x: tl.x + along.x * inset + across.x / 2, y: tl.y + along.y * inset + across.y / 2 },
        end: { x: tl.x + along.x * (1 - inset) + across.x / 2, y: tl.y + along.y * (1 - inset) + across.y / 2 },
      };
    });
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(end.x, end.y, { steps: 12 });
    await page.mouse.up();
    const selected = await page.evaluate(() => window.getSelection()?.toString() ?? '');
    assert.equal(selected.trim(), expected, 'the selection is the line');
    assert.ok(await byTestId('image-viewer').isVisible(), 'selecting does not close the viewer');
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-text-selection.png') });

    // Ctrl+C copies the selection: what the copy event carries, and the clipboard where the browser grants it.
    await page.evaluate(() => {
      document.addEventListener('copy', () => ((window as unknown as { __copied?: string }).__copied = window.getSelection()?.toString() ?? ''), { once: true });
    });
    await page.keyboard.press('ControlOrMeta+C');
    const copied = await page.evaluate(() => (window as unknown as { __copied?: string }).__copied);
    assert.equal(copied?.trim(), expected, 'Ctrl+C copies the selected line');
    const clip = await clipboard();
    if (clip !== undefined) assert.equal(clip.trim(), expected);
  });

  test('"Copy text" copies the whole page text', async () => {
    await byTestId('copy-image-text').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=image-viewer]')?.hasAttribute('data-last-copied'));
    assert.equal(await byTestId('image-viewer').getAttribute('data-last-copied'), pageText.text);
    const clip = await clipboard();
    if (clip !== undefined) assert.equal(clip, pageText.text);
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-text-viewer.png') });
    await page.keyboard.press('Escape');
    await byTestId('image-viewer').waitFor({ state: 'detached' });
  });

  test('Image text in prompt: Off and On persist, and decide the OCR tokens of an answer', async () => {
    const button = byTestId('ocr-tokens-button');
    assert.equal(await button.getAttribute('data-setting'), 'auto');
    await button.click();
    await byTestId('ocr-tokens-panel').waitFor();
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ocr-tokens-effect]')?.dataset.state === 'on');
    assert.match(await byTestId('ocr-tokens-effect').innerText(), /document/i);
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-text-ocr-tokens.png') });

    await byTestId('ocr-tokens-off').check();
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ocr-tokens-button]')?.dataset.setting === 'off');
    assert.equal((await call<Conversation>(server, 'conversations.get', { id: conversationId })).ocrTokens, 'off');
    await page.keyboard.press('Escape');
    await byTestId('ocr-tokens-panel').waitFor({ state: 'hidden' });

    // Off: the regenerated answer had no OCR tokens, and says nothing about them.
    await regenerate();
    let c = await call<Conversation>(server, 'conversations.get', { id: conversationId });
    assert.equal(c.messages.at(-1)!.timings?.ocrTokens, undefined);
    assert.equal(await settled().getByTestId('ocr-tokens-note').count(), 0);

    // It persists over a reload.
    await page.reload();
    await page.locator('[data-testid=message][data-role=assistant]').first().waitFor();
    assert.equal(await byTestId('ocr-tokens-button').getAttribute('data-setting'), 'off');

    await byTestId('ocr-tokens-button').click();
    await byTestId('ocr-tokens-on').check();
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=ocr-tokens-button]')?.dataset.setting === 'on');
    assert.equal((await call<Conversation>(server, 'conversations.get', { id: conversationId })).ocrTokens, 'on');
    assert.equal(await byTestId('ocr-tokens-effect').getAttribute('data-state'), 'on');
    await page.keyboard.press('Escape');

    // On: the next answer has the page's text in its prompt again.
    await regenerate();
    c = await call<Conversation>(server, 'conversations.get', { id: conversationId });
    const tokens = c.messages.at(-1)!.timings?.ocrTokens;
    assert.ok(tokens && tokens > 0, `timings.ocrTokens = ${tokens}`);
    await settled().getByTestId('ocr-tokens-note').waitFor();
    for (const m of c.messages) assert.doesNotMatch(m.content, new RegExp(IMAGE_ONLY_WORD, 'i'));

    await page.reload();
    await page.locator('[data-testid=message][data-role=assistant]').first().waitFor();
    assert.equal(await byTestId('ocr-tokens-button').getAttribute('data-setting'), 'on');
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-text-conversation.png') });
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });
});
