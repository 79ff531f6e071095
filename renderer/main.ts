/**
 * Entry of the chat window. Picks the platform's API (Electron preload, or the web bridge of
 * `omnifusion serve`; `?demo` in a browser uses a built-in fake engine for previews and
 * screenshots), starts the stores and mounts the app.
 */
import 'katex/dist/katex.min.css';
import './styles/theme.css';
import './styles/app.css';
import { mount } from 'svelte';
import type { OmniFusionApi } from '../main/api/contract';
import App from './App.svelte';
import { getApi, setApi } from './lib/platform';
import { chat } from './lib/state/chat.svelte';
import { composer } from './lib/state/composer.svelte';
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

async function start(): Promise<void> {
  const api = await pickApi();
  composer.init(api);
  void settings.init(api);
  void model.init(api);
  void chat.init(api);
  const target = document.getElementById('app');
  if (!target) throw new Error('#app is missing from index.html');
  mount(App, { target });
}

void start();
