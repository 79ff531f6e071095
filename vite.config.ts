/**
 * Build of the renderer (the Svelte chat window): `npx vite build` → dist/renderer.
 * base './' keeps every asset URL relative, so the same build loads from file:// or a custom
 * protocol in Electron and from `omnifusion serve`. Nothing is fetched from a CDN: KaTeX's CSS and
 * fonts are bundled from the katex package. No inline scripts (the CSP forbids them).
 */
import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(here, 'renderer'),
  base: './',
  plugins: [svelte()],
  build: {
    outDir: path.join(here, 'dist/renderer'),
    emptyOutDir: true,
    // Fonts and images stay files: the Electron CSP has no font-src data:.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  server: { strictPort: false },
});
