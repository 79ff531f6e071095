/**
 * The house rules, checked on every source file under main/ and renderer/ (.ts and .svelte):
 *
 * - no file over MAX_LINES lines;
 * - every file begins with a comment saying what it owns (a block or line comment; for .svelte an
 *   HTML comment, or a comment first thing in its opening `<script>`);
 * - no import cycle: static imports and re-exports (type-only ones too), side-effect and dynamic
 *   `import('…')` of relative paths, `<script>` blocks of .svelte files, resolved as TypeScript and
 *   Vite do (test/helpers/source-imports.ts); strongly connected components by Tarjan's algorithm.
 *
 * The runtime split (main/core and main/engine never import electron, the renderer never imports
 * Node) is checked by test/unit/app/packaging.test.ts with the same import scanner.
 * Each failure lists every offending file, one per line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf, resolveRelative, specifiersIn, svelteScripts } from '../helpers/source-imports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The house limit on a source file's length, lines (the project lead's rule). */
const MAX_LINES = 700;
/** A first comment must say something: at least this many words. */
const MIN_COMMENT_WORDS = 3;

const rel = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/');

/** Every .ts and .svelte file under `dirs` (relative to the repository), build outputs and packages left out; sorted. */
function sourceFiles(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(full);
      } else if (/\.(ts|svelte)$/.test(entry.name)) out.push(full);
    }
  };
  for (const dir of dirs) walk(path.join(ROOT, dir));
  return out.sort();
}

const FILES = sourceFiles('main', 'renderer');

/** Lines of `text` as `wc -l` counts them, plus a last line without a newline. */
function lineCount(text: string): number {
  return text.split('\n').length - (text.endsWith('\n') || text === '' ? 1 : 0);
}

