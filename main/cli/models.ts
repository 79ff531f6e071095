/**
 * `omnifusion models list | pull | import | rm`: the model catalog and installed models from the
 * command line, on the library in core/models (the app's model manager uses the same one through
 * the typed API).
 *
 * - Models dir: `--models-dir DIR`, else `$OMNIFUSION_MODELS_DIR`, else `models/` in the app's
 *   data folder (the one `omnifusion serve` uses).
 * - Catalog: `--catalog FILE`, else `$OMNIFUSION_CATALOG`, else resources/catalog.json.
 * - Hub: `$OMNIFUSION_HUB_URL` (default https://huggingface.co), token `$HF_TOKEN`.
 *
 * `pull` draws a progress bar on stderr when it is a terminal (bytes, rate, time left; one line
 * redrawn in place) and prints the result on stdout. Ctrl+C cancels it, keeping what was
 * downloaded: the same command resumes (exit 130). Failures are one line on stderr, exit 1.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeModels, partialDownloadBytes } from '../core/api-service.js';
import {
  DEFAULT_CATALOG_PATH,
  DEFAULT_HUB_URL,
  ModelError,
  defaultModelId,
  describeImportCheck,
  findModel,
  formatBytes,
  importModel,
  isAlreadyInstalled,
  listInstalled,
  loadCatalog,
  pullModel,
  readInstalled,
  removeModel,
  type Catalog,
  type Dtype,
  type PullProgress,
} from '../core/models/index.js';
import type { ModelEntry, ModelsCatalog } from '../api/contract.js';

/** A mistake in how `models` was called; printed as one line, exit code 2. */
export class ModelsUsageError extends Error {}

const EXIT_INTERRUPTED = 130;

/** Where models, the catalog and the Hub are, from flags and the environment. */
export interface ModelsPlaces {
  modelsDir?: string;
  catalog?: string;
}

/**
 * The folder a `--model` value names: an existing path as given; else, when the value is the id of
 * a model installed in `modelsDir` (see `omnifusion models list`), that model's folder. Anything
 * else: `problem` says so in one line (a path is left to the engine's own "not found" message).
 */
export async function resolveModelArg(value: string, modelsDir: string): Promise<{ dir: string; problem?: undefined } | { dir?: undefined; problem: string }> {
  const exists = await stat(value).then(
    () => true,
    () => false,
  );
  if (exists || !/^[A-Za-z0-9][\w.-]*$/.test(value)) return { dir: value };
  const installed = await readInstalled(modelsDir, value).catch(() => undefined);
  if (installed) return { dir: installed.dir };
  return { problem: `model folder not found: ${path.resolve(value)} (and no installed model has that id; see omnifusion models list)` };
}

/**
 * The one-line refusal of `ask` / `ocr` run without a model (no --model, no $OMNIFUSION_MODEL),
 * saying what to do next: use an installed model by its id (the default one first), else download
 * the default (the `*` of `omnifusion models list`: catalog.ts defaultModelChoice for this
 * machine's memory, CPU) with `omnifusion models pull <id>`. Without a readable catalog it points
 * at `omnifusion models list`. Never throws.
 * @param modelsDir the installed models folder (resolveModelsDir).
 */
export async function noModelMessage(modelsDir: string): Promise<string> {
  const orFolder = 'or pass --model DIR (a model folder) or set OMNIFUSION_MODEL';
  const defaultId = await loadCatalog(resolveCatalogPath(undefined)).then(
    (catalog) => defaultModelId(catalog, { ramBytes: os.totalmem(), gpu: false }),
    () => undefined,
  );
  const installed = (await listInstalled(modelsDir).catch(() => [])).map((m) => m.id);
  const use = installed.includes(defaultId ?? '') ? defaultId : installed[0];
  if (use) return `no model: pass --model ${use} (installed; see omnifusion models list), ${orFolder}`;
  if (defaultId) return `no model: download the default one with \`omnifusion models pull ${defaultId}\` and pass --model ${defaultId}, ${orFolder}`;
  return `no model: download one (see omnifusion models list, then omnifusion models pull ID), ${orFolder}`;
}

/** The models folder: --models-dir, else $OMNIFUSION_MODELS_DIR, else `<dataDir>/models`. */
export function resolveModelsDir(flag: string | undefined, dataDir: string): string {
  return path.resolve(flag ?? (process.env.OMNIFUSION_MODELS_DIR || path.join(dataDir, 'models')));
}

/** The catalog file: --catalog, else $OMNIFUSION_CATALOG, else resources/catalog.json. */
export function resolveCatalogPath(flag: string | undefined): string {
  return path.resolve(flag ?? (process.env.OMNIFUSION_CATALOG || DEFAULT_CATALOG_PATH));
}

