/**
 * Keyboard use of the chat window (issue 12, bug 8), in headless Chromium against `omnifusion
 * serve`: from the start of the page the first Tab reaches a visible "Skip to chat" link that takes
 * focus to the composer; without it, Tab reaches the composer in a fixed number of presses that
 * does not grow with the number of conversations (the list is one tab stop: a roving tabindex);
 * in the list ↑/↓, Home/End move between rows and folder headers (→/← open and close a folder,
 * ← on a row in a folder goes to its header), Enter opens a conversation and Tab comes back to it;
 * Shift+F10 and the context-menu key open a row's menu on its first item, Esc gives focus back to
 * the row.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Page } from 'playwright-core';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { call, type Server } from '../helpers/serve.js';
import { openStore } from '../../main/core/store/index.js';

/** Where focus is: the test id, the list item key (data-nav) and whether it is inside the conversation list. */
interface Focus {
  testid: string;
  nav: string;
  inList: boolean;
  tag: string;
}

describe('keyboard: skip link and one tab stop for the conversation list', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  const ids: Record<string, string> = {};

  before(async () => {
    app = await openAppSession('keyboard-list', {
      viewport: { width: 1280, height: 800 },
      // Oldest first: Alpha, Bravo, Charlie loose; Delta and Echo in the folder "Receipts".
      // Shown: Folders › Receipts (Echo, Delta), then Charlie, Bravo, Alpha.
      prepare: (dataDir) => {
        const store = openStore({ dataDir });
        for (const name of ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo']) {
          const c = store.createConversation(name);
          store.addMessage(c.id, { role: 'user', content: `A question about ${name}` });
          store.addMessage(c.id, { role: 'assistant', content: `An answer about ${name}`, status: 'complete', model: 'omnifusion-tiny' });
          if (name === 'Delta' || name === 'Echo') store.setFolder(c.id, 'Receipts');
          ids[name] = String(c.id);
        }
        store.close();
      },
    });
    ({ server, page } = app);
  });

  after(() => app?.close());

  const focus = (): Promise<Focus> =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return {
        testid: el?.dataset.testid ?? '',
        nav: el?.dataset.nav ?? '',
        inList: !!el?.closest('nav.sidebar .scroll'),
        tag: el?.tagName.toLowerCase() ?? '',
      };
    });
  const row = (name: string) => `c:${ids[name]}`;
  const FOLDER = 'f:Receipts';

  async function load(): Promise<void> {
    await page.goto(server.url);
    await page.locator('[data-testid=conversation-item]').first().waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'composer-input');
  }

  /** Put the sequential focus navigation starting point at the start of the page (before every element). */
  async function fromPageStart(): Promise<void> {
    await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.tabIndex = -1;
      document.body.prepend(probe);
      probe.focus();
      probe.remove();
    });
  }

  /** Tab from the start of the page until the composer has focus: where each press landed. */
  async function tabsToComposer(): Promise<Focus[]> {
    await fromPageStart();
    const stops: Focus[] = [];
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      const at = await focus();
      stops.push(at);
      if (at.testid === 'composer-input') return stops;
    }
    assert.fail(`the composer was not reached in 60 presses: ${stops.map((s) => s.testid || s.nav || s.tag).join(', ')}`);
  }

  async function press(key: string, expected: string): Promise<void> {
    await page.keyboard.press(key);
    assert.equal((await focus()).nav, expected, `after ${key}`);
  }

  test('the first Tab reaches a visible "Skip to chat" link; Enter on it focuses the composer', async () => {
    await load();
    await fromPageStart();
    await page.keyboard.press('Tab');
    const link = page.getByTestId('skip-to-chat');
    assert.equal((await focus()).testid, 'skip-to-chat', 'the skip link is first in the tab order');
    assert.equal((await link.innerText()).trim(), 'Skip to chat');
    const box = await link.boundingBox();
    assert.ok(box && box.y >= 0 && box.x >= 0 && box.width > 0 && box.height > 0, `the focused link is on screen: ${JSON.stringify(box)}`);
    const hash = await page.evaluate(() => location.hash);
    await page.keyboard.press('Enter');
    assert.equal((await focus()).testid, 'composer-input');
    assert.equal(await page.evaluate(() => location.hash), hash, 'the address (the open conversation) does not change');
    // Out of sight again once it has lost focus.
    const after = await link.boundingBox();
    assert.ok(after && after.y + after.height <= 0, `the link is hidden without focus: ${JSON.stringify(after)}`);
  });

  test('Tab reaches the composer in the same few presses with 5 or 25 conversations: the list is one stop', async () => {
    const five = await tabsToComposer();
    assert.deepEqual(
      five.filter((s) => s.inList).map((s) => s.nav),
      [FOLDER],
      'one stop in the list: its first item (no conversation is open)',
    );
    assert.ok(five.length <= 16, `${five.length} presses: ${five.map((s) => s.testid || s.nav || s.tag).join(', ')}`);
    for (let i = 0; i < 20; i++) await call(server, 'conversations.create', { title: `Filler ${i + 1}` });
    await load();
    assert.equal(await page.getByTestId('conversation-item').count(), 25);
    const twentyFive = await tabsToComposer();
    assert.equal(twentyFive.length, five.length, `25 conversations: ${twentyFive.map((s) => s.testid || s.nav || s.tag).join(', ')}`);
    const listed = await call<{ id: string; title: string }[]>(server, 'conversations.list', {});
    for (const filler of listed.filter((c) => c.title.startsWith('Filler'))) await call(server, 'conversations.delete', { id: filler.id });
    await load();
  });

  test('arrows, Home and End move between rows and the folder header; → and ← open and close the folder', async () => {
    await fromPageStart();
    for (let i = 0; i < 10 && !(await focus()).inList; i++) await page.keyboard.press('Tab');
    assert.equal((await focus()).nav, FOLDER);
    await press('ArrowDown', row('Echo'));
    await press('ArrowDown', row('Delta'));
    await press('ArrowDown', row('Charlie'));
    await press('ArrowUp', row('Delta'));
    await press('ArrowLeft', FOLDER);
    await press('End', row('Alpha'));
    await press('Home', FOLDER);
    await press('ArrowLeft', FOLDER);
    const toggle = page.getByTestId('folder-toggle');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false', '← closed the folder');
    await press('ArrowDown', row('Charlie'));
    await press('ArrowUp', FOLDER);
    await press('ArrowRight', FOLDER);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true', '→ opened it');
    await press('ArrowRight', row('Echo'));
    // Only the focused item is a tab stop; the rows' own buttons are not.
    const tabbable = await page.locator('nav.sidebar .scroll [tabindex="0"], nav.sidebar .scroll button:not([tabindex])').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.nav ?? e.outerHTML.slice(0, 60)));
    assert.deepEqual(tabbable, [row('Echo')]);
  });

  test('Enter opens the conversation; Tab from the page start comes back to its row', async () => {
    await page.keyboard.press('ArrowDown'); // Delta
    await press('ArrowDown', row('Charlie'));
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => location.hash === `#/c/${id}`, ids.Charlie!);
    await page.locator('[data-testid=message][data-role=assistant]').filter({ hasText: 'An answer about Charlie' }).waitFor();
    assert.equal((await focus()).testid, 'composer-input', 'the composer has focus after opening');
    const stops = await tabsToComposer();
    assert.deepEqual(stops.filter((s) => s.inList).map((s) => s.nav), [row('Charlie')], 'the list\'s one stop is the open conversation');
    // A reload: the open conversation's row is the stop.
    await page.reload();
    await page.locator('[data-testid=message][data-role=assistant]').filter({ hasText: 'An answer about Charlie' }).waitFor();
    const again = await tabsToComposer();
    assert.deepEqual(again.filter((s) => s.inList).map((s) => s.nav), [row('Charlie')]);
  });

  test('Shift+F10 and the context-menu key open the row\'s menu on its first item; Esc gives focus back to the row', async () => {
    await fromPageStart();
    for (let i = 0; i < 10 && !(await focus()).inList; i++) await page.keyboard.press('Tab');
    await press('ArrowDown', row('Bravo'));
    for (const key of ['Shift+F10', 'ContextMenu']) {
      await page.keyboard.press(key);
      await page.getByRole('menu').waitFor({ timeout: 2000 });
      assert.equal((await focus()).testid, 'menu-pin', `${key}: the menu opens on its first item`);
      assert.equal(await page.locator(`[data-testid=conversation-item][data-id="${ids.Bravo}"] [role=menu]`).count(), 1, 'the menu of that row');
      await page.keyboard.press('ArrowDown');
      assert.equal((await focus()).testid, 'menu-move');
      await page.keyboard.press('Escape');
      assert.equal(await page.getByRole('menu').count(), 0);
      assert.equal((await focus()).nav, row('Bravo'), `${key}: Esc gives focus back to the row`);
    }
    // And a choice made there: pin by keyboard, focus follows the row to the Pinned group.
    await page.keyboard.press('Shift+F10');
    await page.getByRole('menu').waitFor();
    await page.keyboard.press('Enter');
    await page.locator(`[data-testid=pinned-group] [data-id="${ids.Bravo}"]`).waitFor();
    await page.waitForFunction((nav) => (document.activeElement as HTMLElement | null)?.dataset.nav === nav, row('Bravo'));
    await press('ArrowDown', FOLDER);
    assert.deepEqual(app.pageErrors, []);
  });
});
