/**
 * Export of a conversation in the real chat window (headless Chromium against `omnifusion
 * serve`): a stored conversation with an image and an answer holding inline and display math
 * (and hostile markup) is exported through the header's Export… menu as Markdown and as HTML.
 * The Markdown comes as a .zip (the .md and the image it links to); the .md keeps the LaTeX source
 * in dollar delimiters; the .html is one self-contained file
 * (KaTeX output, fonts and image as data: URIs, no script) that opens from file:// with the
 * math rendered. Screenshots: test-results/e2e/export-menu.png (the open menu) and
 * export-html.png (the exported file).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Download, Page } from 'playwright-core';
import { strFromU8, unzipSync } from 'fflate';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { openStore } from '../../main/core/store/index.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';

const TITLE = 'Roots of a/x² + bx: export?';
const SAFE_STEM = 'Roots of a x² + bx export';
const ANSWER = [
  'The roots are \\(x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}\\), and the area is',
  '',
  '$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$',
  '',
  'It costs $5 or $50. <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
].join('\n');

describe('export of a conversation to Markdown and HTML', () => {
  let app: AppSession;
  let page: Page;
  let sha = '';

  before(async () => {
    app = await openAppSession('export', {
      viewport: { width: 1280, height: 800 },
      prepare: async (dataDir) => {
        const bytes = await readFile(path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg'));
        const store = openStore({ dataDir });
        const c = store.createConversation(TITLE);
        sha = store.putAttachment(new Uint8Array(bytes), { mime: 'image/jpeg' });
        store.addMessage(c.id, { role: 'user', content: 'Solve x² and read the receipt', attachments: [sha] });
        store.addMessage(c.id, { role: 'assistant', content: ANSWER, status: 'complete', model: 'omnifusion-tiny' });
        store.close();
      },
    });
    page = app.page;
    await page.goto(app.server.url);
    await page.getByTestId('conversation-item').filter({ hasText: 'Roots of' }).click();
    await page.locator('[data-testid=message][data-role=assistant] .katex').first().waitFor();
  });

  after(() => app?.close());

  async function exportAs(format: 'markdown' | 'html'): Promise<{ download: Download; bytes: Buffer; text: string }> {
    await page.getByTestId('export-button').click();
    await page.getByTestId('export-menu').waitFor();
    if (format === 'markdown') {
      await page.screenshot({ path: path.join(ARTIFACTS, 'export-menu.png') });
      assert.equal((await page.getByTestId('export-markdown').innerText()).trim(), 'Markdown with images (.zip)', 'the menu says the images come along');
    }
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${format}`).click()]);
    const bytes = await readFile(await download.path());
    return { download, bytes, text: bytes.toString('utf8') };
  }

  test('Markdown with images is a .zip: the .md keeps the LaTeX source and sections, and links the image saved beside it', async () => {
    const { download, bytes } = await exportAs('markdown');
    assert.equal(download.suggestedFilename(), `${SAFE_STEM}.zip`);
    const files = unzipSync(new Uint8Array(bytes));
    const image = `image-${sha.slice(0, 12)}.jpg`;
    assert.deepEqual(files[`${SAFE_STEM}/images/${image}`], new Uint8Array(await readFile(path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg'))), 'the image as attached');
    const text = strFromU8(files[`${SAFE_STEM}/${SAFE_STEM}.md`]!);
    assert.ok(text.startsWith(`# ${TITLE}\n`), text.slice(0, 80));
    assert.match(text, /Exported from OmniFusion on \d{4}-\d\d-\d\d \d\d:\d\d/);
    assert.ok(text.indexOf('**You**') < text.indexOf('**Assistant**'));
    assert.ok(text.includes('$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$'), 'inline math as $…$');
    assert.ok(text.includes('$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$'), 'display math as $$…$$');
    assert.ok(text.includes('It costs $5 or $50.'));
    assert.ok(text.includes(`![${image}](images/${image})`), 'the image, linked to its saved copy');
    assert.match(text, /_omnifusion-tiny_/, 'the model line under the answer');
  });

  test('HTML is one self-contained, script-free page that renders the math offline', async () => {
    const { download, text: html } = await exportAs('html');
    assert.equal(download.suggestedFilename(), `${SAFE_STEM}.html`);
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /class="katex"/);
    assert.match(html, /class="katex-display"/);
    assert.match(html, /url\(data:font\/woff2;base64,/);
    assert.doesNotMatch(html, /\.ttf|format\("woff"\)/);
    assert.match(html, /<img src="data:image\/jpeg;base64,[A-Za-z0-9+/=]{1000,}"/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /onerror/i);
    assert.match(html, /<p class="meta">omnifusion-tiny<\/p>/, 'the model line under the answer');
    assert.ok(html.length < 1_500_000, `${html.length} bytes`);

    // Open the saved file from disk in a fresh page: no network, no script.
    const saved = path.join(ARTIFACTS, 'export.html');
    await writeFile(saved, html);
    const viewer = await app.context.newPage();
    const errors: string[] = [];
    viewer.on('pageerror', (e) => errors.push(e.message));
    const requests: string[] = [];
    viewer.on('request', (r) => requests.push(r.url()));
    await viewer.goto(pathToFileURL(saved).href);
    await viewer.locator('.katex').first().waitFor({ state: 'visible' });
    assert.ok(await viewer.locator('.katex-display').first().isVisible());
    const fonts = await viewer.evaluate(async () => {
      await document.fonts.ready;
      return [...document.fonts].filter((f) => f.family.replace(/"/g, '').startsWith('KaTeX') && f.status === 'loaded').length;
    });
    assert.ok(fonts > 0, 'KaTeX fonts loaded from data: URIs');
    const image = await viewer.locator('.message.user img').evaluate((img: HTMLImageElement) => img.naturalWidth);
    assert.ok(image > 0, 'the image shows');
    assert.equal(await viewer.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await viewer.locator('script').count(), 0);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), [], 'nothing fetched');
    assert.deepEqual(errors, []);
    await viewer.screenshot({ path: path.join(ARTIFACTS, 'export-html.png'), fullPage: true });
    await viewer.close();
    assert.deepEqual(app.pageErrors, []);
  });
});
