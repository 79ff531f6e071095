/**
 * npm run bench:app — the chat window's own costs, printed side by side in one run:
 *
 *  1. first paint of the chat window in Chromium (Debian's, through playwright-core) served by
 *     `omnifusion serve` with the tiny model: first-paint / first-contentful-paint from the
 *     Paint Timing API and the time until the composer is visible; median of 5 fresh contexts.
 *  2. full-text search over 100 000 generated messages written through the store API: insert
 *     time, database size, and p50/p95/max of 200 `store.search()` queries of five kinds.
 *  3. render cost per streamed token of a math-heavy answer: StreamingRenderer.update() on every
 *     token against re-rendering the whole text with renderMarkdown() on every token (the naive
 *     way), in Node with jsdom's window and, with the same module bundled by esbuild, in Chromium.
 *
 * Everything is generated from a fixed seed; the only build step is `npm run build`, and only when
 * dist/renderer/index.html is missing.
 */
import { mulberry32 } from '../../main/engine/generation/sampling.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';
import { JSDOM } from 'jsdom';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { openStore } from '../../main/core/store/index.js';
import { StreamingRenderer, renderMarkdown, type WindowLike } from '../../renderer/lib/markdown/index.js';
import { REPO_ROOT } from '../fixtures/reference-cases.js';
import { startServe, stopServe } from '../helpers/serve.js';

const PAGE_LOADS = 5;
const MESSAGES = 100_000;
const PSEUDO_WORDS = 20_000;
const SEED = 20240611;
/** jsdom is slow: the naive whole-text render is timed on every 3rd token there (every token in Chromium). */
const NODE_NAIVE_EVERY = 3;

// ── helpers ──────────────────────────────────────────────────────────────────────────────


/** Nearest-rank percentile of already measured values. */
function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const median = (values: readonly number[]): number => percentile(values, 50);
const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const say = (line: string): void => void process.stderr.write(`${line}\n`);

// ── 1. first paint in Chromium ───────────────────────────────────────────────────────────

interface PaintRun {
  firstPaint: number;
  firstContentfulPaint: number;
  composerVisible: number;
}

