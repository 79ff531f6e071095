/**
 * New chat in the real chat window (headless Chromium against `omnifusion serve`): a question
 * typed right after clicking New chat goes into a new conversation, never the one that was open,
 * even when the server answers slowly (every API call is held back 400 ms here); and clicking New
 * chat again and again lists no empty "New chat" conversations.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Conversation, ConversationSummary } from '../../main/api/contract.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { call } from '../helpers/serve.js';
import { openStore } from '../../main/core/store/index.js';

describe('New chat', () => {
  let app: AppSession;
  let page: Page;
  let firstId = '';

  before(async () => {
    app = await openAppSession('new-chat', {
      viewport: { width: 1200, height: 800 },
      settings: { maxNewTokens: 4, greedy: true },
      prepare: (dataDir) => {
        const store = openStore({ dataDir });
        const c = store.createConversation('Earlier conversation');
        store.addMessage(c.id, { role: 'user', content: 'an earlier question' });
        store.addMessage(c.id, { role: 'assistant', content: 'an earlier answer', status: 'complete' });
        firstId = String(c.id);
        store.close();
      },
    });
    page = app.page;
    await page.goto(app.server.url);
    await page.getByTestId('conversation-item').filter({ hasText: 'Earlier conversation' }).click();
    await page.locator('[data-testid=message][data-role=assistant]').first().waitFor();
  });

  after(() => app?.close());

  test('a question sent at once after New chat starts a new conversation, even with a slow server', async () => {
    // A slow server (a busy machine, a remote one): every call waits 400 ms before it goes out.
    await page.route('**/api/call/**', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    await page.getByTestId('new-chat').click();
    await page.getByTestId('composer-input').fill('a brand new question');
    await page.getByTestId('composer-input').press('Enter');
    await page.locator('[data-testid=message][data-role=user]').filter({ hasText: 'a brand new question' }).waitFor();
    await page.unrouteAll({ behavior: 'wait' });
    await page.locator('[data-testid=message][data-role=assistant][data-status=complete]:not([data-streaming])').waitFor({ timeout: 60_000 });

    const earlier = await call<Conversation>(app.server, 'conversations.get', { id: firstId });
    assert.deepEqual(earlier.messages.map((m) => m.content), ['an earlier question', 'an earlier answer'], 'the open conversation is untouched');
    const list = await call<ConversationSummary[]>(app.server, 'conversations.list', {});
    assert.equal(list.length, 2);
    const fresh = list.find((c) => c.id !== firstId)!;
    const stored = await call<Conversation>(app.server, 'conversations.get', { id: fresh.id });
    assert.equal(stored.messages[0]!.content, 'a brand new question');
    assert.equal(fresh.title, 'a brand new question', 'titled after its first question');
    assert.equal(await page.evaluate(() => decodeURIComponent(location.hash)), `#/c/${fresh.id}`, 'the window shows the new one');
  });

  test('clicking New chat again and again lists no empty conversations', async () => {
    const before = await call<ConversationSummary[]>(app.server, 'conversations.list', {});
    for (let i = 0; i < 3; i++) await page.getByTestId('new-chat').click();
    await page.getByTestId('composer-input').waitFor();
    await page.waitForTimeout(300); // a create call, had one been made, would have landed by now
    const after = await call<ConversationSummary[]>(app.server, 'conversations.list', {});
    assert.equal(after.length, before.length);
    assert.equal(await page.getByTestId('conversation-item').count(), before.length);
    assert.equal(await page.getByTestId('conversation-item').filter({ hasText: 'New chat' }).count(), 0);
    assert.deepEqual(app.pageErrors, []);
  });
});
