/**
 * The models as the model manager, the first-run screen and `omnifusion models list --json` show
 * them (describeModels): catalog and installed models with sizes, installed state, partial
 * downloads and the default choice for this machine. Reads the models folder; no service state.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelEntry, ModelProgress, ModelsCatalog } from '../../api/contract.js';
import {
  CatalogError,
  PARTIAL_DIR,
  approxDownloadBytes,
  defaultModelChoice,
  filesFor,
  findModel,
  listInstalled,
  type Catalog,
  type Dtype,
  type InstalledModel,
} from '../models/index.js';

/** Bytes of the files under `dir` (0 when it does not exist). */
async function folderBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const e of entries) {
    if (!e.isFile() || e.name.startsWith('.pull.json')) continue;
    const s = await stat(path.join(e.parentPath ?? e.path, e.name)).catch(() => undefined);
    total += s?.size ?? 0;
  }
  return total;
}

/** Bytes of an interrupted download of `id` kept for resume in `<modelsDir>/.partial/<id>/` (0: none). */
export function partialDownloadBytes(modelsDir: string, id: string): Promise<number> {
  return folderBytes(path.join(path.resolve(modelsDir), PARTIAL_DIR, id));
}

/** What describeModels needs to know. */
export interface ModelsView {
  /** The catalog; without it only installed models are listed and `catalogError` says why. */
  catalog?: Catalog;
  catalogError?: string;
  modelsDir: string;
  /** Physical memory the default model is chosen for (bytes). */
  ramBytes: number;
  activeId?: string | null;
  /** Progress of pulls running now, by model id. */
  pulling?: ReadonlyMap<string, ModelProgress>;
  /** The model loaded from a folder given at start (--model), when it is not an installed one: listed first, as in use. */
  startFolder?: { dir: string; name: string; family: string };
}

/**
 * The catalog as the model manager, the first-run screen and `omnifusion models list --json` show
 * it: each catalog model with its sizes, memory, strengths, licence and installed state (only
 * models whose every file verified count as installed), installed models the catalog does not
 * describe, the folder given at start when it is not installed (first, in use), and the default
 * model for a new user on this machine's CPU with its reason and size.
 */
export async function describeModels(view: ModelsView): Promise<ModelsCatalog> {
  const modelsDir = path.resolve(view.modelsDir);
  const installed = new Map<string, InstalledModel>((await listInstalled(modelsDir)).map((m) => [m.id, m]));
  const installedInfo = (m: InstalledModel | undefined): ModelEntry['installed'] =>
    m
      ? {
          ...(m.marker.dtype ? { dtype: m.marker.dtype } : {}),
          bytes: Object.values(m.marker.files).reduce((sum, f) => sum + f.bytes, 0),
          installedAt: m.marker.installedAt,
          from: m.marker.source.kind === 'hub' ? 'hub' : 'import',
          dir: m.dir,
        }
      : null;
  const partialBytes = (id: string): Promise<number> => partialDownloadBytes(modelsDir, id);
  const models: ModelEntry[] = [];
  for (const m of view.catalog?.models ?? []) {
    const variants = (Object.keys(m.dtypes) as Dtype[]).map((dtype) => {
      const size = approxDownloadBytes(m, dtype);
      const exact = filesFor(m, dtype).every((f) => f.bytes !== undefined);
      return { dtype, downloadBytes: size.bytes, exact, unknownSizeFiles: size.unknownFiles.length, memoryBytes: m.dtypes[dtype]!.memoryBytes };
    });
    const here = installed.get(m.id);
    models.push({
      id: m.id,
      name: m.name,
      family: m.family,
      description: m.description,
      strengths: [...m.strengths],
      licence: { ...m.licence },
      source: m.source.kind,
      ...(m.source.kind === 'hub' ? { repo: m.source.repo } : { exporter: m.source.exporter }),
      verified: m.verified,
      variants,
      defaultDtype: m.defaultDtype.cpu,
      installed: installedInfo(here),
      partialBytes: here ? 0 : await partialBytes(m.id),
      active: here !== undefined && view.activeId === m.id,
      pulling: view.pulling?.get(m.id) ?? null,
    });
  }
  const known = new Set(models.map((m) => m.id));
  for (const m of installed.values()) {
    if (known.has(m.id)) continue;
    models.push({
      id: m.id,
      name: m.marker.name,
      family: m.marker.family,
      description: m.marker.source.kind === 'import' ? `Imported from ${m.marker.source.from}` : `Downloaded from ${m.marker.source.repo}`,
      strengths: [],
      licence: { id: 'unknown' },
      source: 'local',
      verified: true,
      variants: [],
      defaultDtype: m.marker.dtype ?? '',
      installed: installedInfo(m),
      partialBytes: 0,
      active: view.activeId === m.id,
      pulling: view.pulling?.get(m.id) ?? null,
    });
  }
  const folder = view.startFolder;
  if (folder && ![...installed.values()].some((m) => path.resolve(m.dir) === path.resolve(folder.dir))) {
    models.unshift({
      id: `folder:${path.resolve(folder.dir)}`,
      name: folder.name || path.basename(folder.dir),
      family: folder.family,
      description: `Loaded from ${path.resolve(folder.dir)} (given at start with --model; not installed)`,
      strengths: [],
      licence: { id: 'unknown' },
      source: 'folder',
      folder: path.resolve(folder.dir),
      verified: false,
      variants: [],
      defaultDtype: '',
      installed: null,
      partialBytes: 0,
      active: true,
      pulling: null,
    });
  }
  let choice: ModelsCatalog['default'] = null;
  if (view.catalog) {
    try {
      const c = defaultModelChoice(view.catalog, { ramBytes: view.ramBytes, gpu: false });
      const model = findModel(view.catalog, c.id);
      choice = { id: c.id, dtype: c.dtype, reason: c.reason, downloadBytes: approxDownloadBytes(model, c.dtype).bytes, memoryBytes: model.dtypes[c.dtype]!.memoryBytes };
    } catch (err) {
      if (!(err instanceof CatalogError)) throw err;
    }
  }
  return {
    models,
    default: choice,
    activeId: view.activeId && installed.has(view.activeId) ? view.activeId : null,
    modelsDir,
    ramBytes: view.ramBytes,
    ...(view.catalogError ? { error: view.catalogError } : {}),
  };
}
