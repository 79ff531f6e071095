/**
 * Answer options in headless Chromium against `omnifusion serve` with the tiny OmniFusion: the
 * settings dialog's Answers section shows the loaded model's defaults (its system text as the
 * placeholder, greedy, 1024 tokens: the chat defaults) and disables temperature and top-p while greedy; a
 * conversation's settings dialog, opened from its menu with the keyboard, sets a system prompt,
 * greedy off and a temperature (a temperature out of range is refused next to its field, nothing
 * saved); the stored options come back from the serve API, the next answer's prompt is exactly
 * the custom system text's tokens longer or shorter (the engine got it), and a second
 * conversation still uses the Settings default (the model's own system text). Esc closes the
 * dialog and gives focus back to the menu button. Screenshots go to test-results/e2e/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Conversation, Settings } from '../../main/api/contract.js';
import { openStore } from '../../main/core/store/index.js';
import { loadManifest } from '../../main/engine/package/manifest.js';
import { TextTokenizer } from '../../main/engine/tokenizer.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { call, type Server } from '../helpers/serve.js';

const PIRATE = 'You are a pirate. Answer every question in rhyme.\n';
const QUESTION = 'Where is the treasure?';

describe('answer options: Settings defaults and a conversation of its own, in Chromium against omnifusion serve', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  let pageErrors: string[];
  const ids: Record<'pirate' | 'plain', string> = { pirate: '', plain: '' };

  before(async () => {
    app = await openAppSession('answer-options', {
      viewport: { width: 1200, height: 900 },
      settings: { maxNewTokens: 3, greedy: true },
      prepare: (dataDir) => {
        const store = openStore({ dataDir });
        ids.plain = String(store.createConversation('Plain chat').id);
        ids.pirate = String(store.createConversation('Pirate chat').id);
        store.close();
      },
    });
    ({ server, page, pageErrors } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const item = (id: string) => page.locator(`[data-testid=conversation-item][data-id="${id}"]`);
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);

  test("the settings dialog's Answers show the model's defaults; temperature and top-p are off while greedy", async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await byTestId('settings-button').click();
    await byTestId('settings-dialog').waitFor();
    await page.waitForFunction(() => !document.querySelector<HTMLTextAreaElement>('[data-testid=settings-system]')?.disabled);
    assert.equal(await byTestId('settings-system').getAttribute('placeholder'), 'This is a dialog with AI assistant.', "the manifest's prompt.system");
    assert.equal(await byTestId('settings-system').inputValue(), '');
    assert.match(await byTestId('settings-greedy-note').innerText(), /Model default: greedy/);
    assert.match(await byTestId('settings-max-tokens-note').innerText(), /Model default: 1024/);
    assert.match(await byTestId('settings-temperature-note').innerText(), /Model default: 1/);
    assert.equal(await byTestId('settings-max-tokens').inputValue(), '3');
    assert.equal(await byTestId('settings-greedy').isChecked(), true);
    assert.equal(await byTestId('settings-temperature').isDisabled(), true, 'unused while greedy');
    assert.equal(await byTestId('settings-top-p').isDisabled(), true);
    // Labels name the fields for assistive technology.
    assert.equal(await page.getByLabel('System prompt').first().getAttribute('data-testid'), 'settings-system');
    await byTestId('settings-greedy').uncheck();
    assert.equal(await byTestId('settings-temperature').isDisabled(), false);
    await page.screenshot({ path: path.join(ARTIFACTS, 'settings-answers.png') });
    await byTestId('settings-cancel').click();
    await byTestId('settings-dialog').waitFor({ state: 'detached' });
    const saved = await call<Settings>(server, 'settings.get', {});
    assert.deepEqual([saved.greedy, saved.systemPrompt, saved.temperature], [true, null, null], 'Cancel saved nothing');
  });

  test("a conversation's settings, from its menu by keyboard: a bad temperature is refused next to the field; then saved", async () => {
    const menu = item(ids.pirate).getByTestId('conversation-menu');
    await menu.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    for (let i = 0; i < 4 && (await focused()) !== 'menu-settings'; i++) await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), 'menu-settings');
    await page.keyboard.press('Enter');
    const dialog = byTestId('conversation-settings');
    await dialog.waitFor();
    assert.equal(await dialog.evaluate((d) => d.matches(':modal')), true);
    assert.match(await dialog.innerText(), /Pirate chat/);
    // Everything inherits at first, and says from what.
    assert.equal(await byTestId('conv-system').inputValue(), '');
    assert.equal(await byTestId('conv-system').getAttribute('placeholder'), 'This is a dialog with AI assistant.');
    assert.equal(await byTestId('conv-greedy').inputValue(), 'inherit');
    assert.match(await byTestId('conv-max-tokens-note').innerText(), /inherit from Settings \(3\)\. Model default: 1024/);
    assert.equal(await byTestId('conv-temperature').isDisabled(), true, 'greedy, as inherited from Settings');

    await byTestId('conv-system').fill(PIRATE);
    await byTestId('conv-greedy').selectOption('off');
    assert.equal(await byTestId('conv-temperature').isDisabled(), false);
    await byTestId('conv-temperature').fill('5');
    await byTestId('conv-save').click();
    const error = page.locator('[data-testid=setting-error][data-field=temperature]');
    await error.waitFor();
    assert.equal(await error.innerText(), 'temperature must be a number above 0 and at most 2 (greedy for the same answer every time), or null to inherit from Settings');
    assert.equal(await byTestId('conv-temperature').getAttribute('aria-invalid'), 'true');
    assert.match((await byTestId('conv-temperature').getAttribute('aria-describedby')) ?? '', /conv-temperature-error/);
    assert.equal(await dialog.isVisible(), true, 'the dialog stays open');
    const unchanged = await call<Conversation>(server, 'conversations.get', { id: ids.pirate });
    assert.deepEqual(unchanged.options, { systemPrompt: null, temperature: null, top_p: null, max_new_tokens: null, greedy: null }, 'a refused save changes nothing');
    await page.screenshot({ path: path.join(ARTIFACTS, 'conversation-settings-refused.png') });

    await byTestId('conv-temperature').fill('1.3');
    await byTestId('conv-save').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await focused(), 'conversation-menu', 'focus is back on the menu button');
    const stored = await call<Conversation>(server, 'conversations.get', { id: ids.pirate });
    assert.deepEqual(stored.options, { systemPrompt: PIRATE, temperature: 1.3, top_p: null, max_new_tokens: null, greedy: false });
    const other = await call<Conversation>(server, 'conversations.get', { id: ids.plain });
    assert.deepEqual(other.options, { systemPrompt: null, temperature: null, top_p: null, max_new_tokens: null, greedy: null });
  });

  test("the next answer's prompt holds the conversation's system text; the other conversation keeps the model's", async () => {
    const manifest = await loadManifest(TINY_MODEL_DIR);
    assert.equal(manifest.family, 'omnifusion');
    const tokenizer = await TextTokenizer.load(TINY_MODEL_DIR, manifest);
    const tokens = (t: string) => tokenizer.encode(t).length;
    // OmniFusion's text-only prompt: text(system) USER text(q) BOT (special pieces are one row each).
    const expected = (system: string) => tokens(system) + 1 + tokens(QUESTION) + 1;
    assert.notEqual(expected(PIRATE), expected(manifest.family === 'omnifusion' ? manifest.prompt.system : ''));

    const promptTokensOf = async (id: string): Promise<number | undefined> => {
      await item(id).locator('.open').click();
      await byTestId('composer-input').fill(QUESTION);
      await byTestId('composer-input').press('Enter');
      await page.locator('[data-testid=message][data-role=assistant][data-status=complete]:not([data-streaming])').waitFor({ timeout: 120_000 });
      const c = await call<Conversation>(server, 'conversations.get', { id });
      const answer = c.messages.findLast((m) => m.role === 'assistant')!;
      assert.equal(answer.status, 'complete', answer.error);
      return answer.timings?.promptTokens;
    };
    assert.equal(await promptTokensOf(ids.pirate), expected(PIRATE), 'the pirate text replaced the manifest’s');
    assert.equal(await promptTokensOf(ids.plain), expected(manifest.family === 'omnifusion' ? manifest.prompt.system : ''), "the Settings default: the model's own system text");
  });

  test('reopened, the dialog shows what is stored; Reset empties a field (inherit); Esc closes it', async () => {
    await item(ids.pirate).getByTestId('conversation-menu').click();
    await byTestId('menu-settings').click();
    await byTestId('conversation-settings').waitFor();
    assert.equal(await byTestId('conv-system').inputValue(), PIRATE);
    assert.equal(await byTestId('conv-greedy').inputValue(), 'off');
    assert.equal(await byTestId('conv-temperature').inputValue(), '1.3');
    await byTestId('conv-temperature-reset').click();
    assert.equal(await byTestId('conv-temperature').inputValue(), '');
    await byTestId('conv-save').click();
    await byTestId('conversation-settings').waitFor({ state: 'detached' });
    assert.equal((await call<Conversation>(server, 'conversations.get', { id: ids.pirate })).options.temperature, null);

    await item(ids.pirate).getByTestId('conversation-menu').click();
    await byTestId('menu-settings').click();
    await byTestId('conversation-settings').waitFor();
    await page.keyboard.press('Escape');
    await byTestId('conversation-settings').waitFor({ state: 'detached' });
    assert.equal(await focused(), 'conversation-menu');
  });

  test('no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
