/**
 * Entry of every window; the location hash says which (parseRoute, main/api/capture.ts):
 * - '' (or '#/c/<id>'): the chat window (App). It also takes the desktop's captures when
 *   settings.captureOpens is 'main': the 'capture.attached' event puts the crop in its composer;
 *   'capture.pick' (the desktop capture came back blank) opens the in-page capture sources.
 * - '#capture-overlay/<displayId>': an Electron region-selection overlay (CapturePage). It talks
 *   to main through its own preload bridge only: no API, no stores.
 * - '#quick-ask/<sha256>/<mode>': the compact quick-ask window (QuickAsk) with that crop attached.
 *
 * Picks the platform's API (Electron preload, or the web bridge of `omnifusion serve`; `?demo` in
 * a browser uses a built-in fake engine for previews and screenshots), starts the stores and
 * mounts the window's component.
 */
import 'katex/dist/katex.min.css';
import './styles/theme.css';
import './styles/app.css';
import { mount } from 'svelte';
import { parseRoute, type AppRoute } from '../main/api/capture';
import type { OmniFusionApi } from '../main/api/contract';
import App from './App.svelte';
import CapturePage from './components/CapturePage.svelte';
import QuickAsk from './components/QuickAsk.svelte';
import { inPageCapture } from './lib/capture/in-page.svelte';
import { getApi, setApi } from './lib/platform';
import { chat } from './lib/state/chat.svelte';
import { composer } from './lib/state/composer.svelte';
import { imageTexts } from './lib/state/image-text.svelte';
import { model } from './lib/state/model.svelte';
import { applyCachedTheme, settings } from './lib/state/settings.svelte';

applyCachedTheme();

async function pickApi(): Promise<OmniFusionApi> {
  if (!window.omnifusion && new URLSearchParams(location.search).has('demo')) {
    const { createDemoApi } = await import('./lib/platform/demo-api');
    const demo = createDemoApi();
    setApi(demo);
    return demo;
  }
  return getApi();
}

function sameRoute(a: AppRoute, b: AppRoute): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function start(): Promise<void> {
  const target = document.getElementById('app');
  if (!target) throw new Error('#app is missing from index.html');
  const route = parseRoute(location.hash);

  // A window given another route by a hash change (a reused window) starts over as that window.
  // The chat window's own '#/c/<id>' addresses are history entries, not hash changes, so they stay.
  window.addEventListener('hashchange', () => {
    const next = parseRoute(location.hash);
    if (next.kind !== 'main' && !sameRoute(next, route)) location.reload();
  });

  if (route.kind === 'capture-overlay') {
    document.documentElement.dataset.route = 'capture-overlay';
    mount(CapturePage, { target, props: { displayId: route.displayId } });
    return;
  }

  const api = await pickApi();
  composer.init(api);
  imageTexts.init(api);
  void settings.init(api);
  void model.init(api);
  void chat.init(api);

  if (route.kind === 'quick-ask') {
    document.documentElement.dataset.route = 'quick-ask';
    mount(QuickAsk, { target, props: { attachment: route.attachment, mode: route.mode } });
    return;
  }

  // Only the chat window acts on a desktop capture meant for the main window.
  api.on('capture.attached', ({ attachment, mode }) => composer.attachCapture(attachment, mode));
  api.on('capture.pick', () => inPageCapture.offerPick());
  mount(App, { target });
}

void start();
