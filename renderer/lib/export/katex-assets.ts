/// <reference path="./vite-imports.d.ts" />
// KaTeX's stylesheet with its WOFF2 fonts as data: URIs, for the HTML export. Bundler-specific
// (Vite's `?raw` and `?inline` imports); loaded with a dynamic import, so the ~350 kB of
// base64 fonts are fetched only when a conversation is exported as HTML.

import css from 'katex/dist/katex.min.css?raw';
import f0 from 'katex/dist/fonts/KaTeX_AMS-Regular.woff2?inline';
import f1 from 'katex/dist/fonts/KaTeX_Caligraphic-Bold.woff2?inline';
import f2 from 'katex/dist/fonts/KaTeX_Caligraphic-Regular.woff2?inline';
import f3 from 'katex/dist/fonts/KaTeX_Fraktur-Bold.woff2?inline';
import f4 from 'katex/dist/fonts/KaTeX_Fraktur-Regular.woff2?inline';
import f5 from 'katex/dist/fonts/KaTeX_Main-Bold.woff2?inline';
import f6 from 'katex/dist/fonts/KaTeX_Main-BoldItalic.woff2?inline';
import f7 from 'katex/dist/fonts/KaTeX_Main-Italic.woff2?inline';
import f8 from 'katex/dist/fonts/KaTeX_Main-Regular.woff2?inline';
import f9 from 'katex/dist/fonts/KaTeX_Math-BoldItalic.woff2?inline';
import f10 from 'katex/dist/fonts/KaTeX_Math-Italic.woff2?inline';
import f11 from 'katex/dist/fonts/KaTeX_SansSerif-Bold.woff2?inline';
import f12 from 'katex/dist/fonts/KaTeX_SansSerif-Italic.woff2?inline';
import f13 from 'katex/dist/fonts/KaTeX_SansSerif-Regular.woff2?inline';
import f14 from 'katex/dist/fonts/KaTeX_Script-Regular.woff2?inline';
import f15 from 'katex/dist/fonts/KaTeX_Size1-Regular.woff2?inline';
import f16 from 'katex/dist/fonts/KaTeX_Size2-Regular.woff2?inline';
import f17 from 'katex/dist/fonts/KaTeX_Size3-Regular.woff2?inline';
import f18 from 'katex/dist/fonts/KaTeX_Size4-Regular.woff2?inline';
import f19 from 'katex/dist/fonts/KaTeX_Typewriter-Regular.woff2?inline';
import { inlineKatexFonts } from './katex-css.js';

const FONTS: Readonly<Record<string, string>> = {
  'KaTeX_AMS-Regular.woff2': f0,
  'KaTeX_Caligraphic-Bold.woff2': f1,
  'KaTeX_Caligraphic-Regular.woff2': f2,
  'KaTeX_Fraktur-Bold.woff2': f3,
  'KaTeX_Fraktur-Regular.woff2': f4,
  'KaTeX_Main-Bold.woff2': f5,
  'KaTeX_Main-BoldItalic.woff2': f6,
  'KaTeX_Main-Italic.woff2': f7,
  'KaTeX_Main-Regular.woff2': f8,
  'KaTeX_Math-BoldItalic.woff2': f9,
  'KaTeX_Math-Italic.woff2': f10,
  'KaTeX_SansSerif-Bold.woff2': f11,
  'KaTeX_SansSerif-Italic.woff2': f12,
  'KaTeX_SansSerif-Regular.woff2': f13,
  'KaTeX_Script-Regular.woff2': f14,
  'KaTeX_Size1-Regular.woff2': f15,
  'KaTeX_Size2-Regular.woff2': f16,
  'KaTeX_Size3-Regular.woff2': f17,
  'KaTeX_Size4-Regular.woff2': f18,
  'KaTeX_Typewriter-Regular.woff2': f19,
};

/** KaTeX's CSS (from the katex package the app renders with), fonts inlined, WOFF2 only. */
export const katexCss: string = inlineKatexFonts(css, FONTS);
