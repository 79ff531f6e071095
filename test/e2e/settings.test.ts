/**
 * The settings dialog and the quick-ask window in headless Chromium (Debian's, through
 * playwright-core) against `omnifusion serve` with the tiny model: the screenshot hotkey shows as
 * 'unavailable' (no desktop shell) with its message and the command to bind; a shortcut recorded by
 * pressing keys is saved and survives a reload; a system shortcut is refused with the server's
 * one-line error next to the field, the old hotkey stays and the other changes are still saved;
 * capture mode and "opens in" persist. The quick-ask route (#quick-ask/<sha>/ocr) opens with the
 * image attached, and Enter on the empty box asks "Convert to LaTeX" about it in a new
 * conversation whose answer streams. Screenshots go to test-results/e2e/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import type { AttachmentInfo, Conversation, ConversationSummary, Settings } from '../../main/api/contract.js';
import { CAPTURE_COMMAND, CAPTURE_DEFAULT_QUESTION, defaultHotkey } from '../../main/api/capture.js';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { call, type Server } from '../helpers/serve.js';

describe('settings dialog and quick-ask window in Chromium against omnifusion serve', () => {
  let app: AppSession;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  const DEFAULT = defaultHotkey(process.platform);

  before(async () => {
    app = await openAppSession('settings', { viewport: { width: 1100, height: 800 }, settings: { maxNewTokens: 24, greedy: true } });
    ({ server, browser, page, pageErrors } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const dialog = () => byTestId('settings-dialog');
  const settingsGet = () => call<Settings>(server, 'settings.get', {});

  async function openSettings(): Promise<void> {
    await byTestId('settings-button').click();
    await dialog().waitFor();
    // Filled from settings.get: the fields are enabled once it answered.
    await page.waitForFunction(() => !document.querySelector<HTMLInputElement>('[data-testid=hotkey-input]')?.disabled);
  }

  async function closedDialog(): Promise<void> {
    await dialog().waitFor({ state: 'detached', timeout: 10_000 });
  }

  test('the dialog opens as a modal and shows the hotkey as unavailable, with its message and the command', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    // 'unavailable' is no problem the chat window nags about.
    assert.equal(await byTestId('hotkey-notice').count(), 0);

    await openSettings();
    assert.equal(await dialog().evaluate((d) => d.matches(':modal')), true, 'a modal <dialog>');
    assert.equal(await byTestId('hotkey-input').inputValue(), DEFAULT);
    const status = byTestId('hotkey-status');
    await status.waitFor();
    assert.equal(await status.getAttribute('data-state'), 'unavailable');
    assert.match(await byTestId('hotkey-state').innerText(), /unavailable/i);
    const message = await byTestId('hotkey-message').innerText();
    assert.match(message, /desktop app/i);
    assert.equal(await byTestId('hotkey-command').innerText(), CAPTURE_COMMAND);
    await byTestId('copy-command').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'settings-unavailable.png') });

    // Esc closes the dialog; focus goes back to the gear.
    await page.keyboard.press('Escape');
    await closedDialog();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'settings-button');
  });

  test('a shortcut recorded by pressing keys is saved and survives a reload', async () => {
    await openSettings();
    await byTestId('hotkey-record').click();
    // A lone modifier is not a shortcut: the recorder waits for the key.
    await page.keyboard.down('Control');
    await page.keyboard.down('Shift');
    assert.match(await byTestId('hotkey-record-hint').innerText(), /Ctrl \+ Shift \+ …/);
    await page.keyboard.press('Y');
    await page.keyboard.up('Shift');
    await page.keyboard.up('Control');
    assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y');
    assert.equal(await byTestId('hotkey-record').getAttribute('aria-pressed'), 'false', 'recording ends with the shortcut');

    // Esc while recording stops the recording, not the dialog.
    await byTestId('hotkey-record').click();
    await page.keyboard.press('Escape');
    assert.equal(await dialog().isVisible(), true);
    assert.equal(await byTestId('hotkey-record').getAttribute('aria-pressed'), 'false');
    assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y');

    await byTestId('settings-save').click();
    await closedDialog();
    assert.equal((await settingsGet()).captureHotkey, 'Control+Shift+Y');

    await page.reload();
    await byTestId('settings-button').waitFor();
    await openSettings();
    assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y');
    assert.equal(await byTestId('hotkey-status').locator('.keys').getAttribute('aria-label'), 'Control+Shift+Y');
    await byTestId('settings-cancel').click();
    await closedDialog();
  });

  test('a system shortcut is refused with a one-line error next to the field; the old hotkey and the other changes stay', async () => {
    const system = process.platform === 'darwin' ? 'Command+Shift+4' : 'Super+Shift+S';
    await openSettings();
    await byTestId('settings-max-tokens').fill('48');
    await byTestId('settings-theme').selectOption('dark');
    await byTestId('hotkey-input').fill(system);
    await byTestId('settings-save').click();

    const error = byTestId('hotkey-error');
    await error.waitFor({ timeout: 10_000 });
    const text = await error.innerText();
    assert.match(text, /system shortcut/i);
    assert.ok(!text.includes('\n'), `one line: ${JSON.stringify(text)}`);
    assert.equal(await byTestId('hotkey-input').getAttribute('aria-invalid'), 'true');
    assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y', 'the field is back to the hotkey in effect');
    assert.equal(await dialog().isVisible(), true, 'the dialog stays open');
    assert.equal(await byTestId('settings-max-tokens').inputValue(), '48');
    await page.screenshot({ path: path.join(ARTIFACTS, 'settings-refused-hotkey.png') });

    const saved = await settingsGet();
    assert.equal(saved.captureHotkey, 'Control+Shift+Y');
    assert.equal(saved.maxNewTokens, 48, 'the other change is saved');
    assert.equal(saved.theme, 'dark');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');

    if (process.platform !== 'darwin') {
      // Shift+PrintScreen, recorded by pressing it, is refused the same way on Windows/Linux.
      await byTestId('hotkey-record').click();
      await page.keyboard.press('Shift+PrintScreen');
      assert.equal(await byTestId('hotkey-input').inputValue(), 'Shift+PrintScreen');
      await byTestId('settings-save').click();
      await page.waitForFunction(() => /Shift\+PrintScreen is a system shortcut/i.test(document.querySelector('[data-testid=hotkey-error]')?.textContent ?? ''));
      assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y');
      // PrintScreen alone: the recorder asks for a modifier; typed, the server refuses it.
      await byTestId('hotkey-record').click();
      await page.keyboard.press('PrintScreen');
      assert.match(await byTestId('hotkey-record-hint').innerText(), /modifier/);
      await page.keyboard.press('Escape');
      assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y');
      await byTestId('hotkey-input').fill('PrintScreen');
      await byTestId('settings-save').click();
      await page.waitForFunction(() => /PrintScreen/.test(document.querySelector('[data-testid=hotkey-error]')?.textContent ?? '') && !/Shift/.test(document.querySelector('[data-testid=hotkey-error]')?.textContent ?? ''));
      assert.equal(await byTestId('hotkey-input').inputValue(), 'Control+Shift+Y');
    }
    // Not a shortcut at all (no key): refused too.
    await byTestId('hotkey-input').fill('Control+Shift');
    await byTestId('settings-save').click();
    await page.waitForFunction(() => /not a shortcut/i.test(document.querySelector('[data-testid=hotkey-error]')?.textContent ?? ''));
    assert.equal((await settingsGet()).captureHotkey, 'Control+Shift+Y');

    await byTestId('settings-cancel').click();
    await closedDialog();
  });

  test('capture mode and where captures open persist', async () => {
    await openSettings();
    assert.equal(await byTestId('capture-mode-ask').isChecked(), true);
    assert.equal(await byTestId('capture-opens-quick-ask').isChecked(), true);
    await byTestId('capture-mode-ocr').check();
    await byTestId('capture-opens-main').check();
    await byTestId('settings-save').click();
    await closedDialog();
    const saved = await settingsGet();
    assert.equal(saved.captureMode, 'ocr');
    assert.equal(saved.captureOpens, 'main');

    await page.reload();
    await byTestId('settings-button').waitFor();
    await openSettings();
    assert.equal(await byTestId('capture-mode-ocr').isChecked(), true);
    assert.equal(await byTestId('capture-opens-main').isChecked(), true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'settings-dark.png') });
    await page.keyboard.press('Escape');
    await closedDialog();
  });

  test('the device setting moves the model; without a usable GPU it runs on the CPU and says why', async () => {
    await openSettings();
    assert.equal(await byTestId('setting-device').inputValue(), 'auto');
    await byTestId('setting-device').selectOption('webgpu');
    await byTestId('settings-save').click();
    await closedDialog();
    assert.equal((await settingsGet()).device, 'webgpu');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await openSettings();
    const inUse = await byTestId('device-in-use').innerText();
    // This machine has no GPU: the engine falls back to the CPU with a note; with one it runs on WebGPU.
    assert.match(inUse, /^In use: (webgpu|cpu \(webgpu unavailable: .*; using cpu\))$/);
    await byTestId('setting-device').selectOption('cpu');
    await byTestId('settings-save').click();
    await closedDialog();
    assert.equal((await settingsGet()).device, 'cpu');
  });

  test('quick-ask window: the crop is attached, Enter on the empty box asks "Convert to LaTeX" and the answer streams', async () => {
    await call(server, 'settings.set', { maxNewTokens: 400 });
    const bytes = new Uint8Array(await readFile(path.join(REAL_DATA_DIR, 'handwritten-math/pix2text_hw-formula1.png')));
    const image = await call<AttachmentInfo>(server, 'attachments.add', { name: 'capture.png', bytes });
    const before = await call<ConversationSummary[]>(server, 'conversations.list', {});

    // A window of its own at the quick-ask window's size (Electron opens it about 520×420).
    const context = await browser.newContext({ viewport: { width: 520, height: 420 } });
    const quick = await context.newPage();
    quick.on('pageerror', (e) => pageErrors.push(e.message));
    await quick.goto(`${server.origin}/?token=${server.token}#quick-ask/${image.sha256}/ocr`);
    await quick.getByTestId('quick-ask').waitFor();
    await quick.locator('[data-testid=attachment-thumb][data-status=ready]').waitFor({ timeout: 30_000 });
    await quick.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'composer-input');
    assert.equal(await quick.getByTestId('composer-input').inputValue(), '');
    await quick.screenshot({ path: path.join(ARTIFACTS, 'quick-ask-attached.png') });

    await quick.getByTestId('composer-input').press('Enter');
    const assistant = quick.locator('[data-testid=message][data-role=assistant]').last();
    await assistant.waitFor({ timeout: 30_000 });
    const lengths = new Set<number>();
    for (let i = 0; i < 400 && lengths.size < 3; i++) {
      lengths.add((await assistant.locator('[data-testid=message-content]').innerText()).length);
      await quick.waitForTimeout(25);
    }
    assert.ok([...lengths].filter((n) => n > 0).length >= 2, `seen lengths ${[...lengths].join(', ')}`);
    await quick.locator('[data-testid=message][data-role=assistant][data-status=complete]:not([data-streaming])').waitFor({ timeout: 120_000 });
    await quick.screenshot({ path: path.join(ARTIFACTS, 'quick-ask-answered.png') });

    const user = quick.locator('[data-testid=message][data-role=user]');
    assert.equal(await user.count(), 1);
    assert.match(await user.innerText(), new RegExp(CAPTURE_DEFAULT_QUESTION.ocr));
    assert.equal(await user.locator('img').count(), 1);

    // A new conversation, titled from the question, holding the image and the answer.
    const list = await call<ConversationSummary[]>(server, 'conversations.list', {});
    const created = list.filter((c) => !before.some((b) => b.id === c.id));
    assert.equal(created.length, 1);
    assert.equal(created[0]!.title, CAPTURE_DEFAULT_QUESTION.ocr);
    const conversation = await call<Conversation>(server, 'conversations.get', { id: created[0]!.id });
    assert.equal(conversation.messages[0]!.content, CAPTURE_DEFAULT_QUESTION.ocr);
    assert.deepEqual(conversation.messages[0]!.attachments.map((a) => a.sha256), [image.sha256]);
    assert.equal(conversation.messages[1]!.role, 'assistant');
    assert.ok(conversation.messages[1]!.content.length > 0);

    // Esc on the empty box closes the window (window.close is watched: a test page cannot be closed by script).
    await quick.evaluate(() => {
      window.close = () => void ((window as unknown as { __closed?: boolean }).__closed = true);
    });
    await quick.getByTestId('composer-input').fill('draft');
    await quick.getByTestId('composer-input').press('Escape');
    assert.equal(await quick.evaluate(() => (window as unknown as { __closed?: boolean }).__closed ?? false), false, 'Esc keeps a typed question');
    await quick.getByTestId('composer-input').fill('');
    await quick.getByTestId('composer-input').press('Escape');
    assert.equal(await quick.evaluate(() => (window as unknown as { __closed?: boolean }).__closed ?? false), true);
    await context.close();
  });

  test('the hotkey notice shows for an unconfirmed or failed hotkey, and a dismissal lasts for that problem only', async () => {
    // `omnifusion serve` has no desktop shell ('unavailable'): stand in for the desktop's answers.
    let state: 'unconfirmed' | 'failed' | 'confirmed' = 'unconfirmed';
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    await context.route('**/api/call/capture.status', (route) =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          ok: true,
          value: {
            accelerator: 'Control+Shift+Y',
            state,
            message: state === 'confirmed' ? undefined : 'This desktop (Wayland) may not deliver the hotkey until it is pressed once.',
            command: CAPTURE_COMMAND,
          },
        }),
      }),
    );
    const win = await context.newPage();
    win.on('pageerror', (e) => pageErrors.push(e.message));
    await win.goto(server.url);
    const notice = win.getByTestId('hotkey-notice');
    await notice.waitFor();
    assert.equal(await notice.getAttribute('role'), 'status');
    assert.equal(await notice.getAttribute('data-state'), 'unconfirmed');
    assert.match(await notice.innerText(), /Control\+Shift\+Y/);
    assert.match(await notice.innerText(), new RegExp(CAPTURE_COMMAND));
    await win.screenshot({ path: path.join(ARTIFACTS, 'hotkey-notice.png') });

    await win.getByTestId('hotkey-notice-dismiss').click();
    await notice.waitFor({ state: 'detached' });
    await win.reload();
    await win.getByTestId('settings-button').waitFor();
    await win.waitForTimeout(500);
    assert.equal(await notice.count(), 0, 'the dismissal is remembered');

    // A new problem with the same hotkey brings it back.
    state = 'failed';
    await win.reload();
    await notice.waitFor();
    assert.equal(await notice.getAttribute('data-state'), 'failed');

    // The settings dialog shows the same status, with the message and the command.
    await win.getByTestId('hotkey-notice-settings').click();
    await win.getByTestId('settings-dialog').waitFor();
    assert.equal(await win.getByTestId('hotkey-status').getAttribute('data-state'), 'failed');
    assert.match(await win.getByTestId('hotkey-message').innerText(), /Wayland/);
    await win.keyboard.press('Escape');

    state = 'confirmed';
    await win.reload();
    await win.getByTestId('settings-button').waitFor();
    await win.waitForTimeout(500);
    assert.equal(await notice.count(), 0, 'no notice for a working hotkey');
    await context.close();
  });

  test('no errors in the pages', () => {
    assert.deepEqual(pageErrors, []);
  });
});
