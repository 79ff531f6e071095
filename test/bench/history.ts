/**
 * The history store's benchmark, part 2 of `npm run bench:app`: 100 000 generated messages written
 * through the store API, then
 *  - the database size and the time openStore takes on it, after a clean close (no integrity
 *    check) and after an unclean one (quick_check), medians of OPEN_RUNS;
 *  - p50/p95/max of 200 `store.search()` queries of five kinds;
 *  - the WAL over 10 000 inserts while another connection tries to hold a read snapshot: its
 *    largest size, its size at the end and after the idle checkpoint (wal-keeper.ts), and how
 *    many of that reader's tries the store's lock refused.
 * Everything is generated from a fixed seed.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { mulberry32 } from '../../main/engine/generation/sampling.js';
import { IN_USE_SUFFIX, openStore } from '../../main/core/store/store.js';

export const MESSAGES = 100_000;
export const PSEUDO_WORDS = 20_000;
const WAL_INSERTS = 10_000;
const OPEN_RUNS = 5;

/** Nearest-rank percentile of already measured values. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const say = (line: string): void => void process.stderr.write(`${line}\n`);


export const ENGLISH = (
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

export function buildVocabulary(rand: () => number): string[] {
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
export function zipfSampler(n: number, rand: () => number): () => number {
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

export function makeMessageText(role: 'user' | 'assistant', vocabulary: string[], counts: Map<string, number>, rank: () => number, rand: () => number): string {
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

export const QUERY_KINDS = ['one rare word', 'one common word', 'two words', 'prefix (2-4 chars)', 'LaTeX terms'] as const;

interface SearchQuery {
  kind: (typeof QUERY_KINDS)[number];
  text: string;
}

export function makeQueries(corpus: Corpus, rand: () => number): SearchQuery[] {
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


export interface HistoryResult {
  insertS: number;
  conversations: number;
  textMiB: number;
  dbMiB: number;
  /** openStore after a clean close (no integrity check) and after an unclean one (quick_check), median ms. */
  openCleanMs: number;
  openUncleanMs: number;
  all: number[];
  byKind: Map<string, { times: number[]; hits: number[] }>;
  vocabulary: number;
  /** WAL bytes over WAL_INSERTS inserts while another connection tried to hold a read snapshot: largest, at the end, after one idle checkpoint. */
  walPeakBytes: number;
  walEndBytes: number;
  walAfterBytes: number;
  /** That connection's tries to start a read, and how many the store's lock refused (SQLITE_BUSY). */
  readerAttempts: number;
  readerRefused: number;
  walInserts: number;
}

/** Runs the history benchmark with `seed` (the same corpus every run). */
export function historyBenchmark(seed: number): HistoryResult {
  const rand = mulberry32(seed);
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
    const openTimes = (unclean: boolean): number => {
      const times: number[] = [];
      for (let i = 0; i < OPEN_RUNS; i++) {
        if (unclean) writeFileSync(`${file}${IN_USE_SUFFIX}`, '1\n');
        const started = performance.now();
        const s = openStore({ dataDir });
        times.push(performance.now() - started);
        s.close();
      }
      return percentile(times, 50);
    };
    const openCleanMs = openTimes(false);
    const openUncleanMs = openTimes(true);
    store = openStore({ dataDir });

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

    // The WAL over WAL_INSERTS inserts while another connection (a database browser, a backup
    // tool) tries to start a read and keep it: before the store held the file's lock, its
    // snapshot stopped every checkpoint and the log grew by every page written.
    const c = store.createConversation('wal');
    const reader = new Database(file, { readonly: true, timeout: 0 });
    let readerAttempts = 0;
    let readerRefused = 0;
    const tryToRead = (): void => {
      readerAttempts++;
      try {
        reader.exec('BEGIN');
        reader.prepare('SELECT count(*) FROM messages').get(); // the snapshot is taken at the first read
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        readerRefused++;
        if (reader.inTransaction) reader.exec('ROLLBACK');
      }
    };
    let walPeakBytes = 0;
    tryToRead();
    for (let i = 0; i < WAL_INSERTS; i++) {
      const role = i % 2 ? 'assistant' : 'user';
      store.addMessage(c.id, { role, content: makeMessageText(role, vocabulary, counts, rank, rand) });
      if (i % 100 === 99) {
        walPeakBytes = Math.max(walPeakBytes, store.wal.walBytes());
        if (!reader.inTransaction) tryToRead();
      }
    }
    walPeakBytes = Math.max(walPeakBytes, store.wal.walBytes());
    const walEndBytes = store.wal.walBytes();
    if (reader.inTransaction) reader.exec('COMMIT');
    store.wal.checkpoint(); // the idle timer's work
    const walAfterBytes = store.wal.walBytes();
    store.close();
    reader.close();
    return {
      insertS,
      conversations,
      textMiB: textChars / 2 ** 20,
      dbMiB,
      openCleanMs,
      openUncleanMs,
      all,
      byKind,
      vocabulary: vocabulary.length,
      walPeakBytes,
      walEndBytes,
      walAfterBytes,
      readerAttempts,
      readerRefused,
      walInserts: WAL_INSERTS,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
