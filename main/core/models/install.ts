/**
 * Installed models under a models folder:
 *
 * ```
 * <modelsDir>/<id>/...files...        an installed model
 * <modelsDir>/<id>/installed.json     its marker, written last: only then is it installed
 * <modelsDir>/.partial/<id>/          a download or import in progress (kept for resume)
 * <modelsDir>/.partial/<id>.lock      held while one runs (holds the process id)
 * <modelsDir>/.trash/                 folders on their way out
 * ```
 *
 * A folder is listed as installed only with a valid marker whose files are all present at
 * their recorded sizes; a half-downloaded or unverified model never is.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ID_RE, isSafeRelativePath, filesFor, type Catalog, type CatalogModel, type Dtype } from './catalog.js';
import { ensureFreeSpace, type StatfsFn } from './disk.js';
import { ModelError } from './errors.js';
import { isSha256 } from './hash.js';
import { ProgressMeter, type PullProgress } from './progress.js';
import { GRAPH_NAMES, loadManifest, ModelPackageError, type ModelManifest } from '../../engine/package/manifest.js';

export const MARKER_FILE = 'installed.json';
export const PARTIAL_DIR = '.partial';
export const TRASH_DIR = '.trash';

/** Where an installed model came from. */
export type InstalledSource =
  | { kind: 'hub'; baseUrl: string; repo: string; revision: string }
  | { kind: 'import'; from: string; checkedAgainst: ImportCheck };

/** The content of `<modelsDir>/<id>/installed.json`. */
export interface InstalledMarker {
  format: 'omnifusion-installed-model';
  format_version: 1;
  id: string;
  name: string;
  family: string;
  /** Weight format installed (catalog dtype), when known. */
  dtype?: string;
  source: InstalledSource;
  /** Every file of the model, verified before install: size (bytes) and content sha256. */
  files: Record<string, { bytes: number; sha256: string }>;
  /** ISO 8601 time of install. */
  installedAt: string;
}

/** A model listed by listInstalled. */
export interface InstalledModel {
  id: string;
  /** Absolute path of the model folder. */
  dir: string;
  marker: InstalledMarker;
}

/** Folder of an installed model. @throws ModelError invalid_argument for a bad id. */
export function modelDir(modelsDir: string, id: string): string {
  assertId(id);
  return path.join(path.resolve(modelsDir), id);
}

/** Folder of a download or import in progress. @throws ModelError invalid_argument for a bad id. */
export function partialDir(modelsDir: string, id: string): string {
  assertId(id);
  return path.join(path.resolve(modelsDir), PARTIAL_DIR, id);
}

/** @throws ModelError('invalid_argument') unless `id` is a valid model id. */
export function assertId(id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new ModelError('invalid_argument', `invalid model id ${JSON.stringify(id)} (use 1-64 of a-z 0-9 . _ -, starting with a letter or digit)`);
  }
}

/**
 * Parse a marker and check its shape; undefined if it is not a valid marker for `id`.
 */
export function parseMarker(text: string, id: string): InstalledMarker | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const marker = m as InstalledMarker;
  if (marker.format !== 'omnifusion-installed-model' || marker.format_version !== 1 || marker.id !== id) return undefined;
  if (typeof marker.name !== 'string' || typeof marker.family !== 'string' || typeof marker.installedAt !== 'string') return undefined;
  if (typeof marker.source !== 'object' || marker.source === null) return undefined;
  if (typeof marker.files !== 'object' || marker.files === null || Object.keys(marker.files).length === 0) return undefined;
  for (const [p, f] of Object.entries(marker.files)) {
    if (!isSafeRelativePath(p) || p === MARKER_FILE) return undefined;
    if (!f || !Number.isSafeInteger(f.bytes) || f.bytes < 0 || !isSha256(f.sha256)) return undefined;
  }
  return marker;
}

/**
 * The marker of an installed model, if `<modelsDir>/<id>` is installed: a valid marker and every
 * file present at its recorded size (content is not re-hashed; see verifyInstalled).
 */
