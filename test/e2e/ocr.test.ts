/**
 * The OCR panel in headless Chromium against `omnifusion serve` with the tiny model: a printed
 * and a handwritten formula image from the real test data are uploaded and recognised; the
 * preview renders the LaTeX or falls back to its source; edited LaTeX renders live; each copy
 * format produces the expected string; "send to chat" puts $$…$$ into the composer. The API
 * refuses a blank image with bad_image.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { type Page } from 'playwright-core';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { REAL_DATA_DIR } from '../fixtures/reference-cases.js';
import { call, type Server } from '../helpers/serve.js';


const IMAGES = [
  { kind: 'printed', file: 'printed-math/pix2text_formula5.jpg' },
  { kind: 'handwritten', file: 'handwritten-math/crohme2014_RIT_2014_251.png' },
];

describe('OCR panel in Chromium against omnifusion serve', () => {
  let app: AppSession;
  let server: Server;
  let page: Page;
  let pageErrors: string[];

  before(async () => {
    app = await openAppSession('ocr', { viewport: { width: 1280, height: 900 }, clipboard: true, settings: { maxNewTokens: 32, greedy: true } });
    ({ server, page, pageErrors } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);

  test('the API refuses an image that cannot hold a formula (bad_image)', async () => {
    const blank = await sharp({ create: { width: 64, height: 32, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const info = await call<{ sha256: string }>(server, 'attachments.add', { name: 'blank.png', bytes: new Uint8Array(blank) });
    await assert.rejects(call(server, 'ocr.recognize', { attachment: info.sha256 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'bad_image');
      assert.match(err.message, /blank/);
      return true;
    });
  });

  test('the panel opens from the header', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    await byTestId('ocr-toggle').click();
    await byTestId('ocr-panel').waitFor();
  });

  for (const { kind, file } of IMAGES) {
    test(`a ${kind} formula is recognised: the preview renders it or falls back to source`, async () => {
      await byTestId('ocr-file-input').setInputFiles(path.join(REAL_DATA_DIR, file));
      await byTestId('ocr-recognize').click();
      // Recognition done: the button is enabled again and there is LaTeX (or an error line).
      await page.waitForFunction(
        () => {
          const b = document.querySelector<HTMLButtonElement>('[data-testid=ocr-recognize]');
          const t = document.querySelector<HTMLTextAreaElement>('[data-testid=ocr-latex]');
          return !!b && !b.disabled && (!!t?.value.trim() || !!document.querySelector('[data-testid=ocr-error]'));
        },
        null,
        { timeout: 120_000 },
      );
      assert.equal(await byTestId('ocr-error').count(), 0, await byTestId('ocr-error').innerText().catch(() => ''));
      const latex = await byTestId('ocr-latex').inputValue();
      assert.ok(latex.trim().length > 0);
      const preview = byTestId('ocr-preview');
      const rendered = await preview.locator('.katex').count();
      const fallback = await preview.locator('code.math-source').count();
      assert.ok(rendered + fallback > 0, `preview of ${JSON.stringify(latex)}: ${await preview.innerHTML()}`);
      assert.equal(await byTestId('ocr-valid').getAttribute('data-valid'), rendered > 0 && fallback === 0 ? 'true' : 'false');
      await page.screenshot({ path: path.join(ARTIFACTS, `ocr-${kind}.png`) });
    });
  }

  test('edited LaTeX renders live; each copy format gives the expected string', async () => {
    await byTestId('ocr-latex').fill('\\frac{a}{b}');
    await byTestId('ocr-preview').locator('.katex').first().waitFor();
    assert.equal(await byTestId('ocr-preview').locator('code.math-source').count(), 0);
    assert.equal(await byTestId('ocr-valid').getAttribute('data-valid'), 'true');

    const copied = async (id: string): Promise<string> => {
      await byTestId(id).click();
      return (await byTestId('ocr-panel').getAttribute('data-last-copied')) ?? '';
    };
    assert.equal(await copied('ocr-copy-latex'), '\\frac{a}{b}');
    assert.equal(await copied('ocr-copy-inline'), '$\\frac{a}{b}$');
    assert.equal(await copied('ocr-copy-display'), '$$\\frac{a}{b}$$');
    const mathml = await copied('ocr-copy-mathml');
    // Bare MathML, as word processors and MathJax take it: no KaTeX wrapper around <math>.
    assert.match(mathml, /^<math xmlns="http:\/\/www\.w3\.org\/1998\/Math\/MathML" display="block">/);
    assert.ok(mathml.endsWith('</math>'), mathml.slice(-40));
    assert.match(mathml, /<mfrac>/);
    assert.doesNotMatch(mathml, /<span/);
    // Where the browser grants clipboard access, the clipboard holds the same string.
    const clip = await page.evaluate(() => navigator.clipboard.readText()).catch(() => undefined);
    if (clip !== undefined) assert.equal(clip, mathml);

    // Copying again and again shows one toast, not a stack of them.
    for (let i = 0; i < 4; i++) await byTestId('ocr-copy-latex').click();
    assert.equal(await page.getByTestId('toast').filter({ hasText: 'Copied.' }).count(), 1);

    // The panel's buttons are the app's buttons (rounded, themed), not the browser's native ones.
    const looks = await byTestId('ocr-panel').locator('button:not(.icon-btn)').evaluateAll((buttons) =>
      buttons.map((b) => ({ text: b.textContent?.trim(), radius: getComputedStyle(b).borderRadius, minHeight: getComputedStyle(b).minHeight })),
    );
    assert.ok(looks.length >= 7, JSON.stringify(looks));
    for (const l of looks) assert.ok(l.radius !== '0px' && l.minHeight !== '0px' && l.minHeight !== 'auto', JSON.stringify(l));

    await byTestId('ocr-send').click();
    assert.equal(await byTestId('composer-input').inputValue(), '$$\\frac{a}{b}$$');
    // The formula went to the composer: the panel closes and gives the chat its room back.
    await byTestId('ocr-panel').waitFor({ state: 'detached', timeout: 2000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'ocr-edited.png') });
    assert.deepEqual(pageErrors, []);
  });
});
