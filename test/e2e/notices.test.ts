/**
 * What the app had to do at start is told in the chat window (`app.notices`): a damaged history
 * database set aside shows one line naming where it went, and can be dismissed; the dismissal
 * holds across a reload of the window (sessionStorage) while the same server runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { openStore } from '../../main/core/store/index.js';
import path from 'node:path';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { call } from '../helpers/serve.js';

let app: AppSession;
before(async () => {
  app = await openAppSession('notices', {
    viewport: { width: 1100, height: 700 },
    // Not an SQLite database: opening it fails as damaged.
    prepare: (dataDir) => writeFile(path.join(dataDir, 'history.sqlite3'), Buffer.alloc(8192, 0x5a)),
  });
});
after(() => app?.close());

test('a damaged history database: the window says it was moved aside and where; dismiss hides it', async () => {
  const { page, server, dataDir } = app;
  await page.goto(server.url);
  const notice = page.getByTestId('app-notice');
  await notice.waitFor();
  const moved = (await readdir(dataDir)).find((f) => f.startsWith('history.sqlite3.corrupt-'));
  assert.ok(moved, 'the damaged file was kept aside');
  assert.equal(await notice.getAttribute('data-state'), 'history_recovered');
  const text = (await notice.innerText()).trim();
  assert.match(text, /history database was damaged/);
  assert.ok(text.includes(moved!), `the notice names ${moved}: ${text}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'notice-history-recovered.png') });
  await page.getByTestId('app-notice-dismiss').click();
  assert.equal(await notice.count(), 0);
  assert.deepEqual(app.pageErrors, []);
});

test('a dismissed notice stays dismissed after a reload of the window', async () => {
  const { page, server } = app;
  // The server still reports it: a reload would show it again without the remembered dismissal.
  assert.ok((await call<{ code: string }[]>(server, 'app.notices', {})).some((n) => n.code === 'history_recovered'));
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/call/app.notices'));
  await page.reload();
  await answered;
  await page.getByTestId('composer-input').waitFor();
  await page.waitForTimeout(300);
  assert.equal(await page.getByTestId('app-notice').count(), 0, 'the dismissed notice is not shown again');
  await page.screenshot({ path: path.join(ARTIFACTS, 'notice-dismissed-after-reload.png') });
  // A new window session (sessionStorage cleared, opened from the printed URL) shows it again: it is still true of this run.
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(server.url);
  await page.getByTestId('app-notice').waitFor();
  assert.deepEqual(app.pageErrors, []);
});

test('a partly damaged history: the window says how many conversations and messages were saved, and they are listed', async () => {
  let written = 0;
  const salvage = await openAppSession('notices-salvage', {
    viewport: { width: 1100, height: 700 },
    prepare: (dataDir) => {
      const store = openStore({ dataDir });
      for (let i = 0; i < 60; i++) {
        const c = store.createConversation(`conversation ${i}`);
        for (let j = 0; j < 4; j++, written++) store.addMessage(c.id, { role: j % 2 ? 'assistant' : 'user', content: `c${i} m${j} ${'text '.repeat(150)}` });
      }
      store.close();
      const file = path.join(dataDir, 'history.sqlite3');
      const bytes = readFileSync(file);
      const at = Math.floor(bytes.indexOf('c30 m1 ') / 4096) * 4096;
      bytes.fill(0xa7, at, at + 8192);
      writeFileSync(file, bytes);
      writeFileSync(`${file}.in-use`, '1\n'); // as after a crash: the integrity check runs
    },
  });
  try {
    const { page, server } = salvage;
    await page.goto(server.url);
    const notice = page.getByTestId('app-notice');
    await notice.waitFor();
    const text = (await notice.innerText()).trim();
    const m = /(\d+) conversations and (\d+) messages were saved into a new one \(of about (\d+) messages\)/.exec(text);
    assert.ok(m, text);
    const [conversations, messages, expected] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(expected, written);
    assert.ok(messages > 0 && messages < written, `${messages} of ${written} saved`);
    const listed = await call<{ id: string }[]>(server, 'conversations.list', {});
    assert.equal(listed.length, conversations, 'the window lists what the notice counts');
    await page.screenshot({ path: path.join(ARTIFACTS, 'notice-history-salvaged.png') });
    assert.deepEqual(salvage.pageErrors, []);
  } finally {
    await salvage.close();
  }
});