export async function readInstalled(modelsDir: string, id: string): Promise<InstalledModel | undefined> {
  const dir = modelDir(modelsDir, id);
  const text = await readFile(path.join(dir, MARKER_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const marker = parseMarker(text, id);
  if (!marker) return undefined;
  for (const [p, f] of Object.entries(marker.files)) {
    const s = await stat(path.join(dir, p)).catch(() => undefined);
    if (!s?.isFile() || s.size !== f.bytes) return undefined;
  }
  return { id, dir, marker };
}

/**
 * Installed models, sorted by id. Lists only folders with a valid `installed.json` whose files
 * are all present at their recorded sizes; `.partial`, `.trash` and anything else are skipped.
 * A models folder that does not exist yet lists nothing.
 */
export async function listInstalled(modelsDir: string): Promise<InstalledModel[]> {
  const entries = await readdir(path.resolve(modelsDir), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const out: InstalledModel[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || !ID_RE.test(e.name)) continue;
    const m = await readInstalled(modelsDir, e.name);
    if (m) out.push(m);
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Re-hash every file of an installed model against its marker.
 * @returns the paths whose size or sha256 differ (empty when intact).
 * @throws ModelError not_installed.
 */
export async function verifyInstalled(modelsDir: string, id: string, signal?: AbortSignal): Promise<string[]> {
  const m = await readInstalled(modelsDir, id);
  if (!m) throw new ModelError('not_installed', `model "${id}" is not installed in ${path.resolve(modelsDir)}`);
  const bad: string[] = [];
  for (const [p, f] of Object.entries(m.marker.files)) {
    const h = createHash('sha256');
    try {
      for await (const chunk of createReadStream(path.join(m.dir, p), { signal })) h.update(chunk as Buffer);
      if (h.digest('hex') !== f.sha256) bad.push(p);
    } catch (err) {
      if (signal?.aborted) throw err;
      bad.push(p);
    }
  }
  return bad;
}

/**
 * Move a fully verified staging folder into `<modelsDir>/<id>/` and write the marker last.
 * An older install of the same id is moved aside first and deleted afterwards. Only the files
 * the marker lists (and their folders) are kept; other staging leftovers are removed.
 * @throws ModelError invalid_package when a listed file is missing or has another size.
 */
export async function installStaged(modelsDir: string, stagingDir: string, marker: InstalledMarker): Promise<InstalledModel> {
  const target = modelDir(modelsDir, marker.id);
  for (const [p, f] of Object.entries(marker.files)) {
    const s = await stat(path.join(stagingDir, p)).catch(() => undefined);
    if (!s?.isFile() || s.size !== f.bytes) throw new ModelError('invalid_package', `${p} is missing or incomplete in ${stagingDir}; not installed`);
  }
  await pruneUnlisted(stagingDir, new Set(Object.keys(marker.files)));
  const old = await stat(target).catch(() => undefined);
  let trashed: string | undefined;
  if (old) trashed = await moveToTrash(modelsDir, target, marker.id);
  await rename(stagingDir, target);
  const tmp = path.join(target, `${MARKER_FILE}.tmp`);
  await writeFile(tmp, `${JSON.stringify(marker, null, 2)}\n`);
  await rename(tmp, path.join(target, MARKER_FILE));
  if (trashed) await rm(trashed, { recursive: true, force: true }).catch(() => {});
  return { id: marker.id, dir: target, marker };
}

/** Remove files and folders under `dir` not in `keep` (relative POSIX paths). */
async function pruneUnlisted(dir: string, keep: Set<string>): Promise<void> {
  const keepDirs = new Set<string>();
  for (const p of keep) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) keepDirs.add(parts.slice(0, i).join('/'));
  }
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && keepDirs.has(r)) await walk(r);
      else if (!keep.has(r) || !e.isFile()) await rm(path.join(dir, r), { recursive: true, force: true });
    }
  };
  await walk('');
}

