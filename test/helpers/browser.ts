/** Debian's Chromium for end-to-end tests and benchmarks, launched through playwright-core. */
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../fixtures/reference-cases.js';

/** Where tests leave screenshots for a person to look at. */
export const ARTIFACTS = path.join(REPO_ROOT, 'test-results/e2e');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Flags for a sandboxed machine with no network: without the background-networking ones Chromium keeps dialling out. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Start headless Chromium ($CHROMIUM_PATH, default /usr/bin/chromium). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
