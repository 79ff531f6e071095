/**
 * Pins and folders in the conversation list, in headless Chromium against `omnifusion serve`:
 * three conversations; pinning one moves it to the Pinned group at the top (kept after a reload);
 * moving one into the folder "Receipts" (typed into the inline input) files it there (kept after a
 * reload; the folder collapses, and stays collapsed for the session); a bad folder name shows the
 * service's one-line reason inline and changes nothing; unpinning and removing from the folder
 * restore the order by last activity. The menu is driven by the keyboard. Search still replaces
 * the list while a query is typed. Moving by keyboard keeps focus on the moved row and opens a
 * collapsed target folder; filing a pinned conversation says it stays under Pinned; the menu of
 * the last row at the bottom of a 420×800 window shows all its items. A screenshot goes to test-results/e2e/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { type Page } from 'playwright-core';
import type { ConversationSummary } from '../../main/api/contract.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { call, type Server } from '../helpers/serve.js';
import { openStore } from '../../main/core/store/index.js';

describe('organising the history: pins and folders', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  const ids: Record<'alpha' | 'bravo' | 'charlie', string> = { alpha: '', bravo: '', charlie: '' };

  before(async () => {
    app = await openAppSession('organise', {
      viewport: { width: 1280, height: 800 },
      // Three conversations, oldest first: the list shows Charlie, Bravo, Alpha.
      prepare: (dataDir) => {
        const store = openStore({ dataDir });
        for (const name of ['alpha', 'bravo', 'charlie'] as const) {
          const c = store.createConversation(name[0]!.toUpperCase() + name.slice(1));
          store.addMessage(c.id, { role: 'user', content: `A question about ${name} lemons` });
          store.addMessage(c.id, { role: 'assistant', content: `An answer about ${name}`, status: 'complete', model: 'omnifusion-tiny' });
          ids[name] = String(c.id);
        }
        store.close();
      },
    });
    ({ server, page } = app);
  });

  after(() => app?.close());

  const item = (id: string) => page.locator(`[data-testid=conversation-item][data-id="${id}"]`);
  const titles = () => page.locator('[data-testid=conversation-item] .title').allInnerTexts();
  const pinnedTitles = () => page.locator('[data-testid=pinned-group] [data-testid=conversation-item] .title').allInnerTexts();
  const folder = (name: string) => page.locator(`[data-testid=folder][data-folder="${name}"]`);
  const listed = () => call<ConversationSummary[]>(server, 'conversations.list', {});

  async function reload(): Promise<void> {
    await page.reload();
    await page.locator('[data-testid=conversation-item]').first().waitFor();
  }

  /** Open a row's menu with the keyboard and choose an item by its test id. */
  async function choose(id: string, menuItem: 'menu-pin' | 'menu-move' | 'menu-unfile'): Promise<void> {
    const button = item(id).getByTestId('conversation-menu');
    await button.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    assert.equal(await button.getAttribute('aria-expanded'), 'true');
    const first = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
    assert.equal(first, 'menu-pin', 'the menu opens on its first item');
    for (let i = 0; i < 3; i++) {
      if ((await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === menuItem) break;
      await page.keyboard.press('ArrowDown');
    }
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), menuItem);
    await page.keyboard.press('Enter');
  }

  test('three conversations, newest first, no groups yet', async () => {
    await page.goto(server.url);
    await page.locator('[data-testid=conversation-item]').nth(2).waitFor();
    assert.deepEqual(await titles(), ['Charlie', 'Bravo', 'Alpha']);
    assert.equal(await page.getByTestId('pinned-group').count(), 0);
    assert.equal(await page.getByTestId('folder').count(), 0);
  });

  test('Esc closes the menu and gives focus back to its button', async () => {
    const button = item(ids.charlie).getByTestId('conversation-menu');
    await button.focus();
    await page.keyboard.press('ArrowDown');
    await page.getByRole('menu').waitFor();
    await page.keyboard.press('Escape');
    assert.equal(await page.getByRole('menu').count(), 0);
    assert.equal(await button.evaluate((b) => b === document.activeElement), true);
    assert.equal(await button.getAttribute('aria-expanded'), 'false');
  });

  test('pin: the conversation moves to the Pinned group at the top, and stays there after a reload', async () => {
    await choose(ids.alpha, 'menu-pin');
    await page.locator(`[data-testid=pinned-group] [data-id="${ids.alpha}"]`).waitFor();
    assert.deepEqual(await titles(), ['Alpha', 'Charlie', 'Bravo']);
    assert.deepEqual(await pinnedTitles(), ['Alpha']);
    assert.equal((await listed()).find((c) => c.id === ids.alpha)?.pinned, true);
    await reload();
    assert.deepEqual(await pinnedTitles(), ['Alpha']);
    assert.deepEqual(await titles(), ['Alpha', 'Charlie', 'Bravo']);
    assert.equal(await item(ids.alpha).getAttribute('data-pinned'), 'true');
  });

  test('move to folder: typed into the inline input, filed under "Receipts" after a reload', async () => {
    await choose(ids.bravo, 'menu-move');
    const input = item(ids.bravo).getByTestId('folder-input');
    await input.waitFor();
    assert.equal(await input.evaluate((el) => el === document.activeElement), true, 'the input has focus');
    await input.fill('  Receipts ');
    await input.press('Enter');
    await folder('Receipts').locator(`[data-testid=conversation-item][data-id="${ids.bravo}"]`).waitFor();
    assert.equal((await listed()).find((c) => c.id === ids.bravo)?.folder, 'Receipts');
    await reload();
    assert.deepEqual(await folder('Receipts').locator('[data-testid=conversation-item] .title').allInnerTexts(), ['Bravo']);
    assert.deepEqual(await page.locator('[data-testid=loose-group] [data-testid=conversation-item] .title').allInnerTexts(), ['Charlie']);
    // Order: Pinned, then folders, then the rest.
    assert.deepEqual(await titles(), ['Alpha', 'Bravo', 'Charlie']);
  });

  test('a folder collapses, and stays collapsed after a reload in the same session', async () => {
    const toggle = folder('Receipts').getByTestId('folder-toggle');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await item(ids.bravo).count(), 0);
    await reload();
    assert.equal(await folder('Receipts').getByTestId('folder-toggle').getAttribute('aria-expanded'), 'false');
    assert.equal(await item(ids.bravo).count(), 0);
    await folder('Receipts').getByTestId('folder-toggle').click();
    await item(ids.bravo).waitFor();
  });

  test('Move to folder suggests the existing folders', async () => {
    await choose(ids.charlie, 'menu-move');
    const input = item(ids.charlie).getByTestId('folder-input');
    assert.equal(await input.getAttribute('list'), 'folder-names');
    assert.deepEqual(await page.locator('datalist#folder-names option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['Receipts']);
    await input.press('Escape');
    await item(ids.charlie).locator('.open').waitFor();
    assert.equal(await item(ids.charlie).locator('.open').evaluate((el) => el === document.activeElement), true, 'Esc gives focus back to the row');
  });

  test('a bad folder name shows the one-line reason inline and changes nothing', async () => {
    const before = await listed();
    await choose(ids.charlie, 'menu-move');
    const input = item(ids.charlie).getByTestId('folder-input');
    await input.fill('Bills/2026');
    await input.press('Enter');
    const error = item(ids.charlie).getByTestId('folder-error');
    await error.waitFor();
    const text = await error.innerText();
    assert.match(text, /slash/);
    assert.doesNotMatch(text.trim(), /\n/, 'one line');
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    assert.equal(await input.evaluate((el) => el === document.activeElement), true, 'the input keeps focus to fix the name');
    await page.screenshot({ path: path.join(ARTIFACTS, 'history-organise.png') });

    await input.fill('x'.repeat(61));
    await input.press('Enter');
    await page.waitForFunction(() => /longer than 60/.test(document.querySelector('[data-testid=folder-error]')?.textContent ?? ''));

    await input.press('Escape');
    assert.equal(await item(ids.charlie).getByTestId('folder-error').count(), 0);
    assert.equal(await item(ids.charlie).getAttribute('data-folder'), '');
    assert.deepEqual(await listed(), before, 'nothing changed');
    assert.deepEqual(await titles(), ['Alpha', 'Bravo', 'Charlie']);
  });

  test('search still replaces the list while a query is typed', async () => {
    const search = page.getByTestId('search-input');
    await search.fill('bravo');
    await page.getByTestId('search-result').first().waitFor();
    assert.equal(await page.getByTestId('conversation-item').count(), 0);
    assert.deepEqual([...new Set(await page.getByTestId('search-result').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id)))], [ids.bravo]);
    await search.press('Escape');
    await page.locator('[data-testid=conversation-item]').nth(2).waitFor();
    assert.deepEqual(await titles(), ['Alpha', 'Bravo', 'Charlie']);
  });

  test('unpin and remove from folder restore the order by last activity, also after a reload', async () => {
    await choose(ids.alpha, 'menu-pin'); // now "Unpin"
    await page.waitForFunction(() => !document.querySelector('[data-testid=pinned-group]'));
    await choose(ids.bravo, 'menu-unfile');
    await page.waitForFunction(() => !document.querySelector('[data-testid=folder]'));
    assert.deepEqual(await titles(), ['Charlie', 'Bravo', 'Alpha']);
    const now = await listed();
    assert.ok(now.every((c) => !c.pinned && c.folder === null));
    await reload();
    assert.deepEqual(await titles(), ['Charlie', 'Bravo', 'Alpha']);
    assert.equal(await page.getByTestId('pinned-group').count(), 0);
    assert.equal(await page.getByTestId('folder').count(), 0);
    assert.deepEqual(app.pageErrors, []);
  });

  /** The data-id of the row whose open button has focus ('' for none), once focus has settled. */
  async function focusedRow(expected: string): Promise<string> {
    const probe = (want: string) => {
      const el = document.activeElement as HTMLElement | null;
      const id = el?.matches('.open') ? (el.closest<HTMLElement>('[data-testid=conversation-item]')?.dataset.id ?? '') : '';
      return id === want;
    };
    await page.waitForFunction(probe, expected, { timeout: 2000 }).catch(() => undefined);
    return page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return '<body>';
      return el.matches('.open') ? (el.closest<HTMLElement>('[data-testid=conversation-item]')?.dataset.id ?? '') : `<${el.tagName.toLowerCase()} ${el.dataset.testid ?? ''}>`;
    });
  }

  test('Move to folder by keyboard only: focus follows the row into its new folder', async () => {
    const button = item(ids.charlie).getByTestId('conversation-menu');
    await button.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await item(ids.charlie).getByTestId('folder-input').waitFor();
    await page.keyboard.type('New1');
    await page.keyboard.press('Enter');
    await folder('New1').locator(`[data-testid=conversation-item][data-id="${ids.charlie}"]`).waitFor();
    assert.equal(await focusedRow(ids.charlie), ids.charlie, 'focus is on the moved row');
    assert.equal(await folder('New1').getByTestId('folder-toggle').getAttribute('aria-expanded'), 'true');
  });

  test('moving into a collapsed folder opens it and focuses the moved row', async () => {
    await folder('New1').getByTestId('folder-toggle').click();
    assert.equal(await folder('New1').getByTestId('folder-toggle').getAttribute('aria-expanded'), 'false');
    await choose(ids.bravo, 'menu-move');
    await page.keyboard.type('New1');
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => !!document.querySelector(`[data-testid=conversation-item][data-id="${id}"][data-folder="New1"]`), ids.bravo, { timeout: 2000 }).catch(() => undefined);
    assert.equal(await folder('New1').getByTestId('folder-toggle').getAttribute('aria-expanded'), 'true', 'the target folder is open');
    assert.equal(await folder('New1').locator(`[data-testid=conversation-item][data-id="${ids.bravo}"]`).count(), 1, 'the moved row is shown');
    assert.equal(await focusedRow(ids.bravo), ids.bravo, 'focus is on the moved row');
    assert.equal((await listed()).find((c) => c.id === ids.bravo)?.folder, 'New1');
  });

  test('moving a pinned conversation into a folder says it stays under Pinned', async () => {
    await choose(ids.alpha, 'menu-pin');
    await page.locator(`[data-testid=pinned-group] [data-id="${ids.alpha}"]`).waitFor();
    await choose(ids.alpha, 'menu-move');
    await page.keyboard.type('Taxes 2026');
    await page.keyboard.press('Enter');
    const toast = page.getByTestId('toast').filter({ hasText: 'Taxes 2026' });
    await toast.waitFor({ timeout: 2000 });
    assert.equal(await toast.locator('span').first().innerText(), 'Filed in “Taxes 2026”; shown under Pinned while pinned');
    assert.equal(await item(ids.alpha).getAttribute('data-folder'), 'Taxes 2026');
    assert.equal(await page.locator(`[data-testid=pinned-group] [data-id="${ids.alpha}"]`).count(), 1, 'still under Pinned');
    assert.equal(await focusedRow(ids.alpha), ids.alpha, 'focus is on the row');
    assert.equal((await listed()).find((c) => c.id === ids.alpha)?.folder, 'Taxes 2026');
  });

  test('the menu of the last row at the bottom of a small window opens where all of it shows', async () => {
    for (let i = 0; i < 20; i++) await call(server, 'conversations.create', { title: `Filler ${i + 1}` });
    await reload();
    await page.setViewportSize({ width: 420, height: 800 });
    await page.getByTestId('sidebar-toggle').click();
    await page.waitForFunction(() => getComputedStyle(document.getElementById('sidebar')!).transform === 'none');
    const rows = page.locator('[data-testid=loose-group] [data-testid=conversation-item]');
    const last = rows.last();
    await last.scrollIntoViewIfNeeded();
    await page.locator('nav.sidebar .scroll').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    const box = await last.boundingBox();
    assert.ok(box && box.y + box.height > 800 - 80, `the last row is at the bottom of the window (${JSON.stringify(box)})`);
    const button = last.getByTestId('conversation-menu');
    await button.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    const hidden = await page.getByRole('menu').locator('[role=menuitem]').evaluateAll((items) =>
      items
        .filter((el) => {
          const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return r.top < 0 || r.bottom > window.innerHeight || !(hit && el.contains(hit));
        })
        .map((el) => el.textContent),
    );
    assert.deepEqual(hidden, [], 'every menu item is visible');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'menu-pin');
    await page.keyboard.press('Escape');
    assert.equal(await button.evaluate((b) => b === document.activeElement), true);
    assert.deepEqual(app.pageErrors, []);
  });

  test('a second tab follows pins, folders, renames, new chats and deletions without a reload', async () => {
    await page.setViewportSize({ width: 1200, height: 800 });
    await reload();
    const other = await app.context.newPage();
    try {
      await other.goto(server.url);
      await other.locator('[data-testid=conversation-item]').first().waitFor();
      const otherItem = (id: string) => other.locator(`[data-testid=conversation-item][data-id="${id}"]`);
      // Changes made through the API (as another window would) reach this tab by the event.
      await call(server, 'conversations.setPinned', { id: ids.bravo, pinned: true });
      await other.locator(`[data-testid=pinned-group] [data-testid=conversation-item][data-id="${ids.bravo}"]`).waitFor();
      await call(server, 'conversations.setFolder', { id: ids.charlie, folder: 'Shared' });
      await other.locator(`[data-testid=folder][data-folder="Shared"]`).waitFor();
      await call(server, 'conversations.rename', { id: ids.alpha, title: 'Alpha renamed' });
      await other.waitForFunction((id) => document.querySelector(`[data-testid=conversation-item][data-id="${id}"] .title`)?.textContent === 'Alpha renamed', ids.alpha);
      const created = await call<ConversationSummary>(server, 'conversations.create', { title: 'Made elsewhere' });
      await otherItem(created.id).waitFor();
      await call(server, 'conversations.delete', { id: created.id });
      await otherItem(created.id).waitFor({ state: 'detached' });
      // And a change made in this tab shows in the other one.
      await choose(ids.bravo, 'menu-pin'); // unpin
      await other.waitForFunction((id) => !document.querySelector(`[data-testid=pinned-group] [data-id="${id}"]`), ids.bravo);
    } finally {
      await other.close();
    }
    assert.deepEqual(app.pageErrors, []);
  });
});
