/** One end-to-end session: `omnifusion serve` on a fresh data folder and a Chromium page ready to open it. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Settings } from '../../main/api/contract.js';
import { ARTIFACTS, launchChromium } from './browser.js';
import { call, startServe, stopServe, type Server } from './serve.js';

export interface AppSessionOptions {
  /** The page's size in CSS pixels. */
  viewport: { width: number; height: number };
  /** Device pixels per CSS pixel (Playwright's default, 1, when absent). */
  deviceScaleFactor?: number;
  /** Grant the page clipboard read and write for the server's origin, where the browser allows it. */
  clipboard?: boolean;
  /** Sent with settings.set once the server runs, before the browser starts. */
  settings?: Partial<Settings>;
  /** Runs on the new, empty data folder before the server starts (to seed the store, write files). */
  prepare?: (dataDir: string) => void | Promise<void>;
  /** Starts the server on the data folder instead of startServe (other arguments or environment). */
  start?: (dataDir: string) => Promise<Server>;
}

export interface AppSession {
  /** The server's data folder, a fresh temporary one; removed by close(). */
  dataDir: string;
  server: Server;
  browser: Browser;
  context: BrowserContext;
  /** A blank page in `context`; the test navigates it (to server.url). */
  page: Page;
  /** The message of every uncaught error of `page`; a test may push those of other pages too. */
  pageErrors: string[];
  /** Close the browser, stop the server and remove the data folder. */
  close(): Promise<void>;
}

/**
 * Start an end-to-end session for the test named `name` (it names the temporary data folder,
 * omnifusion-e2e-<name>-XXXXXX): run `options.prepare` on that folder, start `omnifusion serve`
 * with the tiny model on it (or `options.start`), apply `options.settings`, make sure ARTIFACTS exists (screenshots),
 * launch Chromium and open one page in a context of `options.viewport` (and
 * `deviceScaleFactor`, clipboard permissions) whose page errors are collected in `pageErrors`.
 * If any step fails, what was started is stopped again before the error is thrown.
 *
 *   let app: AppSession;
 *   before(async () => (app = await openAppSession('ocr', { viewport: { width: 1280, height: 900 } })));
 *   after(() => app?.close());
 */
export async function openAppSession(name: string, options: AppSessionOptions): Promise<AppSession> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `omnifusion-e2e-${name}-`));
  let server: Server | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    if (server) await stopServe(server);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await options.prepare?.(dataDir);
    server = await (options.start ?? startServe)(dataDir);
    if (options.settings) await call(server, 'settings.set', options.settings);
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    const context = await browser.newContext({
      viewport: options.viewport,
      ...(options.deviceScaleFactor !== undefined ? { deviceScaleFactor: options.deviceScaleFactor } : {}),
    });
    if (options.clipboard) {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin }).catch(() => undefined);
    }
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return { dataDir, server, browser, context, page, pageErrors, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
