/**
 * The screenshot flow of the browser UI in headless Chromium (Debian's, through playwright-core)
 * against `omnifusion serve` with the tiny model. A synthetic 1600×1000 "screenshot" with a
 * pattern in which every pixel differs from its neighbours is fed through the composer's
 * Screenshot → "Select from an image…"; the viewport (1000×500 CSS px, device scale 2) shows it
 * letterboxed at half size, so one CSS pixel is two image pixels (HiDPI). Drags made with the
 * mouse must attach a crop whose size and raw pixels equal sharp.extract() of the source at the
 * rectangle computed here independently; Enter on the empty question then asks "Describe this"
 * with the image. Esc cancels the overlay, a click selects nothing, a too-small drag is refused
 * with a message, and Esc on the empty question removes a capture. The Electron overlay page
 * (#capture-overlay/<displayId>) is driven too, with the preload's bridge stubbed: it answers the
 * drag in overlay-local CSS px, Enter as the whole display, Esc as a cancel. Screenshots go to
 * test-results/e2e/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { type Browser, type Page } from 'playwright-core';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { ARTIFACTS } from '../helpers/browser.js';
import { call, type Server } from '../helpers/serve.js';

/** The synthetic screenshot. */
const SOURCE = { width: 1600, height: 1000 };
/** CSS viewport; with contain-fit the image is drawn at scale 0.5, centred: x 100..900, y 0..500. */
const VIEWPORT = { width: 1000, height: 500 };
const SHOWN = { x: 100, y: 0, scale: 0.5 };

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A deterministic pattern where a crop shifted by one pixel in any direction has other pixels. */
function patternRgb(width: number, height: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 7 + y * 3) & 255;
      raw[i + 1] = (x * 13 + y * 29 + ((x * y) >> 4)) & 255;
      raw[i + 2] = (x ^ (y * 5)) & 255;
    }
  }
  return raw;
}

/**
 * The expected crop for a drag between two page points, computed without the app's code: clamp
 * each point to the shown image, go to image pixels (÷ scale), round outward (start floored, end
 * ceiled) and clamp to the image.
 */
