/**
 * Copy buttons in an answer (headless Chromium against `omnifusion serve`): every code block has
 * one, which copies the block's text exactly (markup in the code stays text, nothing runs), and a
 * display formula still copies its LaTeX.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { openStore } from '../../main/core/store/index.js';

const PY = 'import numpy as np\nprint(np.linalg.solve([[2, 1], [1, 3]], [1, 2]))  # <script>window.__pwned=1</script>';
const SH = 'echo "$HOME" && ls -la';
const ANSWER = ['Solve it in Python:', '', '```python', PY, '```', '', 'or check the shell:', '', '```', SH, '```', '', '$$x = A^{-1} b$$'].join('\n');

let app: AppSession;
before(async () => {
  app = await openAppSession('code-copy', {
    viewport: { width: 1100, height: 800 },
    clipboard: true,
    prepare: (dataDir) => {
      const store = openStore({ dataDir });
      const c = store.createConversation('Code');
      store.addMessage(c.id, { role: 'user', content: 'how do I solve it?' });
      store.addMessage(c.id, { role: 'assistant', content: ANSWER, status: 'complete' });
      store.close();
    },
  });
  await app.page.goto(app.server.url);
  await app.page.getByTestId('conversation-item').filter({ hasText: 'Code' }).click();
  await app.page.locator('[data-testid=message][data-role=assistant] pre').first().waitFor();
});
after(() => app?.close());

test('every code block has a Copy button that copies its text exactly', async () => {
  const answer = app.page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]');
  const buttons = answer.getByTestId('code-copy');
  assert.equal(await buttons.count(), 2);
  await buttons.nth(0).click();
  assert.equal(await answer.getAttribute('data-last-copied'), PY);
  const clip = await app.page.evaluate(() => navigator.clipboard.readText()).catch(() => undefined);
  if (clip !== undefined) assert.equal(clip, PY);
  await buttons.nth(1).focus();
  await app.page.keyboard.press('Enter');
  await app.page.waitForFunction((sh) => document.querySelector('[data-role=assistant] [data-testid=message-content]')?.getAttribute('data-last-copied') === sh, SH);
  assert.equal(await app.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  await app.page.getByTestId('toast').filter({ hasText: 'Code copied' }).waitFor();
  await app.page.screenshot({ path: path.join(ARTIFACTS, 'code-copy.png') });
  // The display formula still copies its LaTeX.
  await answer.locator('[data-copy-latex]').last().click();
  await app.page.getByTestId('toast').filter({ hasText: 'LaTeX copied' }).waitFor();
  assert.deepEqual(app.pageErrors, []);
});
