// KaTeX's stylesheet made self-contained: its fonts as data: URIs, WOFF2 only.

/**
 * Rewrites the `src` of every `@font-face` rule in KaTeX's CSS (`katex.min.css` or
 * `katex.css`) to the single WOFF2 data: URI of that font, taken from `fonts` (keyed by file
 * name, e.g. `KaTeX_Main-Regular.woff2`, valued by a `data:font/woff2;base64,…` URI). Every
 * browser that renders KaTeX reads WOFF2, so the WOFF and TrueType copies are dropped (they
 * would triple the size). A font missing from `fonts` loses its `src` (the browser falls back
 * to another font) rather than pointing at a file the exported page cannot reach. Any
 * `</style` in the CSS is defused so it can be placed in a `<style>` element.
 */
export function inlineKatexFonts(css: string, fonts: Readonly<Record<string, string>>): string {
  const out = css.replace(/@font-face\s*\{([^}]*)\}/g, (_rule, body: string) => {
    const file = /url\(\s*['"]?(?:[^'")]*\/)?([^/'")]+\.woff2)['"]?\s*\)/.exec(body)?.[1];
    const uri = file ? fonts[file] : undefined;
    const kept = body
      .split(';')
      .map((d) => d.trim())
      .filter((d) => d && !/^src\s*:/i.test(d));
    if (uri && /^data:font\/woff2;base64,[A-Za-z0-9+/=]+$/.test(uri)) kept.push(`src:url(${uri}) format("woff2")`);
    return `@font-face{${kept.join(';')}}`;
  });
  return out.replace(/<\/(style)/gi, '<\\/$1');
}

/** The file names of the WOFF2 fonts a KaTeX stylesheet refers to, in order, without repeats. */
export function katexFontFiles(css: string): string[] {
  const names = new Set<string>();
  for (const m of css.matchAll(/url\(\s*['"]?(?:[^'")]*\/)?([^/'")]+\.woff2)['"]?\s*\)/g)) names.add(m[1]!);
  return [...names];
}
