/**
 * What a source file imports, read from its text: the module specifiers of a .ts/.js/.mjs file
 * or of the `<script>` blocks of a .svelte file, and relative specifiers resolved to files the
 * way TypeScript and Vite find them. Used by the runtime-boundary checks (test/unit/app/
 * packaging.test.ts) and the house rules (test/unit/house.test.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** `source` without block and line comments (a `//` right after `:` or a quote is kept: URLs in strings). */
export function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The code of a .svelte file's `<script>` blocks (instance and module), joined; markup and styles left out. */
export function svelteScripts(source: string): string {
  return [...source.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!).join('\n');
}

/**
 * Module specifiers in `code`: `import … from`, `import type … from`, side-effect `import '…'`,
 * `export … from`, dynamic `import('…')` with a literal argument, and `require('…')`; in source order per form.
 */
export function specifiersIn(code: string): string[] {
  const source = stripComments(code);
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

/** Module specifiers a source file imports (see specifiersIn); for .svelte, those of its `<script>` blocks only. */
export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return specifiersIn(file.endsWith('.svelte') ? svelteScripts(text) : text);
}

/**
 * The file a relative specifier names: as written, `.js` → `.ts`, with `.ts` added (`./x.svelte` →
 * `x.svelte.ts` for rune modules), or the folder's `index.ts`. Undefined when none exists.
 */
export function resolveRelative(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}