async function firstPaint(browser: Browser): Promise<{ runs: PaintRun[] }> {
  if (!existsSync(path.join(REPO_ROOT, 'dist/renderer/index.html'))) {
    say('dist/renderer/index.html is missing: npm run build …');
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-bench-app-'));
  const server = await startServe(dataDir);
  const runs: PaintRun[] = [];
  try {
    // One load first, not counted: the server's first reads of the bundle from disk.
    for (let i = 0; i <= PAGE_LOADS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(server.url, { waitUntil: 'commit' });
      // performance.now() when the composer was first seen laid out (checked every frame),
      // on the page's own clock, which starts at navigation.
      const composerVisible = await (
        await page.waitForFunction(
          () => {
            const el = document.querySelector('[data-testid=composer-input]');
            if (!el) return false;
            const r = el.getBoundingClientRect();
            return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden' ? performance.now() : false;
          },
          null,
          { polling: 'raf', timeout: 60_000 },
        )
      ).jsonValue();
      // Paint entries are queued after the frame that painted; give them a moment.
      const paints = await page.waitForFunction(
        () => {
          const e = window.performance.getEntriesByType('paint');
          const fp = e.find((x) => x.name === 'first-paint');
          const fcp = e.find((x) => x.name === 'first-contentful-paint');
          return fp && fcp ? { fp: fp.startTime, fcp: fcp.startTime } : false;
        },
        null,
        { timeout: 10_000 },
      );
      const { fp, fcp } = (await paints.jsonValue()) as { fp: number; fcp: number };
      if (i > 0) runs.push({ firstPaint: fp, firstContentfulPaint: fcp, composerVisible: composerVisible as number });
      await context.close();
    }
  } finally {
    await stopServe(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { runs };
}

// ── 2. FTS over 100 000 messages ─────────────────────────────────────────────────────────

const ENGLISH = (
  'the of and to a in is it you that he was for on are with as I his they be at one have this from or had by ' +
  'not word but what some we can out other were all there when up use your how said an each she which do their ' +
  'time if will way about many then them write would like so these her long make thing see him two has look ' +
  'more day could go come did number sound no most people my over know water than call first who may down side ' +
  'been now find any new work part take get place made live where after back little only round man year came ' +
  'show every good me give our under name very through just form sentence great think say help low line differ ' +
  'turn cause much mean before move right boy old too same tell does set three want air well also play small end ' +
  'put home read hand port large spell add even land here must big high such follow act why ask men change went ' +
  'light kind off need house picture try us again animal point mother world near build self earth father ' +
  'equation matrix integral derivative function proof theorem lemma vector space value image page receipt total ' +
  'formula answer question handwriting document table column row limit series sum product probability'
).split(' ');

const LATEX_FRAGMENTS = [
  '$x^2 + y^2 = r^2$', '$\\frac{a}{b}$', '$\\int_0^1 f(x)\\,dx$', '$\\sum_{k=1}^{n} k^2$', '$\\alpha + \\beta$',
  '$\\lim_{n \\to \\infty} a_n$', '$\\sqrt{2}$', '$e^{i\\pi} + 1 = 0$', '$\\nabla \\cdot \\mathbf{E}$', '$\\det(A - \\lambda I)$',
  '$$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$$', '$\\mathbb{R}^n$', '$O(n \\log n)$', '$\\binom{n}{k}$', '$\\partial_t u = \\Delta u$',
];

interface Corpus {
  vocabulary: string[];
  /** How often each vocabulary word was written. */
  counts: Map<string, number>;
}

function buildVocabulary(rand: () => number): string[] {
  const onsets = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'ch', 'cr', 'dr', 'fl', 'gr', 'kl', 'pr', 'sh', 'st', 'str', 'th', 'tr'];
  const nuclei = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou', 'io', 'y'];
  const codas = ['', '', '', 'n', 'r', 's', 'l', 'm', 'nt', 'st', 'x', 'ng'];
  const seen = new Set(ENGLISH);
  const words: string[] = [];
  while (words.length < PSEUDO_WORDS) {
    const syllables = 1 + Math.floor(rand() * 4);
    let w = '';
    for (let s = 0; s < syllables; s++) w += onsets[Math.floor(rand() * onsets.length)]! + nuclei[Math.floor(rand() * nuclei.length)]!;
    w += codas[Math.floor(rand() * codas.length)]!;
    if (w.length >= 3 && !seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  // English first: with a Zipf law over ranks they are the common words, as in real chats.
  return [...ENGLISH, ...words];
}

/** A sampler of vocabulary ranks by Zipf's law (s = 1.05). */
function zipfSampler(n: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / (r + 1) ** 1.05;
  return () => {
    const x = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function makeMessageText(role: 'user' | 'assistant', vocabulary: string[], counts: Map<string, number>, rank: () => number, rand: () => number): string {
  const words = role === 'user' ? 5 + Math.floor(rand() * 36) : 40 + Math.floor(rand() * 211);
  const out: string[] = [];
  let sentence = 0;
  for (let i = 0; i < words; i++) {
    const w = vocabulary[rank()]!;
    counts.set(w, (counts.get(w) ?? 0) + 1);
    out.push(sentence === 0 ? w[0]!.toUpperCase() + w.slice(1) : w);
    sentence++;
    if (rand() < 0.03) out.push(LATEX_FRAGMENTS[Math.floor(rand() * LATEX_FRAGMENTS.length)]!);
    if (sentence > 5 && rand() < 0.12) {
      out[out.length - 1] += '.';
      sentence = 0;
    }
  }
  return `${out.join(' ')}.`;
}

const QUERY_KINDS = ['one rare word', 'one common word', 'two words', 'prefix (2-4 chars)', 'LaTeX terms'] as const;

interface SearchQuery {
  kind: (typeof QUERY_KINDS)[number];
  text: string;
}

function makeQueries(corpus: Corpus, rand: () => number): SearchQuery[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const byCount = [...corpus.counts.entries()].sort((a, b) => b[1] - a[1]);
  const common = byCount.slice(0, 200).map(([w]) => w);
  const middling = byCount.filter(([, c]) => c >= 200 && c <= 2000).map(([w]) => w);
  const rare = byCount.filter(([, c]) => c >= 1 && c <= 20).map(([w]) => w);
  const queries: SearchQuery[] = [];
  for (let i = 0; i < 40; i++) queries.push({ kind: 'one common word', text: pick(common) });
  for (let i = 0; i < 40; i++) queries.push({ kind: 'one rare word', text: pick(rare) });
  for (let i = 0; i < 40; i++) queries.push({ kind: 'two words', text: `${pick(common)} ${pick(middling)}` });
  for (let i = 0; i < 40; i++) {
    // What a user has typed so far: the start of a word (the last term always matches as a prefix).
    const w = pick(rand() < 0.5 ? common.filter((x) => x.length >= 4) : middling);
    queries.push({ kind: 'prefix (2-4 chars)', text: w.slice(0, 2 + Math.floor(rand() * Math.min(3, w.length - 1))) });
  }
  const latex = ['frac', 'alpha beta', 'pmatrix', 'int', 'mathbb', 'lambda', 'lim infty', 'sqrt', 'nabla', 'binom', 'partial', 'sum k'];
  for (let i = 0; i < 40; i++) queries.push({ kind: 'LaTeX terms', text: pick(latex) });
  // Mixed order, as queries arrive in use.
  for (let i = queries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [queries[i], queries[j]] = [queries[j]!, queries[i]!];
  }
  return queries;
}

interface FtsResult {
  insertS: number;
  conversations: number;
  textMiB: number;
  dbMiB: number;
  openMs: number;
  all: number[];
  byKind: Map<string, { times: number[]; hits: number[] }>;
  vocabulary: number;
}

function ftsBenchmark(): FtsResult {
  const rand = mulberry32(SEED);
  const vocabulary = buildVocabulary(rand);
  const rank = zipfSampler(vocabulary.length, rand);
  const counts = new Map<string, number>();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-bench-fts-'));
  try {
    let store = openStore({ dataDir });
    // Conversation lengths vary (2 to 66 messages, mean 34): about 2 900 conversations.
    let written = 0;
    let textChars = 0;
    let conversations = 0;
    // Only the store calls are timed, not generating the text.
    let storeMs = 0;
    while (written < MESSAGES) {
      const length = Math.min(MESSAGES - written, 2 * (1 + Math.floor(rand() * 33)));
      const first = makeMessageText('user', vocabulary, counts, rank, rand);
      // Titled like the app titles a chat: the start of its first question.
      let t = performance.now();
      const c = store.createConversation(first.slice(0, 48));
      storeMs += performance.now() - t;
      conversations++;
      for (let i = 0; i < length; i++) {
        const role = i % 2 === 0 ? 'user' : 'assistant';
        const content = i === 0 ? first : makeMessageText(role, vocabulary, counts, rank, rand);
        textChars += content.length;
        // The store API as the app uses it: one transaction per message (FTS triggers included).
        t = performance.now();
        store.addMessage(c.id, { role, content, ...(role === 'assistant' ? { model: 'omnifusion-tiny' } : {}) });
        storeMs += performance.now() - t;
      }
      written += length;
      if (conversations % 500 === 0) say(`  fts: ${written} messages written …`);
    }
    const insertS = storeMs / 1000;
    store.close(); // checkpoints and truncates the WAL, so the file is the whole database
    const file = store.file;
    const dbMiB = statSync(file).size / 2 ** 20;
    const openStarted = performance.now();
    store = openStore({ dataDir });
    const openMs = performance.now() - openStarted;

    const queries = makeQueries({ vocabulary, counts }, rand);
    const all: number[] = [];
    const byKind = new Map<string, { times: number[]; hits: number[] }>();
    for (const kind of QUERY_KINDS) byKind.set(kind, { times: [], hits: [] });
    for (const q of queries) {
      const t = performance.now();
      const hits = store.search(q.text);
      const dt = performance.now() - t;
      all.push(dt);
      const k = byKind.get(q.kind)!;
      k.times.push(dt);
      k.hits.push(hits.length);
    }
    store.close();
    return { insertS, conversations, textMiB: textChars / 2 ** 20, dbMiB, openMs, all, byKind, vocabulary: vocabulary.length };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ── 3. render cost per streamed token ────────────────────────────────────────────────────

const MATH_ANSWER = String.raw`## Solving the system and checking the eigenvalues

We are given the matrix $A = \begin{pmatrix} 2 & 1 \\ 1 & 3 \end{pmatrix}$ and the vector $b = (1, 2)^\top$. The plan:

1. Compute $\det(A) = 2 \cdot 3 - 1 \cdot 1 = 5$, so $A$ is invertible.
2. Find $A^{-1}$ and then $x = A^{-1} b$.
3. Check the eigenvalues $\lambda_{1,2}$ from $\det(A - \lambda I) = 0$.

The inverse of a $2 \times 2$ matrix is

$$
A^{-1} = \frac{1}{\det A} \begin{pmatrix} 3 & -1 \\ -1 & 2 \end{pmatrix} = \begin{pmatrix} 0.6 & -0.2 \\ -0.2 & 0.4 \end{pmatrix}.
$$

Hence $x = A^{-1} b = (0.2, 0.6)^\top$. Substituting back gives $2(0.2) + 0.6 = 1$ and $0.2 + 3(0.6) = 2$, as required.

### Eigenvalues

The characteristic polynomial is

$$
\begin{aligned}
p(\lambda) &= \det(A - \lambda I) \\
           &= (2 - \lambda)(3 - \lambda) - 1 \\
           &= \lambda^2 - 5\lambda + 5,
\end{aligned}
$$

so $\lambda_{1,2} = \frac{5 \pm \sqrt{5}}{2}$, both positive: $A$ is symmetric positive definite, and $x^\top A x > 0$ for every $x \neq 0$.

### A series along the way

For $|q| < 1$ the geometric series converges: $\sum_{k=0}^{\infty} q^k = \frac{1}{1 - q}$. Differentiating term by term,

$$
\sum_{k=1}^{\infty} k q^{k-1} = \frac{1}{(1-q)^2}, \qquad \int_0^1 \frac{\ln(1 + x)}{x}\,dx = \frac{\pi^2}{12}.
$$

- The spectral radius is $\rho(A) = \frac{5 + \sqrt{5}}{2} \approx 3.618$.
- The condition number is $\kappa_2(A) = \frac{\lambda_{\max}}{\lambda_{\min}} = \frac{5 + \sqrt 5}{5 - \sqrt 5} \approx 2.618$.
- Gradient descent with step $\eta < \frac{2}{\lambda_{\max}}$ converges, the error shrinking like $\left(\frac{\kappa - 1}{\kappa + 1}\right)^k$.

### Cayley–Hamilton as a cross-check

By the Cayley–Hamilton theorem $p(A) = A^2 - 5A + 5I = 0$, which gives the inverse without cofactors:

$$
A^{-1} = \frac{1}{5}\left(5I - A\right) = \frac{1}{5}\begin{bmatrix} 3 & -1 \\ -1 & 2 \end{bmatrix}, \qquad \operatorname{tr}(A) = \lambda_1 + \lambda_2 = 5.
$$

1. Square the matrix: $A^2 = \begin{pmatrix} 5 & 5 \\ 5 & 10 \end{pmatrix}$.
2. Subtract $5A$ and add $5I$:
   - the diagonal gives $5 - 10 + 5 = 0$ and $10 - 15 + 5 = 0$;
   - the off-diagonal gives $5 - 5 = 0$.
3. So $A (5I - A) = 5I$, i.e. $A^{-1} = I - \tfrac15 A$, matching the cofactor formula above.

To check numerically:

${'```'}python
import numpy as np

A = np.array([[2.0, 1.0], [1.0, 3.0]])
b = np.array([1.0, 2.0])
x = np.linalg.solve(A, b)
print(x)                      # [0.2 0.6]
print(np.linalg.eigvalsh(A))  # [1.382 3.618]
${'```'}

| quantity | exact | approx. |
|---|---|---|
| $\det A$ | $5$ | $5.000$ |
| $\lambda_{\min}$ | $\frac{5 - \sqrt 5}{2}$ | $1.382$ |
| $\lambda_{\max}$ | $\frac{5 + \sqrt 5}{2}$ | $3.618$ |

Finally, the Gaussian integral $\int_{-\infty}^{\infty} e^{-x^2}\,dx = \sqrt{\pi}$ and Euler's identity $e^{i\pi} + 1 = 0$ close the answer; the quadratic form $Q(x) = \tfrac12 x^\top A x - b^\top x$ has its minimum exactly at the solution $x^\star = A^{-1} b$, where $\nabla Q(x^\star) = A x^\star - b = 0$.
`;

/** Splits the answer into 2–6 character pieces, as a model's tokens would arrive. */
function tokenize(text: string, rand: () => number): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 2 + Math.floor(rand() * 5);
    tokens.push(text.slice(i, i + n));
    i += n;
  }
  return tokens;
}

interface RenderRun {
  /** ms per token: StreamingRenderer.update(text so far). */
  streaming: number[];
  /** ms per token: renderMarkdown(text so far), on every naiveEvery-th token and the last. */
  naive: number[];
  /** Block renders the streaming renderer did (its `.renders`). */
  streamingBlocks: number;
  /** Block renders of the naive way (counted untimed when asked; -1 otherwise). */
  naiveBlocks: number;
  /** The final streamed HTML equals renderMarkdown of the whole answer. */
  same: boolean;
}

/**
 * Runs in Node (jsdom) and, as source text, in Chromium: per-token times of both ways, the
 * streaming one first on each token. Self-contained (no outer names), so it can be sent to a page.
 *
 * It yields to the event loop between renders (untimed), as a stream of tokens does. That matters
 * for jsdom: each DOMPurify call registers a NodeIterator in a WeakRef-backed set, and WeakRef
 * targets stay alive until the current job ends, so a synchronous loop keeps every parsed document
 * alive (gigabytes here) and slows jsdom down (cure53/DOMPurify#1089, kkomelin/isomorphic-dompurify#368).
 */
async function measureRender(
  tokens: readonly string[],
  lib: { StreamingRenderer: typeof StreamingRenderer; renderMarkdown: typeof renderMarkdown },
  win: WindowLike | undefined,
  now: () => number,
  yieldNow: () => Promise<void>,
  countNaiveBlocks: boolean,
  naiveEvery: number,
): Promise<RenderRun> {
  const opts = win ? { window: win } : {};
  const streamer = new lib.StreamingRenderer(opts);
  const streaming: number[] = [];
  const naive: number[] = [];
  let text = '';
  let lastStreamed = '';
  let lastWhole = '';
  for (const token of tokens) {
    text += token;
    let t = now();
    const snapshot = streamer.update(text);
    streaming.push(now() - t);
    lastStreamed = snapshot.stableHtml.join('') + snapshot.tailHtml;
    await yieldNow();
    // The naive way has no state: timing it on every naiveEvery-th prefix (and the last) samples
    // the same distribution over the answer, in a fraction of the time.
    if (streaming.length % naiveEvery === 0 || streaming.length === tokens.length) {
      t = now();
      lastWhole = lib.renderMarkdown(text, opts);
      naive.push(now() - t);
      await yieldNow();
    }
  }
  // Block renders of the naive way: every top-level block of the text so far, on every token.
  // Counted after the timing: a fresh renderer's first update renders each block of the text
  // exactly once, as renderMarkdown does.
  let naiveBlocks = -1;
  if (countNaiveBlocks) {
    naiveBlocks = 0;
    text = '';
    for (const token of tokens) {
      text += token;
      const once = new lib.StreamingRenderer(opts);
      once.update(text);
      naiveBlocks += once.renders;
      await yieldNow();
    }
  }
  return { streaming, naive, streamingBlocks: streamer.renders, naiveBlocks, same: lastStreamed === lastWhole };
}

async function renderInChromium(browser: Browser, tokens: readonly string[]): Promise<RenderRun> {
  // The same module the chat window uses, bundled for the page; no Svelte around it.
  const bundle = await esbuild.build({
    stdin: { contents: "export { StreamingRenderer, renderMarkdown } from './renderer/lib/markdown/index.ts';", resolveDir: REPO_ROOT, loader: 'ts' },
    bundle: true,
    format: 'iife',
    globalName: 'OmniMarkdown',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setContent('<!doctype html><html><body><div id="answer"></div></body></html>');
  await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
  const result = await page.evaluate(
    async ([source, list]) => {
      const measure = new Function(`return (${source})`)() as typeof measureRender;
      const lib = (globalThis as unknown as { OmniMarkdown: Parameters<typeof measureRender>[1] }).OmniMarkdown;
      // Arrow functions passed inline: a named one would get tsx's __name() wrapper, unknown in the page.
      const timing = [() => performance.now(), () => new Promise<void>((resolve) => setTimeout(resolve, 0))] as const;
      await measure(list.slice(0, 60), lib, undefined, ...timing, false, 1); // warm-up (JIT, KaTeX)
      return measure(list, lib, undefined, ...timing, true, 1);
    },
    [measureRender.toString(), tokens] as const,
  );
  await context.close();
  return result;
}

// ── run ──────────────────────────────────────────────────────────────────────────────────

const browser = await launchChromium();
const chromiumVersion = browser.version();
try {
  say('1/3 first paint in Chromium …');
  const paint = await firstPaint(browser);

  say('2/3 generating 100 000 messages through the store API …');
  const fts = ftsBenchmark();

  say('3/3 render cost per streamed token …');
  const tokens = tokenize(MATH_ANSWER, mulberry32(SEED + 1));
  const { window: jsdomWindow } = new JSDOM('');
  const win = jsdomWindow as unknown as WindowLike;
  const now = (): number => performance.now();
  const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  await measureRender(tokens.slice(0, 60), { StreamingRenderer, renderMarkdown }, win, now, yieldNow, false, 1); // warm-up (JIT, KaTeX)
  const node = await measureRender(tokens, { StreamingRenderer, renderMarkdown }, win, now, yieldNow, false, NODE_NAIVE_EVERY);
  const inChromium = await renderInChromium(browser, tokens);

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const out = (line = ''): void => void process.stdout.write(`${line}\n`);
  out();
  out(`machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, Chromium ${chromiumVersion} (headless, --disable-gpu)`);
  out(`first paint: omnifusion serve with the tiny model, 1280×800, median of ${PAGE_LOADS} loads in fresh contexts (cold HTTP cache) after 1 uncounted load; times from navigation start; ` +
      `each load FCP / composer: ${paint.runs.map((r) => `${ms(r.firstContentfulPaint)}/${ms(r.composerVisible)}`).join(', ')}`);
  out(
    `search: ${MESSAGES} messages in ${fts.conversations} conversations (${fts.textMiB.toFixed(1)} MiB of text; Zipf s=1.05 over ${fts.vocabulary} words = ${ENGLISH.length} English + ${PSEUDO_WORDS} pseudo-words, ~3% LaTeX fragments), ` +
      `written with store.addMessage (one transaction each, as the app does); ${fts.all.length} store.search() queries, limit 50, no warm-up`,
  );
  out(
    `render: ${MATH_ANSWER.length}-character math answer (inline/display math, aligned, pmatrix, lists, code, table) in ${tokens.length} tokens of 2–6 characters; ` +
      `update() without a target and renderMarkdown() both return HTML strings (no DOM insertion, no layout); 60-token warm-up first, event loop turned between renders (untimed); Node+jsdom: jsdom 26 window for DOMPurify, renderMarkdown timed on every ${NODE_NAIVE_EVERY}rd token (${node.naive.length} samples); Chromium: the same module bundled by esbuild, in a blank page`,
  );
  out();
  const rows: string[][] = [['measure', 'value (streaming)', 'naive (renderMarkdown per token)', 'naive / streaming']];
  const p = (k: keyof PaintRun): string => ms(median(paint.runs.map((r) => r[k])));
  rows.push(['first paint (ms)', p('firstPaint'), '', '']);
  rows.push(['first contentful paint (ms)', p('firstContentfulPaint'), '', '']);
  rows.push(['composer laid out & visible (rAF check, ms)', p('composerVisible'), '', '']);
  rows.push([`FTS insert ${MESSAGES} messages (s, store calls only)`, fts.insertS.toFixed(1), '', '']);
  rows.push(['FTS database size (MiB)', fts.dbMiB.toFixed(1), '', '']);
  rows.push(['openStore on it (ms, includes quick_check)', ms(fts.openMs), '', '']);
  rows.push([`FTS search p50 / p95 / max (ms), all ${fts.all.length}`, `${ms(percentile(fts.all, 50))} / ${ms(percentile(fts.all, 95))} / ${ms(Math.max(...fts.all))}`, '', '']);
  for (const [kind, k] of fts.byKind) {
    rows.push([`  ${kind} (${k.times.length}, mean hits ${mean(k.hits).toFixed(0)})`, `${ms(percentile(k.times, 50))} / ${ms(percentile(k.times, 95))} / ${ms(Math.max(...k.times))}`, '', '']);
  }
  for (const [where, r] of [
    ['Node+jsdom', node],
    ['Chromium', inChromium],
  ] as const) {
    rows.push([`render/token mean (ms), ${where}`, ms(mean(r.streaming)), ms(mean(r.naive)), (mean(r.naive) / mean(r.streaming)).toFixed(1)]);
    rows.push([`render/token p95 (ms), ${where}`, ms(percentile(r.streaming, 95)), ms(percentile(r.naive, 95)), (percentile(r.naive, 95) / percentile(r.streaming, 95)).toFixed(1)]);
    rows.push([`render/token max (ms), ${where}`, ms(Math.max(...r.streaming)), ms(Math.max(...r.naive)), '']);
    rows.push([`render summed over the answer (ms, mean × ${tokens.length}), ${where}`, ms(mean(r.streaming) * tokens.length), ms(mean(r.naive) * tokens.length), '']);
    if (!r.same) rows.push([`  WARNING: ${where}: streamed HTML differs from renderMarkdown at the end`, '', '', '']);
  }
  const naiveBlocks = inChromium.naiveBlocks;
  rows.push([`block renders over ${tokens.length} tokens`, String(node.streamingBlocks), String(naiveBlocks), (naiveBlocks / node.streamingBlocks).toFixed(1)]);
  if (inChromium.streamingBlocks !== node.streamingBlocks) rows.push([`  WARNING: Chromium's StreamingRenderer did ${inChromium.streamingBlocks} block renders`, '', '', '']);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) out(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
} finally {
  await browser.close();
}