/** The text of the comment a file begins with, or null when it begins with anything else. */
function leadingComment(file: string, text: string): string | null {
  let rest = text.replace(/^#![^\n]*\n/, '').trimStart();
  if (file.endsWith('.svelte')) {
    const html = /^<!--([\s\S]*?)-->/.exec(rest);
    if (html) return html[1]!;
    const script = /^<script\b[^>]*>/.exec(rest);
    if (!script) return null;
    rest = rest.slice(script[0].length).trimStart();
  }
  const block = /^\/\*([\s\S]*?)\*\//.exec(rest);
  if (block) return block[1]!;
  const lines = /^(?:\/\/[^\n]*(?:\n\s*|$))+/.exec(rest);
  return lines ? lines[0].replace(/^\s*\/\/+/gm, '') : null;
}

/**
 * Strongly connected components of a directed graph (Tarjan, 1972), each with more than one
 * node or a node with an edge to itself: the graph's cycles. Nodes within a component sorted,
 * components ordered by their first node.
 */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** One shortest cycle through `start` inside `component` (breadth-first), as a path that ends where it starts. */
function cycleThrough(start: string, component: readonly string[], graph: ReadonlyMap<string, readonly string[]>): string[] {
  const inside = new Set(component);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const route: string[] = [];
        for (let u = v; u !== start; u = cameFrom.get(u)!) route.unshift(u);
        return [start, ...route, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/** The import graph among `files`: each file's relative imports that resolve to one of them. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = importsOf(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveRelative(file, s))
      .filter((t): t is string => t !== undefined && known.has(t));
    graph.set(rel(file), [...new Set(targets.map(rel))]);
  }
  return graph;
}

test('the scanner reads every import form, and only the scripts of a .svelte file', () => {
  const code = [
    "import a from './a.js';",
    "import type { B } from './b.js';",
    "import {\n  c,\n  type C2,\n} from '../c.js';",
    "import './side-effect.css';",
    "export { d } from './d.js';",
    "export * from './e.js';",
    "export type { F } from './f.js';",
    "const g = await import('./g.js');",
    "// import h from './commented-out.js';",
    "const url = 'http://example.com/x';",
  ].join('\n');
  assert.deepEqual(specifiersIn(code).sort(), ['../c.js', './a.js', './b.js', './d.js', './e.js', './f.js', './g.js', './side-effect.css']);
  const svelte = "<!-- import x from './markup.js' -->\n<script lang=\"ts\" module>\n  import M from './M.svelte';\n</script>\n<script lang=\"ts\">\n  import { s } from './s.svelte';\n</script>\n<p>import y from './text.js'</p>";
  assert.deepEqual(specifiersIn(svelteScripts(svelte)), ['./M.svelte', './s.svelte']);
});

test('the cycle finder reports each strongly connected component, self-imports included', () => {
  const graph = new Map<string, string[]>([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
    ['e', ['e']],
    ['f', ['a', 'g']],
    ['g', ['f']],
  ]);
  assert.deepEqual(cycles(graph), [['a', 'b', 'c'], ['e'], ['f', 'g']]);
  assert.deepEqual(cycleThrough('a', ['a', 'b', 'c'], graph), ['a', 'b', 'c', 'a']);
  assert.deepEqual(cycles(new Map([['x', ['y']], ['y', []]])), []);
});

test('the first comment is found in each form a file may begin with', () => {
  assert.equal(leadingComment('a.ts', '/** Owns the thing. */\nexport {};')?.trim(), '* Owns the thing.');
  assert.equal(leadingComment('a.ts', '#!/usr/bin/env node\n// Owns the\n// command line.\nrun();')?.replace(/\s+/g, ' ').trim(), 'Owns the command line.');
  assert.equal(leadingComment('a.ts', "import x from './x.js';\n/** Too late. */"), null);
  assert.equal(leadingComment('A.svelte', '<!--\n  One row.\n-->\n<script lang="ts"></script>')?.trim(), 'One row.');
  assert.equal(leadingComment('A.svelte', '<script lang="ts">\n  /** One row. */\n  let x = 1;\n</script>')?.trim(), '* One row.');
  assert.equal(leadingComment('A.svelte', '<script lang="ts">\n  let x = 1;\n</script>'), null);
});

test(`no source file under main/ and renderer/ is over ${MAX_LINES} lines`, () => {
  const over = FILES.map((f) => ({ file: rel(f), lines: lineCount(readFileSync(f, 'utf8')) }))
    .filter((f) => f.lines > MAX_LINES)
    .sort((a, b) => b.lines - a.lines)
    .map((f) => `  ${f.file}: ${f.lines} lines`);
  assert.equal(over.length, 0, `${over.length} file(s) over ${MAX_LINES} lines:\n${over.join('\n')}`);
});

test('every source file under main/ and renderer/ begins with a comment saying what it owns', () => {
  const missing = FILES.flatMap((f) => {
    const comment = leadingComment(f, readFileSync(f, 'utf8'));
    if (comment === null) return [`  ${rel(f)}: does not begin with a comment`];
    const words = comment.match(/\p{L}[\p{L}\p{N}'-]*/gu) ?? [];
    return words.length < MIN_COMMENT_WORDS ? [`  ${rel(f)}: its first comment has ${words.length} word(s)`] : [];
  });
  assert.equal(missing.length, 0, `${missing.length} file(s) without an opening comment:\n${missing.join('\n')}`);
});

test('no import cycle among main/ and renderer/ files', () => {
  const graph = importGraph(FILES);
  assert.ok(graph.size === FILES.length && [...graph.values()].some((t) => t.length > 0), 'the import graph is empty: the scanner is broken');
  const found = cycles(graph);
  const report = found.map((component, i) =>
    [
      `  cycle ${i + 1} (${component.length} file${component.length === 1 ? '' : 's'}): ${component.join(', ')}`,
      `    e.g. ${cycleThrough(component[0]!, component, graph).join(' → ')}`,
    ].join('\n'),
  );
  assert.equal(found.length, 0, `${found.length} import cycle(s):\n${report.join('\n')}`);
});