async function moveToTrash(modelsDir: string, folder: string, id: string): Promise<string> {
  const trash = path.join(path.resolve(modelsDir), TRASH_DIR);
  await mkdir(trash, { recursive: true });
  const dest = path.join(trash, `${id}-${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await rename(folder, dest);
  return dest;
}

/**
 * Remove an installed model and any partial download of it.
 * @returns what was removed.
 * @throws ModelError busy (a pull or import of it is running), not_installed (nothing to remove).
 */
export async function removeModel(modelsDir: string, id: string): Promise<{ installed: boolean; partial: boolean }> {
  assertId(id);
  const holder = await lockHolder(modelsDir, id);
  if (holder !== undefined) throw new ModelError('busy', `model "${id}" is being downloaded or imported (process ${holder}); cancel that first`);
  const target = modelDir(modelsDir, id);
  const partial = partialDir(modelsDir, id);
  // Only a folder we installed (it has our marker, even if a file was damaged since) is ours to
  // delete: anything else the user keeps in the models folder stays untouched.
  const markerText = await readFile(path.join(target, MARKER_FILE), 'utf8').catch(() => undefined);
  const hasTarget = markerText !== undefined && parseMarker(markerText, id) !== undefined;
  const hasPartial = await stat(partial).then((s) => s.isDirectory(), () => false);
  if (!hasTarget && !hasPartial) throw new ModelError('not_installed', `model "${id}" is not installed in ${path.resolve(modelsDir)}`);
  if (hasTarget) {
    // Unlist first (marker gone), then move aside and delete, so a crash never leaves a listed half-model.
    await unlink(path.join(target, MARKER_FILE)).catch(() => {});
    const trashed = await moveToTrash(modelsDir, target, id);
    await rm(trashed, { recursive: true, force: true });
  }
  if (hasPartial) await rm(partial, { recursive: true, force: true });
  return { installed: hasTarget, partial: hasPartial };
}

// ---------------------------------------------------------------------------------------------
// Locks: one pull or import per model id at a time (across processes).

/** Path of the lock file of a model's download or import. */
export function lockPath(modelsDir: string, id: string): string {
  assertId(id);
  return path.join(path.resolve(modelsDir), PARTIAL_DIR, `${id}.lock`);
}

async function lockHolder(modelsDir: string, id: string): Promise<number | undefined> {
  const text = await readFile(lockPath(modelsDir, id), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const pid = Number.parseInt(text, 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/**
 * Take the lock of a model id (a file holding this process id); a stale lock of a dead process
 * is taken over.
 * @returns a release function.
 * @throws ModelError busy when a live process holds it.
 */
export async function acquireLock(modelsDir: string, id: string): Promise<() => Promise<void>> {
  const file = lockPath(modelsDir, id);
  await mkdir(path.dirname(file), { recursive: true });
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        await unlink(file).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await lockHolder(modelsDir, id);
      if (holder !== undefined) throw new ModelError('busy', `model "${id}" is already being downloaded or imported (process ${holder})`);
      await unlink(file).catch(() => {});
    }
  }
  throw new ModelError('busy', `could not take the lock ${file}`);
}

// ---------------------------------------------------------------------------------------------
// Offline import.

/** Options of importModel. */
export interface ImportOptions {
  modelsDir: string;
  /** Catalog to check a folder without a package manifest against (by `id`). */
  catalog?: Catalog;
  /** Model id to install as (default: the catalog id, or the package manifest's name). */
  id?: string;
  /** Catalog dtype of the folder (default: the source marker's, else the model's CPU default). */
  dtype?: Dtype;
  /**
   * Replace a model already installed under the same id (default false: refused with ModelError
   * 'invalid_argument', `details.alreadyInstalled` true, and nothing is touched).
   */
  replace?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** Minimum time between progress events (ms, default 250). */
  progressIntervalMs?: number;
  statfs?: StatfsFn;
}

/**
 * What an import checked the files against: a package manifest, the catalog, a copied
 * installed.json, or nothing but the engine loading the folder ('loaded': a folder of the user's
 * own, hashed on the way in so later `models verify` runs have checksums).
 */
export type ImportCheck = 'manifest' | 'catalog' | 'marker' | 'loaded';

/** How the CLI and the app say what an import was checked against. */
export function describeImportCheck(check: ImportCheck): string {
  return {
    manifest: 'every file checked against its manifest',
    catalog: 'every file checked against the catalog',
    marker: 'every file checked against its installed.json',
    loaded: 'no checksums to check against: the folder loads as a model and its files were hashed for later checks',
  }[check];
}

interface ImportPlanFile {
  path: string;
  bytes: number;
  /** Expected sha256; undefined only for the package manifest itself (the root of trust). */
  sha256?: string;
}

/**
 * Install a model from a local folder, offline: copy it into the models folder, hashing every
 * file while copying, and install it only if all match. What they are checked against, first
 * that applies:
 *
 * 1. the folder's model package `manifest.json` (format omnifusion-model-package) and its
 *    `files` sizes and sha256 (the manifest itself is copied as is);
 * 2. the catalog entry `options.id` (or the id in the folder's `installed.json`): its sha256 and
 *    sizes, else those of the folder's `installed.json` when it was downloaded from the same
 *    repository and revision (a model folder copied from another machine);
 * 3. the folder's `installed.json` alone (a copied model folder that no catalog knows).
 *
 * Free space is checked before anything is written. A model already installed under the id is
 * replaced only with `replace` (the old one stays until the new one is verified); a folder under
 * that id that we did not install (no marker of ours) is never replaced.
 * @throws ModelError invalid_package (nothing to check against, missing file, wrong size),
 *   invalid_argument (the id is installed and `replace` is not set: `details.alreadyInstalled`; or
 *   a folder of someone else's is in the way), checksum_mismatch, unverifiable (no sha256 for a
 *   file), disk_full, busy, cancelled.
 */
export async function importModel(dir: string, options: ImportOptions): Promise<InstalledModel> {
  const src = path.resolve(dir);
  const srcStat = await stat(src).catch(() => undefined);
  if (!srcStat?.isDirectory()) throw new ModelError('invalid_package', `${src} is not a folder`);
  const plan = await planImport(src, options);
  assertId(plan.id);
  let total = 0;
  for (const f of plan.files) {
    const s = await stat(path.join(src, f.path)).catch(() => undefined);
    if (!s?.isFile()) throw new ModelError('invalid_package', `${src}: file "${f.path}" is missing`);
    if (s.size !== f.bytes) throw new ModelError('invalid_package', `${src}: "${f.path}" is ${s.size} bytes, expected ${f.bytes}`);
    total += f.bytes;
  }
  await checkImportTarget(options.modelsDir, plan.id, options.replace === true);
  await ensureFreeSpace(options.modelsDir, total, `importing ${plan.id}`, { statfs: options.statfs });
  const release = await acquireLock(options.modelsDir, plan.id);
  try {
    // Again under the lock: a pull or import of the same id may have finished meanwhile.
    await checkImportTarget(options.modelsDir, plan.id, options.replace === true);
  } catch (err) {
    await release();
    throw err;
  }
  const staging = partialDir(options.modelsDir, plan.id);
  const meter = new ProgressMeter(plan.id, plan.files.length, options.onProgress, options.progressIntervalMs ?? 250);
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    meter.start(total, 0);
    const files: InstalledMarker['files'] = {};
    for (const [i, f] of plan.files.entries()) {
      meter.phase('downloading', f.path, i);
      const dest = path.join(staging, f.path);
      await mkdir(path.dirname(dest), { recursive: true });
      const h = createHash('sha256');
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          h.update(chunk);
          meter.add(chunk.length);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(createReadStream(path.join(src, f.path)), tap, createWriteStream(dest), { signal: options.signal });
      } catch (err) {
        if (options.signal?.aborted) throw new ModelError('cancelled', `import of ${plan.id} cancelled`, { cause: err });
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new ModelError('disk_full', `the disk became full while importing ${f.path} into ${options.modelsDir}`, { cause: err });
        throw err;
      }
      const sha256 = h.digest('hex');
      if (f.sha256 !== undefined && sha256 !== f.sha256) {
        throw new ModelError('checksum_mismatch', `${path.join(src, f.path)} does not match ${{ manifest: 'its manifest', catalog: 'the catalog', marker: 'its installed.json', loaded: 'its size' }[plan.checkedAgainst]}: sha256 ${sha256}, expected ${f.sha256}; not imported`);
      }
      files[f.path] = { bytes: f.bytes, sha256 };
    }
    meter.phase('installing');
    const marker: InstalledMarker = {
      format: 'omnifusion-installed-model',
      format_version: 1,
      id: plan.id,
      name: plan.name,
      family: plan.family,
      ...(plan.dtype !== undefined ? { dtype: plan.dtype } : {}),
      source: { kind: 'import', from: src, checkedAgainst: plan.checkedAgainst },
      files,
      installedAt: new Date().toISOString(),
    };
    const installed = await installStaged(options.modelsDir, staging, marker);
    meter.phase('done');
    return installed;
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw err;
  } finally {
    await release();
  }
}

/**
 * Whether an import may install under `id`: nothing there, or a model we installed and `replace`.
 * @throws ModelError invalid_argument (`details.alreadyInstalled` when it is an installed model).
 */
async function checkImportTarget(modelsDir: string, id: string, replace: boolean): Promise<void> {
  const target = modelDir(modelsDir, id);
  const there = await stat(target).catch(() => undefined);
  if (!there) return;
  const markerText = await readFile(path.join(target, MARKER_FILE), 'utf8').catch(() => undefined);
  const ours = markerText !== undefined && parseMarker(markerText, id) !== undefined;
  if (!ours) {
    throw new ModelError('invalid_argument', `${target} is in the way: it is not a model OmniFusion installed; move it away or import under another id`, {
      details: { id, inTheWay: true },
    });
  }
  if (!replace) {
    throw new ModelError('invalid_argument', `model "${id}" is already installed in ${target}`, { details: { id, alreadyInstalled: true } });
  }
}

/** Whether `err` is importModel's refusal to replace an installed model without `replace`. */
export function isAlreadyInstalled(err: unknown): err is ModelError {
  return err instanceof ModelError && err.details.alreadyInstalled === true;
}

interface ImportPlan {
  id: string;
  name: string;
  family: string;
  dtype?: string;
  checkedAgainst: ImportCheck;
  files: ImportPlanFile[];
}

async function planImport(src: string, options: ImportOptions): Promise<ImportPlan> {
  const manifest = await readJson(path.join(src, 'manifest.json'));
  if (manifest !== undefined && (manifest as { format?: unknown }).format === 'omnifusion-model-package') {
    const m = manifest as { name?: unknown; family?: unknown; files?: Record<string, { bytes?: unknown; sha256?: unknown }> };
    if (!m.files || typeof m.files !== 'object' || Object.keys(m.files).length === 0) {
      throw new ModelError('invalid_package', `${src}/manifest.json lists no files with checksums; cannot verify the package`);
    }
    const files: ImportPlanFile[] = [];
    for (const [p, f] of Object.entries(m.files)) {
      if (!isSafeRelativePath(p) || p === MARKER_FILE || p === 'manifest.json') throw new ModelError('invalid_package', `${src}/manifest.json: files names an unsafe path ${JSON.stringify(p)}`);
      if (!Number.isSafeInteger(f?.bytes) || !isSha256(f?.sha256)) throw new ModelError('invalid_package', `${src}/manifest.json: files["${p}"] needs bytes and a sha256`);
      files.push({ path: p, bytes: f.bytes as number, sha256: f.sha256 as string });
    }
    const manifestSize = (await stat(path.join(src, 'manifest.json'))).size;
    files.unshift({ path: 'manifest.json', bytes: manifestSize });
    const name = typeof m.name === 'string' ? m.name : path.basename(src);
    const catalogModel = options.id && options.catalog ? options.catalog.models.find((x) => x.id === options.id) : undefined;
    if (catalogModel && typeof m.family === 'string' && m.family !== catalogModel.family) {
      throw new ModelError('invalid_package', `${src} holds a model of family "${m.family}", but "${catalogModel.id}" in the catalog is family "${catalogModel.family}"; import it under another id`);
    }
    const id = options.id ?? name;
    if (!ID_RE.test(id)) {
      throw new ModelError(
        'invalid_argument',
        options.id !== undefined
          ? `--id ${JSON.stringify(options.id)} is not a valid model id (lower-case letters, digits, ".", "-" and "_")`
          : `the package name ${JSON.stringify(name)} is not a valid model id; pass an id to import it as`,
      );
    }
    return { id, name: catalogModel?.name ?? name, family: String(m.family ?? catalogModel?.family ?? 'unknown'), checkedAgainst: 'manifest', files };
  }
  const srcMarker = await readJson(path.join(src, MARKER_FILE));
  const markerId = typeof (srcMarker as { id?: unknown } | undefined)?.id === 'string' ? (srcMarker as { id: string }).id : undefined;
  const marker = markerId !== undefined ? parseMarker(JSON.stringify(srcMarker), markerId) : undefined;
  const id = options.id ?? marker?.id;
  const entry: CatalogModel | undefined = id !== undefined ? options.catalog?.models.find((x) => x.id === id) : undefined;
  if (entry) {
    const dtype = options.dtype ?? (marker?.dtype as Dtype | undefined) ?? entry.defaultDtype.cpu;
    if (marker?.source.kind === 'hub' && entry.source.kind === 'hub' && (marker.source.repo !== entry.source.repo || marker.source.revision !== entry.source.revision)) {
      throw new ModelError('invalid_package', `${src} was downloaded from ${marker.source.repo}@${marker.source.revision}, but the catalog pins ${entry.source.repo}@${entry.source.revision} for "${entry.id}"`);
    }
    const files: ImportPlanFile[] = [];
    for (const f of filesFor(entry, dtype)) {
      const fromMarker = marker?.files[f.path];
      const sha256 = f.sha256 ?? fromMarker?.sha256;
      if (sha256 === undefined) {
        throw new ModelError('unverifiable', `cannot verify ${f.path} offline: the catalog has no sha256 for it and ${src} has no installed.json listing one (pull "${entry.id}" instead)`);
      }
      const s = await stat(path.join(src, f.path)).catch(() => undefined);
      const bytes = f.bytes ?? fromMarker?.bytes ?? s?.size;
      if (bytes === undefined) throw new ModelError('invalid_package', `${src}: file "${f.path}" is missing`);
      files.push({ path: f.path, bytes, sha256 });
    }
    return { id: entry.id, name: entry.name, family: entry.family, dtype, checkedAgainst: 'catalog', files };
  }
  if (marker) {
    const files = Object.entries(marker.files).map(([p, f]) => ({ path: p, bytes: f.bytes, sha256: f.sha256 }));
    return { id: options.id ?? marker.id, name: marker.name, family: marker.family, ...(marker.dtype ? { dtype: marker.dtype } : {}), checkedAgainst: 'marker', files };
  }
  const ownFolder = await planOwnHfFolder(src, options);
  if (ownFolder) return ownFolder;
  if (id !== undefined && options.catalog) {
    throw new ModelError('invalid_package', `unknown model "${id}" (known: ${options.catalog.models.map((x) => x.id).join(', ')})`);
  }
  throw new ModelError(
    'invalid_package',
    `${src} has no model package manifest.json with checksums, no installed.json and no config.json of an onnx-community model, and no catalog id was given to check it against`,
  );
}

/**
 * An onnx-community folder of the user's own (config.json and onnx/ graphs, e.g. from
 * `huggingface-cli download`) that no manifest, catalog entry or installed.json vouches for: it is
 * accepted when the engine can read it as a model (the same check `ask` makes before loading),
 * under `options.id`, else the folder's name. What is copied: the top-level files (configs,
 * tokenizer, chat template, model card) and, of onnx/, only the variant chosen by `options.dtype`
 * (the engine's default otherwise) with its external-data files, so a folder holding every
 * quantisation does not fill the disk. Undefined when `src` has no config.json.
 * @throws ModelError invalid_package with the engine's one-line reason; invalid_argument for an id.
 */
async function planOwnHfFolder(src: string, options: ImportOptions): Promise<ImportPlan | undefined> {
  const config = await stat(path.join(src, 'config.json')).catch(() => undefined);
  if (!config?.isFile()) return undefined;
  let manifest: ModelManifest;
  try {
    manifest = await loadManifest(src, options.dtype !== undefined ? { dtype: options.dtype } : {});
  } catch (err) {
    if (err instanceof ModelPackageError) throw new ModelError('invalid_package', `${err.message}; not imported`);
    throw err;
  }
  const id = options.id ?? path.basename(src).toLowerCase();
  if (!ID_RE.test(id)) {
    throw new ModelError(
      'invalid_argument',
      options.id !== undefined
        ? `--id ${JSON.stringify(options.id)} is not a valid model id (lower-case letters, digits, ".", "-" and "_")`
        : `the folder name ${JSON.stringify(path.basename(src))} is not a valid model id; pass an id to import it as`,
    );
  }
  const graphFiles = GRAPH_NAMES.map((g) => manifest.graphs[g].file);
  const files: ImportPlanFile[] = [];
  const add = async (relative: string): Promise<void> => {
    const s = await stat(path.join(src, relative));
    if (s.isFile()) files.push({ path: relative, bytes: s.size });
  };
  for (const entry of await readdir(src, { withFileTypes: true })) {
    if (entry.isFile() && !entry.name.startsWith('.') && entry.name !== MARKER_FILE) await add(entry.name);
  }
  for (const graph of graphFiles) {
    const dir = path.dirname(graph);
    const base = path.basename(graph);
    // A graph and its external data (model.onnx_data, model.onnx.data, model.onnx_data_1, …).
    for (const name of await readdir(path.join(src, dir))) {
      if (name.startsWith(base)) await add(path.join(dir, name));
    }
  }
  const dtypes = new Set('dtypes' in manifest ? GRAPH_NAMES.map((g) => manifest.dtypes[g]) : []);
  return {
    id,
    name: manifest.name,
    family: manifest.family,
    ...(dtypes.size === 1 ? { dtype: [...dtypes][0]! } : {}),
    checkedAgainst: 'loaded',
    files,
  };
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelError('invalid_package', `${file}: invalid JSON`);
  }
}
