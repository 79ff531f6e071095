/**
 * An answer about an image whose text is still being read (issue 12, bug 1), in headless Chromium
 * against `omnifusion serve` with the tiny OmniFusion (it takes a page's text as OCR tokens, so an
 * answer waits for the reading): a real document page is attached and asked about at once. Within
 * two seconds of Enter the question shows, the answer says it is reading the text in the image
 * (generation.phase) and Stop is enabled; Stop ends it as stopped with no text. A second page,
 * asked about while the first is still being read, is stopped with Esc the same way. Once both
 * pages have been read, neither answer has received any text: nothing was generated after Stop.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Page } from 'playwright-core';
import type { Conversation, ImageText } from '../../main/api/contract.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { call, type Server } from '../helpers/serve.js';

/** A full page of printed text: reading it takes the engine's text OCR several seconds. */
const PAGE = path.join(REAL_DATA_DIR, 'documents/pix2text_page_paper.png');
/** A second page, read after the first (the engine reads one image at a time). */
const SECOND_PAGE = path.join(REAL_DATA_DIR, 'documents/pix2text_en1_book_excerpt.jpg');
/** How soon after Enter the question, the reading status and an enabled Stop must show, ms. */
const AT_ONCE_MS = 2000;

describe('stopping an answer while its image text is read, in Chromium against omnifusion serve', { skip: existsSync(PAGE) && existsSync(SECOND_PAGE) ? false : `${PAGE} is absent` }, () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  const conversations: string[] = [];

  before(async () => {
    // A long budget: an answer that was not really stopped would stream plenty of text.
    app = await openAppSession('answer-phases', { viewport: { width: 1280, height: 860 }, settings: { maxNewTokens: 400, greedy: true } });
    ({ server, page } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const answer = () => page.locator('[data-testid=message][data-role=assistant]').last();

  /** Attach `file`, ask `question` with Enter, and check what must show at once; returns the conversation id. */
  async function askAboutPage(file: string, question: string): Promise<string> {
    await byTestId('new-chat').click();
    await byTestId('file-input').setInputFiles(file);
    await page.locator('[data-testid=attachment-thumb][data-status=ready]').waitFor({ timeout: 30_000 });
    await byTestId('composer-input').fill(question);
    const start = Date.now();
    await byTestId('composer-input').press('Enter');
    const left = () => Math.max(1, AT_ONCE_MS - (Date.now() - start));
    await page.locator('[data-testid=message][data-role=user]').filter({ hasText: question }).waitFor({ timeout: left() });
    const phase = page.locator('[data-testid=message][data-role=assistant] [data-testid=message-phase]');
    await phase.waitFor({ timeout: left() });
    assert.equal(await phase.getAttribute('data-phase'), 'reading-image-text');
    assert.match(await phase.innerText(), /Reading the text in the image/);
    await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('[data-testid=stop]')?.disabled === false, null, { timeout: left() });
    const elapsed = Date.now() - start;
    assert.ok(elapsed <= AT_ONCE_MS, `question, reading status and Stop shown after ${elapsed} ms`);
    const id = await page.evaluate(() => decodeURIComponent(/^#\/c\/(.+)$/.exec(location.hash)?.[1] ?? ''));
    assert.ok(id, 'the conversation is in the address');
    return id;
  }

  /** The answer on screen ended stopped, with no text and no status line left. */
  async function assertStopped(): Promise<void> {
    await page.locator('[data-testid=message][data-role=assistant][data-status=partial]:not([data-streaming])').waitFor({ timeout: 5000 });
    assert.equal((await answer().locator('[data-testid=message-content]').innerText()).trim(), '', 'no text was streamed');
    assert.match(await answer().getByTestId('message-flag').innerText(), /stopped/);
    assert.equal(await page.getByTestId('message-phase').count(), 0, 'the reading status is gone');
    assert.equal(await byTestId('stop').count(), 0, 'Stop is gone: nothing runs');
  }

  test('ask about a page being read: the question, "Reading the text in the image…" and Stop at once; Stop ends it', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    conversations.push(await askAboutPage(PAGE, 'What does this paper say?'));
    await page.screenshot({ path: path.join(ARTIFACTS, 'answer-reading-image-text.png') });
    await byTestId('stop').click();
    await assertStopped();
  });

  test('Esc stops an answer while its page is read, the same way', async () => {
    conversations.push(await askAboutPage(SECOND_PAGE, 'Summarise this book page.'));
    await page.keyboard.press('Escape');
    await assertStopped();
  });

  test('once both pages are read, neither answer has any text: nothing was generated after Stop', async () => {
    for (const id of conversations) {
      const c = await call<Conversation>(server, 'conversations.get', { id });
      const sha = c.messages[0]!.attachments[0]!.sha256;
      for (let t = Date.now(); ; ) {
        const text = await call<ImageText>(server, 'attachments.text', { sha256: sha });
        if (text.status !== 'pending') break;
        assert.ok(Date.now() - t < 120_000, 'the page is read within two minutes');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // Time for a generation that was wrongly started after the reading to send its first tokens.
    await page.waitForTimeout(3000);
    for (const id of conversations) {
      const c = await call<Conversation>(server, 'conversations.get', { id });
      const answers = c.messages.filter((m) => m.role === 'assistant');
      assert.deepEqual(answers.map((m) => [m.status, m.content]), [['partial', '']], `conversation ${id}`);
    }
    assert.equal((await answer().locator('[data-testid=message-content]').innerText()).trim(), '');
    assert.deepEqual(app.pageErrors, []);
  });
});
