/**
 * Reply branches in the real chat window (headless Chromium against `omnifusion serve` with the
 * tiny model, greedy): ask; regenerate (with a longer token budget, so the two answers differ) →
 * the answer shows "2 / 2", Previous version brings the first answer back word for word (also by
 * keyboard); edit and resend the question → the switcher is on the question; sending on the older
 * branch continues that branch (the service stores it under the answer shown); after a reload all
 * the branches are still there and switchable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { type Locator, type Page } from 'playwright-core';
import type { Conversation } from '../../main/api/contract.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { call, type Server } from '../helpers/serve.js';

const QUESTION = 'What is two plus two?';
const EDITED = 'What is three plus three?';
const FOLLOW_UP = 'Tell me more about it.';

describe('reply branches in Chromium against omnifusion serve', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  let pageErrors: string[];
  let firstAnswer = '';
  let secondAnswer = '';
  let firstAnswerId = '';
  let conversationId = '';

  before(async () => {
    app = await openAppSession('branches', { viewport: { width: 1200, height: 900 }, settings: { maxNewTokens: 6, greedy: true } });
    ({ server, page, pageErrors } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const messages = () => page.locator('[data-testid=message]');
  const question = () => page.locator('[data-testid=message][data-role=user]').first();
  const answer = () => page.locator('[data-testid=message][data-role=assistant]').first();
  const textOf = (item: Locator) => item.locator('[data-testid=message-content]').innerText();
  const versionOf = (item: Locator) => item.getByTestId('version-label').innerText();
  /** Wait until no answer is streaming and every shown answer is finished. */
  const settled = () =>
    page.waitForFunction(
      () => {
        const items = [...document.querySelectorAll<HTMLElement>('[data-testid=message][data-role=assistant]')];
        return items.length > 0 && items.every((m) => m.dataset.status === 'complete' && !m.dataset.streaming);
      },
      null,
      { timeout: 60_000 },
    );
  const stored = async (): Promise<Conversation> => (await call(server, 'conversations.get', { id: conversationId })) as Conversation;

  test('ask, then regenerate: the answer shows 2 / 2; Previous version brings the first answer back', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await byTestId('new-chat').click();
    await byTestId('composer-input').fill(QUESTION);
    await byTestId('composer-input').press('Enter');
    await answer().waitFor();
    await settled();
    firstAnswer = await textOf(answer());
    firstAnswerId = (await answer().getAttribute('data-id'))!;
    conversationId = (await page.evaluate(() => decodeURIComponent(/#\/c\/([^/?#]+)/.exec(location.hash)?.[1] ?? '')))!;
    assert.ok(firstAnswer.length > 0);
    assert.equal(await answer().getByTestId('versions').count(), 0, 'no switcher while there is one version');

    await call(server, 'settings.set', { maxNewTokens: 14 });
    await byTestId('regenerate').click();
    await page.locator(`[data-testid=message][data-role=assistant]:not([data-id="${firstAnswerId}"])`).waitFor({ timeout: 30_000 });
    await settled();
    secondAnswer = await textOf(answer());
    assert.notEqual(secondAnswer, firstAnswer, 'a longer budget gave a different answer');
    assert.equal(await versionOf(answer()), '2 / 2');
    assert.equal(await messages().count(), 2, 'one question, the answer shown');

    await answer().getByRole('button', { name: 'Previous version' }).click();
    assert.equal(await versionOf(answer()), '1 / 2');
    assert.equal(await textOf(answer()), firstAnswer, 'the first answer is back, exactly');
    assert.equal(await answer().getAttribute('data-id'), firstAnswerId);

    // Keyboard: the focus stays on the switcher (now Next: Previous is disabled at 1 / 2).
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Next version');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid=message][data-role=assistant] [data-testid=version-label]')?.textContent === '2 / 2');
    assert.equal(await textOf(answer()), secondAnswer);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Previous version');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid=message][data-role=assistant] [data-testid=version-label]')?.textContent === '1 / 2');
    assert.equal(await textOf(answer()), firstAnswer);
  });

  test('edit and resend the question: the switcher is on the question, and both questions can be shown', async () => {
    await call(server, 'settings.set', { maxNewTokens: 6 });
    await question().getByTestId('edit').click();
    await byTestId('edit-input').fill(EDITED);
    await byTestId('edit-send').click();
    await page.waitForFunction((q) => document.querySelector('[data-testid=message][data-role=user] [data-testid=message-content]')?.textContent === q, EDITED, { timeout: 30_000 });
    await settled();
    assert.equal(await versionOf(question()), '2 / 2');
    assert.equal(await messages().count(), 2);
    assert.equal(await answer().getByTestId('versions').count(), 0, 'the new question has one answer');

    await question().getByRole('button', { name: 'Previous version' }).click();
    assert.equal(await versionOf(question()), '1 / 2');
    assert.equal(await textOf(question()), QUESTION);
    // Below it, the path to its newest message: the regenerated answer.
    assert.equal(await messages().count(), 2);
    assert.equal(await versionOf(answer()), '2 / 2');
    assert.equal(await textOf(answer()), secondAnswer);
  });

  test('sending on the older branch continues it', async () => {
    await answer().getByRole('button', { name: 'Previous version' }).click();
    assert.equal(await textOf(answer()), firstAnswer);
    await byTestId('composer-input').fill(FOLLOW_UP);
    await byTestId('composer-input').press('Enter');
    await page.locator('[data-testid=message]').nth(3).waitFor({ timeout: 30_000 });
    await settled();
    assert.equal(await messages().count(), 4);
    assert.equal(await textOf(question()), QUESTION);
    assert.equal(await textOf(answer()), firstAnswer, 'the older answer stays shown above the follow-up');
    assert.equal(await textOf(messages().nth(2)), FOLLOW_UP);

    // The service stored the follow-up under the first answer (the branch shown).
    const followUp = (await stored()).messages.find((m) => m.content === FOLLOW_UP)!;
    assert.equal(followUp.parentId, firstAnswerId);
    await page.screenshot({ path: path.join(ARTIFACTS, 'branches-older.png') });
  });

  test('after a reload every branch is still there and switchable', async () => {
    await page.reload();
    await page.locator(`[data-testid=conversation-item][data-id="${conversationId}"]`).click();
    await page.locator('[data-testid=message]').nth(3).waitFor({ timeout: 30_000 });
    // The path to the newest message: the follow-up on the first answer.
    assert.equal(await messages().count(), 4);
    assert.equal(await versionOf(question()), '1 / 2');
    assert.equal(await versionOf(answer()), '1 / 2');
    assert.equal(await textOf(answer()), firstAnswer);

    await answer().getByRole('button', { name: 'Next version' }).click();
    assert.equal(await textOf(answer()), secondAnswer);
    assert.equal(await messages().count(), 2, 'the regenerated answer has no follow-up');

    await question().getByRole('button', { name: 'Next version' }).click();
    assert.equal(await textOf(question()), EDITED);
    assert.equal(await messages().count(), 2);

    await question().getByRole('button', { name: 'Previous version' }).click();
    assert.equal(await textOf(question()), QUESTION);
    assert.equal(await messages().count(), 4, 'back on the first question: the path to its newest message');
    assert.equal(await textOf(answer()), firstAnswer);
    assert.equal((await stored()).messages.length, 7, 'two questions, three answers, a follow-up and its answer');
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });
});
