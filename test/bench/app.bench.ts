/**
 * npm run bench:app — the chat window's own costs, printed side by side in one run:
 *
 *  1. first paint of the chat window in Chromium (Debian's, through playwright-core) served by
 *     `omnifusion serve` with the tiny model: first-paint / first-contentful-paint from the
 *     Paint Timing API and the time until the composer is visible; median of 5 fresh contexts.
 *  2. the history store over 100 000 generated messages written through the store API
 *     (test/bench/history.ts): insert time, database size, open time after a clean and an unclean
 *     close, WAL size with and without an outside reader, and p50/p95/max of 200
 *     `store.search()` queries of five kinds.
 *  3. render cost per streamed token of a math-heavy answer: StreamingRenderer.update() on every
 *     token against re-rendering the whole text with renderMarkdown() on every token (the naive
 *     way), in Node with jsdom's window and, with the same module bundled by esbuild, in Chromium.
 *
 * Everything is generated from a fixed seed; the only build step is `npm run build`, and only when
 * dist/renderer/index.html is missing.
 */
import { mulberry32 } from '../../main/engine/generation/sampling.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';
import { JSDOM } from 'jsdom';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { ENGLISH, historyBenchmark, MESSAGES, percentile, PSEUDO_WORDS } from './history.js';
import { StreamingRenderer, renderMarkdown, type WindowLike } from '../../renderer/lib/markdown/index.js';
import { REPO_ROOT } from '../fixtures/reference-cases.js';
import { startServe, stopServe } from '../helpers/serve.js';

const PAGE_LOADS = 5;
const SEED = 20240611;
/** jsdom is slow: the naive whole-text render is timed on every 3rd token there (every token in Chromium). */
const NODE_NAIVE_EVERY = 3;

// ── helpers ──────────────────────────────────────────────────────────────────────────────

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
  const fts = historyBenchmark(SEED);

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
  rows.push(['openStore on it after a clean close (ms, median of 5; no integrity check)', ms(fts.openCleanMs), '', '']);
  rows.push(['openStore on it after an unclean shutdown (ms, median of 5; quick_check)', ms(fts.openUncleanMs), '', '']);
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  rows.push([`WAL peak over ${fts.walInserts} inserts, another connection trying to hold a read (MiB)`, mib(fts.walPeakBytes), '', '']);
  rows.push(['WAL at the end / after one idle checkpoint (MiB)', `${mib(fts.walEndBytes)} / ${mib(fts.walAfterBytes)}`, '', '']);
  rows.push(["  that connection's tries to start a read refused by the store's lock", `${fts.readerRefused} of ${fts.readerAttempts}`, '', '']);
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
