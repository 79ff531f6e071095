/**
 * The conversation list's preview follows the reply branch on screen (issue 12, bug 6), in
 * headless Chromium against `omnifusion serve` with the tiny model: ask, regenerate (two versions
 * of the answer); switching versions with ‹ › changes the row's preview to the version shown; a
 * conversation left on the older version keeps showing it while another one is open, and opens on
 * it again. The chosen version is not kept across a reload: the conversation then opens on its
 * newest branch, and its row shows that branch's answer (the store's preview) — what is on screen.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Locator, type Page } from 'playwright-core';
import type { Conversation, ConversationSummary } from '../../main/api/contract.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { call, type Server } from '../helpers/serve.js';

/** The preview the store makes of a message (160 characters, whitespace collapsed). */
function preview(content: string): string {
  return Array.from(content).slice(0, 160).join('').replace(/\s+/g, ' ').trim();
}

describe('the list preview shows the reply branch on screen', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  let conversationId = '';
  let first = '';
  let second = '';

  before(async () => {
    app = await openAppSession('branch-preview', { viewport: { width: 1200, height: 860 }, settings: { maxNewTokens: 6, greedy: true } });
    ({ server, page } = app);
  });

  after(() => app?.close());

  const answer = () => page.locator('[data-testid=message][data-role=assistant]').first();
  const versionOf = (item: Locator) => item.getByTestId('version-label').innerText();
  const rowPreview = () => page.locator(`[data-testid=conversation-item][data-id="${conversationId}"] .preview`).innerText();
  const settled = () =>
    page.waitForFunction(
      () => {
        const items = [...document.querySelectorAll<HTMLElement>('[data-testid=message][data-role=assistant]')];
        return items.length > 0 && items.every((m) => m.dataset.status === 'complete' && !m.dataset.streaming);
      },
      null,
      { timeout: 60_000 },
    );
  /** Wait until the row's preview is `expected` (the list updates after the answer), then return it. */
  async function previewBecomes(expected: string): Promise<string> {
    await page
      .waitForFunction(
        ([id, want]) => document.querySelector(`[data-testid=conversation-item][data-id="${id}"] .preview`)?.textContent === want,
        [conversationId, expected] as const,
        { timeout: 3000 },
      )
      .catch(() => undefined);
    return rowPreview();
  }
  const answers = async (): Promise<string[]> =>
    (await call<Conversation>(server, 'conversations.get', { id: conversationId })).messages.filter((m) => m.role === 'assistant').map((m) => m.content);

  test('after a regenerate, ‹ › switch the row\'s preview with the answer shown', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await page.getByTestId('new-chat').click();
    await page.getByTestId('composer-input').fill('What is two plus two?');
    await page.getByTestId('composer-input').press('Enter');
    await answer().waitFor();
    await settled();
    conversationId = await page.evaluate(() => decodeURIComponent(/#\/c\/([^/?#]+)/.exec(location.hash)?.[1] ?? ''));
    const firstId = await answer().getAttribute('data-id');
    await call(server, 'settings.set', { maxNewTokens: 14 });
    await page.getByTestId('regenerate').click();
    await page.locator(`[data-testid=message][data-role=assistant]:not([data-id="${firstId}"])`).waitFor({ timeout: 30_000 });
    await settled();
    [first, second] = (await answers()).map(preview) as [string, string];
    assert.ok(first && second && first !== second, `two different answers: ${JSON.stringify([first, second])}`);
    assert.equal(await versionOf(answer()), '2 / 2');
    assert.equal(await previewBecomes(second), second, 'the regenerated answer is shown and previewed');

    await answer().getByRole('button', { name: 'Previous version' }).click();
    assert.equal(await versionOf(answer()), '1 / 2');
    assert.equal(await previewBecomes(first), first, 'the first answer is on screen: the row previews it');

    await answer().getByRole('button', { name: 'Next version' }).click();
    assert.equal(await previewBecomes(second), second);
    await answer().getByRole('button', { name: 'Previous version' }).click();
    assert.equal(await previewBecomes(first), first);
  });

  test('left on the first answer, the row keeps previewing it, and the conversation opens on it again', async () => {
    await page.getByTestId('new-chat').click();
    await page.getByTestId('empty-state').waitFor();
    assert.equal(await previewBecomes(first), first, 'another chat is open: the row shows the branch the conversation shows');
    await page.locator(`[data-testid=conversation-item][data-id="${conversationId}"] .open`).click();
    await answer().waitFor();
    assert.equal(await versionOf(answer()), '1 / 2', 'the choice is kept while the app runs');
    assert.equal(await rowPreview(), first);
  });

  test('after a reload the conversation opens on its newest branch, and the row previews that', async () => {
    await page.reload();
    await page.locator(`[data-testid=conversation-item][data-id="${conversationId}"] .open`).click();
    await answer().waitFor();
    await settled();
    assert.equal(await versionOf(answer()), '2 / 2', 'the choice is not kept across a reload');
    assert.equal(await previewBecomes(second), second, 'the row shows the answer on screen');
    const listed = await call<ConversationSummary[]>(server, 'conversations.list', {});
    assert.equal(listed.find((c) => c.id === conversationId)?.preview, second, 'the store previews the newest branch too');
    assert.deepEqual(app.pageErrors, []);
  });
});