/** The Hub base URL ($OMNIFUSION_HUB_URL, default https://huggingface.co) and token ($HF_TOKEN). */
export function hubFromEnv(): { hubUrl: string; hubToken?: string } {
  const hubUrl = process.env.OMNIFUSION_HUB_URL || DEFAULT_HUB_URL;
  try {
    new URL(hubUrl);
  } catch {
    throw new ModelsUsageError(`OMNIFUSION_HUB_URL "${hubUrl}" is not a URL`);
  }
  return { hubUrl, ...(process.env.HF_TOKEN ? { hubToken: process.env.HF_TOKEN } : {}) };
}

/** What the commands write to: stdout for results, stderr for progress and notes. */
export interface ModelsIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal (then the progress bar redraws one line). */
  errIsTty: boolean;
  /** Terminal width for the progress bar. */
  columns: () => number;
}

const defaultIo = (out: (text: string) => void): ModelsIo => ({
  out,
  err: (text) => void process.stderr.write(text),
  errIsTty: Boolean(process.stderr.isTTY),
  columns: () => process.stderr.columns || 80,
});

/** The active model of the app (settings.json in its data folder), if any. */
async function activeModelOf(dataDir: string): Promise<string | null> {
  try {
    const s = JSON.parse(await readFile(path.join(dataDir, 'settings.json'), 'utf8')) as { activeModel?: unknown };
    return typeof s.activeModel === 'string' ? s.activeModel : null;
  } catch {
    return null;
  }
}

/** `models list [--json]`. */
export async function listModels(o: ModelsPlaces & { json?: boolean }, dataDir: string, write: (text: string) => void): Promise<number> {
  const modelsDir = resolveModelsDir(o.modelsDir, dataDir);
  const catalog = await loadCatalog(resolveCatalogPath(o.catalog));
  const view = await describeModels({ catalog, modelsDir, ramBytes: os.totalmem(), activeId: await activeModelOf(dataDir) });
  if (o.json) {
    write(`${JSON.stringify(view, null, 2)}\n`);
    return 0;
  }
  write(formatTable(view));
  return 0;
}