function expectedRect(a: { x: number; y: number }, b: { x: number; y: number }): Rect {
  const toImage = (p: { x: number; y: number }) => ({
    x: Math.min(Math.max(p.x - SHOWN.x, 0), SOURCE.width * SHOWN.scale) / SHOWN.scale,
    y: Math.min(Math.max(p.y - SHOWN.y, 0), SOURCE.height * SHOWN.scale) / SHOWN.scale,
  });
  const [p, q] = [toImage(a), toImage(b)];
  const x0 = Math.max(0, Math.floor(Math.min(p.x, q.x)));
  const y0 = Math.max(0, Math.floor(Math.min(p.y, q.y)));
  const x1 = Math.min(SOURCE.width, Math.ceil(Math.max(p.x, q.x)));
  const y1 = Math.min(SOURCE.height, Math.ceil(Math.max(p.y, q.y)));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

describe('screenshot capture in Chromium against omnifusion serve', () => {
  let app: AppSession;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let sourcePath: string;
  let sourcePng: Buffer;

  before(async () => {
    app = await openAppSession('capture', {
      viewport: VIEWPORT,
      deviceScaleFactor: 2,
      settings: { maxNewTokens: 8, greedy: true },
      prepare: async (dataDir) => {
        sourcePng = await sharp(patternRgb(SOURCE.width, SOURCE.height), { raw: { ...SOURCE, channels: 3 } }).png().toBuffer();
        sourcePath = path.join(dataDir, 'screen.png');
        await writeFile(sourcePath, sourcePng);
      },
    });
    ({ server, browser, page, pageErrors } = app);
  });

  after(() => app?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const composerThumbs = () => page.locator('form.composer [data-testid=attachment-thumb]');

  /** Screenshot → "Select from an image…" → the synthetic screenshot; resolves once the overlay shows it. */
  async function openOverlay(): Promise<void> {
    await byTestId('capture-button').click();
    await byTestId('capture-menu').waitFor();
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), byTestId('capture-from-image').click()]);
    await chooser.setFiles(sourcePath);
    // Ready: the frame is decoded and laid out (a drag before that selects nothing).
    await page.locator('[data-testid=capture-overlay][data-ready=true]').waitFor();
    assert.equal(await byTestId('capture-image').evaluate((img) => (img as HTMLImageElement).naturalWidth), 1600);
  }

  /** A mouse drag in steps, as a person makes it. */
  async function drag(from: { x: number; y: number }, to: { x: number; y: number }, beforeRelease?: () => Promise<void>): Promise<void> {
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await beforeRelease?.();
    await page.mouse.up();
  }

  /** The bytes of the newest composer attachment, fetched by the page from its /files/<sha256> URL. */
  async function newestAttachmentBytes(): Promise<{ src: string; bytes: Buffer }> {
    const thumb = composerThumbs().last();
    await thumb.and(page.locator('[data-status=ready]')).waitFor({ timeout: 30_000 });
    const src = await thumb.locator('img').getAttribute('src');
    assert.ok(src, 'the thumbnail has a source');
    const b64 = await page.evaluate(async (url) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    }, src);
    return { src, bytes: Buffer.from(b64, 'base64') };
  }

  /** The crop has exactly the rectangle's size and exactly the source's pixels there (RGBA compared). */
  async function assertCropEquals(bytes: Buffer, rect: Rect): Promise<void> {
    const crop = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual({ width: crop.info.width, height: crop.info.height }, { width: rect.width, height: rect.height });
    const expected = await sharp(sourcePng).extract({ left: rect.x, top: rect.y, width: rect.width, height: rect.height }).ensureAlpha().raw().toBuffer();
    assert.equal(crop.data.length, expected.length);
    assert.ok(crop.data.equals(expected), 'the crop has the pixels of the source rectangle');
    // And not those of a rectangle one pixel off (the pattern changes under any shift).
    const shifted = await sharp(sourcePng).extract({ left: rect.x + 1, top: rect.y, width: rect.width - 1, height: rect.height }).ensureAlpha().raw().toBuffer();
    const cropShifted = await sharp(bytes).extract({ left: 0, top: 0, width: rect.width - 1, height: rect.height }).ensureAlpha().raw().toBuffer();
    assert.ok(!cropShifted.equals(shifted));
  }

  test('the page loads; the browser has no desktop capture, so Screenshot offers in-page sources', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });
    assert.equal((await call<{ state: string }>(server, 'capture.status', {})).state, 'unavailable');
    await byTestId('new-chat').click();
    await byTestId('capture-button').click();
    await byTestId('capture-menu').waitFor();
    assert.equal(await byTestId('capture-from-image').innerText(), 'Select from an image…');
    await page.keyboard.press('Escape');
    await byTestId('capture-menu').waitFor({ state: 'detached' });
  });

  test('the overlay shows the image letterboxed at scale 2 (HiDPI); Esc cancels with nothing attached', async () => {
    await openOverlay();
    const box = await byTestId('capture-image').boundingBox();
    assert.deepEqual(box, { x: SHOWN.x, y: SHOWN.y, width: SOURCE.width * SHOWN.scale, height: SOURCE.height * SHOWN.scale });
    assert.equal(await byTestId('capture-overlay').getAttribute('aria-label'), 'Select a region of the picture');
    assert.equal(await byTestId('capture-overlay').evaluate((el) => getComputedStyle(el).cursor), 'crosshair');
    await page.keyboard.press('Escape');
    await byTestId('capture-overlay').waitFor({ state: 'detached' });
    assert.equal(await composerThumbs().count(), 0);
  });

  test('a click selects nothing; a too-small drag is refused with a message and the overlay stays', async () => {
    await openOverlay();
    await page.mouse.click(400, 200);
    await page.waitForTimeout(100);
    assert.equal(await byTestId('capture-overlay').count(), 1);
    assert.equal(await byTestId('capture-message').count(), 0);
    await drag({ x: 300, y: 200 }, { x: 360, y: 200 }); // 120 × 0 px
    assert.match(await byTestId('capture-message').innerText(), /too small/i);
    assert.equal(await byTestId('capture-overlay').count(), 1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'capture-too-small.png') });
    await byTestId('capture-cancel').click();
    await byTestId('capture-overlay').waitFor({ state: 'detached' });
    assert.equal(await composerThumbs().count(), 0);
  });

  test('a down-right drag attaches exactly the selected pixels', async () => {
    await openOverlay();
    const from = { x: 150, y: 40 };
    const to = { x: 351, y: 243 };
    const rect = expectedRect(from, to);
    assert.deepEqual(rect, { x: 100, y: 80, width: 402, height: 406 }, 'the test computes the rectangle it expects');
    await drag(from, to, async () => {
      assert.equal(await byTestId('capture-size').innerText(), `${rect.width} × ${rect.height} px`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'capture-dragging.png') });
    });
    await byTestId('capture-overlay').waitFor({ state: 'detached' });
    await composerThumbs().first().waitFor({ timeout: 30_000 });
    assert.equal(await composerThumbs().count(), 1);
    const { bytes } = await newestAttachmentBytes();
    await assertCropEquals(bytes, rect);
    // The cursor is in the question box and the box shows the default question.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'composer-input');
    assert.equal(await byTestId('composer-input').getAttribute('placeholder'), 'Describe this');
  });

  test('Enter on the empty question asks "Describe this" with the crop', async () => {
    assert.equal(await byTestId('composer-input').inputValue(), '');
    await byTestId('composer-input').press('Enter');
    const user = page.locator('[data-testid=message][data-role=user]').last();
    await user.waitFor({ timeout: 30_000 });
    assert.match(await user.innerText(), /Describe this/);
    const images = user.locator('img');
    assert.equal(await images.count(), 1);
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid=message][data-role=user] img');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    assert.deepEqual(
      await images.first().evaluate((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]),
      [402, 406],
    );
    await page.locator('[data-testid=message][data-role=assistant]:not([data-streaming])').last().waitFor({ timeout: 60_000 });
    assert.equal(await composerThumbs().count(), 0, 'the composer is empty after sending');
    assert.notEqual(await byTestId('composer-input').getAttribute('placeholder'), 'Describe this');
    await page.screenshot({ path: path.join(ARTIFACTS, 'capture-asked.png') });
  });

  test('an up-left drag that ends in the letterbox is clamped to the image; Esc on the empty question removes it', async () => {
    await openOverlay();
    const from = { x: 700, y: 400 };
    const to = { x: 60, y: 131 };
    const rect = expectedRect(from, to);
    assert.deepEqual(rect, { x: 0, y: 262, width: 1200, height: 538 }, 'the test computes the rectangle it expects');
    await drag(from, to);
    await byTestId('capture-overlay').waitFor({ state: 'detached' });
    const { bytes } = await newestAttachmentBytes();
    await assertCropEquals(bytes, rect);

    await byTestId('composer-input').press('Escape');
    await composerThumbs().first().waitFor({ state: 'detached' });
    assert.equal(await composerThumbs().count(), 0);
    assert.notEqual(await byTestId('composer-input').getAttribute('placeholder'), 'Describe this');
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });

  test('the Electron overlay page answers through window.omnifusionCapture: a drag, Enter (whole display), Esc (cancel)', async () => {
    // A 800×500 DIP display at scale 2: the frame is 1600×1000 and fills the window.
    const overlay = await browser.newContext({ viewport: { width: 800, height: 500 }, deviceScaleFactor: 2 });
    try {
      // The preload's bridge, stubbed (as a string: tsx would wrap a function in helpers the page lacks).
      await overlay.addInitScript({
        content: 'window.__answers = []; window.omnifusionCapture = { select: async (a) => { window.__answers.push(a); return true; } };',
      });
      await overlay.route('**/capture/7.png', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: sourcePng }));
      const answers = () => overlayPage.evaluate(() => (window as unknown as { __answers: unknown[] }).__answers);
      const overlayPage = await overlay.newPage();
      overlayPage.on('pageerror', (e) => pageErrors.push(e.message));
      const open = async (): Promise<void> => {
        await overlayPage.goto('about:blank'); // a fresh window each time (the same URL would only be a hash change)
        await overlayPage.goto(`${server.origin}/?token=${server.token}#capture-overlay/7`);
        await overlayPage.locator('[data-testid=capture-overlay][data-ready=true]').waitFor();
      };

      await open();
      assert.deepEqual(await overlayPage.getByTestId('capture-image').boundingBox(), { x: 0, y: 0, width: 800, height: 500 });
      assert.equal(await overlayPage.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgba(0, 0, 0, 0)');
      await overlayPage.mouse.move(300, 250);
      await overlayPage.mouse.down();
      await overlayPage.mouse.move(200, 150, { steps: 3 });
      await overlayPage.mouse.move(101, 51, { steps: 3 });
      assert.equal(await overlayPage.getByTestId('capture-size').innerText(), '398 × 398 px');
      await overlayPage.mouse.up();
      await overlayPage.waitForFunction(() => (window as unknown as { __answers: unknown[] }).__answers.length === 1);
      assert.deepEqual(await answers(), [{ displayId: 7, selection: { start: { x: 300, y: 250 }, end: { x: 101, y: 51 } } }]);

      await open();
      await overlayPage.keyboard.press('Enter');
      await overlayPage.waitForFunction(() => (window as unknown as { __answers: unknown[] }).__answers.length === 1);
      assert.deepEqual(await answers(), [{ displayId: 7, selection: { start: { x: 0, y: 0 }, end: { x: 800, y: 500 } } }]);

      await open();
      await overlayPage.keyboard.press('Escape');
      await overlayPage.waitForFunction(() => (window as unknown as { __answers: unknown[] }).__answers.length === 1);
      assert.deepEqual(await answers(), [{ cancel: true }]);
    } finally {
      await overlay.close();
    }
    assert.deepEqual(pageErrors, [], 'no errors in the pages');
  });

  test('the overlay page outside an Electron capture window says so in one line', async () => {
    const plain = await browser.newPage({ viewport: { width: 800, height: 500 } });
    try {
      await plain.goto(`${server.origin}/?token=${server.token}#capture-overlay/7`);
      assert.match(await plain.getByTestId('capture-unbridged').innerText(), /desktop app/);
      assert.equal(await plain.getByTestId('capture-overlay').count(), 0);
    } finally {
      await plain.close();
    }
  });
});