/** The human listing: one row per model, the default marked with '*', the active one with '>'. */
export function formatTable(view: ModelsCatalog): string {
  const rows = view.models.map((m) => {
    const variant = m.variants.find((v) => v.dtype === m.defaultDtype);
    const size = m.installed ? formatBytes(m.installed.bytes) : variant ? `${variant.unknownSizeFiles > 0 ? '≥' : variant.exact ? '' : '~'}${formatBytes(variant.downloadBytes)}` : '';
    const memory = variant ? formatBytes(variant.memoryBytes) : '';
    const mark = m.active ? '>' : view.default?.id === m.id ? '*' : ' ';
    return [`${mark} ${m.id}`, m.installed?.dtype ?? m.defaultDtype, size, memory, m.strengths.join(', '), m.licence.id, stateOf(m)];
  });
  const header = ['  ID', 'DTYPE', 'SIZE', 'MEMORY', 'GOOD AT', 'LICENCE', 'STATE'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const lines = all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  const notes: string[] = [];
  if (view.default) notes.push(`* default: ${view.default.reason}`);
  if (view.activeId) notes.push(`> active in the app`);
  notes.push(`models folder: ${view.modelsDir}`);
  return `${lines.join('\n')}\n\n${notes.join('\n')}\n`;
}

function stateOf(m: ModelEntry): string {
  if (m.installed) return `installed${m.installed.from === 'import' ? ' (imported)' : ''}`;
  if (m.partialBytes > 0) return `partial: ${formatBytes(m.partialBytes)} kept, pull to resume`;
  if (m.source === 'export') return 'export, then import';
  return m.verified ? 'not installed' : 'not installed (file list unverified)';
}

/** `models pull <id> [--dtype D]`. */
export async function pullCommand(
  id: string,
  o: ModelsPlaces & { dtype?: Dtype },
  dataDir: string,
  write: (text: string) => void,
  io: ModelsIo = defaultIo(write),
): Promise<number> {
  const modelsDir = resolveModelsDir(o.modelsDir, dataDir);
  const { hubUrl, hubToken } = hubFromEnv();
  const catalog: Catalog = await loadCatalog(resolveCatalogPath(o.catalog));
  const model = findModel(catalog, id);
  const dtype = o.dtype ?? model.defaultDtype.cpu;
  const kept = await partialDownloadBytes(modelsDir, model.id);
  if (kept > 0) io.err(`note: resuming the earlier download of ${model.id} (${formatBytes(kept)} kept)\n`);

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const bar = new ProgressBar(model.id, io);
  try {
    const result = await pullModel(model, {
      modelsDir,
      dtype,
      baseUrl: hubUrl,
      ...(hubToken ? { token: hubToken } : {}),
      signal: controller.signal,
      onProgress: (p) => bar.update(p),
      progressIntervalMs: io.errIsTty ? 100 : 250,
    });
    bar.finish();
    if (result.alreadyInstalled) write(`${model.name} (${dtype}) is already installed in ${result.dir}\n`);
    else write(`installed ${model.name} (${dtype}) in ${result.dir}\n`);
    return 0;
  } catch (err) {
    bar.finish();
    if (err instanceof ModelError && err.code === 'cancelled') {
      const keptNow = await partialDownloadBytes(modelsDir, model.id);
      io.err(`omnifusion: download of ${model.id} cancelled; ${formatBytes(keptNow)} kept: run the same command to resume\n`);
      return EXIT_INTERRUPTED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `models import <dir> [--id ID] [--force]`: an id already installed is replaced only with --force. */
export async function importCommand(
  dir: string,
  o: ModelsPlaces & { id?: string; dtype?: Dtype; force?: boolean },
  dataDir: string,
  write: (text: string) => void,
  io: ModelsIo = defaultIo(write),
): Promise<number> {
  const modelsDir = resolveModelsDir(o.modelsDir, dataDir);
  // The catalog is optional here: a package with its own manifest needs none.
  const catalog = await loadCatalog(resolveCatalogPath(o.catalog)).catch(() => undefined);
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.on('SIGINT', onSigint);
  const bar = new ProgressBar(o.id ?? path.basename(path.resolve(dir)), io);
  try {
    const installed = await importModel(dir, {
      modelsDir,
      ...(catalog ? { catalog } : {}),
      ...(o.id ? { id: o.id } : {}),
      ...(o.dtype ? { dtype: o.dtype } : {}),
      ...(o.force ? { replace: true } : {}),
      signal: controller.signal,
      onProgress: (p) => bar.update(p),
    });
    bar.finish();
    const checked = installed.marker.source.kind === 'import' ? installed.marker.source.checkedAgainst : 'catalog';
    write(`imported ${installed.marker.name} as ${installed.id} in ${installed.dir} (${describeImportCheck(checked)})\n`);
    return 0;
  } catch (err) {
    bar.finish();
    if (err instanceof ModelError && err.code === 'cancelled') {
      io.err(`omnifusion: ${err.message}\n`);
      return EXIT_INTERRUPTED;
    }
    if (isAlreadyInstalled(err)) throw new ModelError(err.code, `${err.message}; add --force to replace it`, { details: err.details });
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `models rm <id>`. */
export async function removeCommand(id: string, o: ModelsPlaces, dataDir: string, write: (text: string) => void): Promise<number> {
  const modelsDir = resolveModelsDir(o.modelsDir, dataDir);
  const removed = await removeModel(modelsDir, id);
  const what = [removed.installed ? 'the installed model' : '', removed.partial ? 'its partial download' : ''].filter(Boolean).join(' and ');
  write(`removed ${id}: ${what}\n`);
  return 0;
}

/** "1:05", "12:03:09" for seconds. */
export function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/**
 * A download progress bar on stderr, drawn only on a terminal: one line redrawn in place,
 * `id [█████░░░░░]  45%  12.3 MB / 27.1 MB  3.20 MB/s  ETA 0:05  (2/3 file)`, fitted to its width.
 */
export class ProgressBar {
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly io: ModelsIo,
  ) {}

  update(p: PullProgress): void {
    // Not a terminal (a log, a pipe, a test): stderr keeps only notes and the one-line error.
    if (!this.io.errIsTty) return;
    this.io.err(`\r\x1b[2K${this.line(p, this.io.columns())}`);
    this.drawn = true;
  }

  /** End the redrawn line (before anything else is printed). */
  finish(): void {
    if (this.drawn) this.io.err('\n');
    this.drawn = false;
  }

  /** The figures of one progress event, fitted to `columns` (the file name is cut first, then the bar dropped). */
  line(p: PullProgress, columns: number): string {
    const pct = p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100)) : p.phase === 'done' ? 100 : 0;
    const bytes = p.bytesTotal > 0 ? `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone);
    const rate = p.rateBytesPerSec > 0 ? `${formatBytes(p.rateBytesPerSec)}/s` : '';
    const eta = p.phase === 'done' ? 'done' : p.phase !== 'downloading' ? p.phase : p.etaSec === null ? 'ETA --:--' : `ETA ${formatDuration(p.etaSec)}`;
    const what = p.phase === 'downloading' && p.file ? `(${p.fileIndex + 1}/${p.fileCount} ${p.file})` : '';
    const figures = [`${String(pct).padStart(3)}%`, bytes, rate, eta].filter(Boolean).join('  ');
    const max = Number.isFinite(columns) ? Math.max(10, columns - 1) : Infinity;
    const withBar = `${this.label} [${bar(pct, BAR_WIDTH)}]  ${figures}`;
    const core = withBar.length <= max ? withBar : `${this.label}  ${figures}`;
    const full = what ? `${core}  ${what}` : core;
    return full.length > max ? full.slice(0, max) : full;
  }
}

/** Cells of the bar itself. */
const BAR_WIDTH = 24;

function bar(pct: number, width: number): string {
  const full = Math.round((pct / 100) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}
