/**
 * The model catalog (resources/catalog.json): which models a user can get, where from, what
 * they weigh and what they are good at. Typed loader, validation with one-line errors, and the
 * choice of a default model for a new user.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resourcePath } from '../../base/resources.js';
import { isSha256 } from './hash.js';

/** Model families the engine knows (one family module each). */
export const MODEL_FAMILIES = ['omnifusion', 'idefics3', 'llava'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** What a model is good at, for the model manager and the default choice. */
export const STRENGTHS = ['documents', 'handwriting', 'formulas', 'general'] as const;
export type Strength = (typeof STRENGTHS)[number];

/**
 * Weight formats, named as transformers.js names them (file suffix in parentheses):
 * fp32 (none), fp16 (_fp16), int8 (_int8), uint8 (_uint8), q8 (_quantized), q4 (_q4),
 * q4f16 (_q4f16), bnb4 (_bnb4).
 */
export const DTYPES = ['fp32', 'fp16', 'int8', 'uint8', 'q8', 'q4', 'q4f16', 'bnb4'] as const;
export type Dtype = (typeof DTYPES)[number];

/** One file of a model, by its path in the repository (POSIX, relative). */
export interface CatalogFile {
  path: string;
  /** Exact size in bytes, when known; pull then checks the server agrees. */
  bytes?: number;
  /**
   * Approximate size in bytes (the Hub's rounded listing, or an estimate the entry's notes
   * explain). Only for size estimates shown before a pull and for memory estimates; a pull
   * asks the server for the exact size.
   */
  approxBytes?: number;
  /** Content sha256 (lowercase hex), when known; otherwise pull verifies against the Hub's X-Linked-ETag / git ETag. */
  sha256?: string;
}

/** A weight format of a model: the graph files it needs beyond the common files, and its memory need. */
export interface CatalogVariant {
  /** Paths (entries of `files`) of the graphs, with their external data files. */
  files: string[];
  /** Estimated peak resident memory to run this variant (bytes); see the entry's notes for the basis. */
  memoryBytes: number;
}

/** Where a model comes from. */
export type CatalogSource =
  | {
      kind: 'hub';
      /** "owner/name" on the Hub. */
      repo: string;
      /** The pinned commit (40 hex digits); files are fetched at this revision. */
      revision: string;
    }
  | {
      kind: 'export';
      /** How to produce the package locally (a command line). */
      exporter: string;
      /** The public checkpoints the export reads (Hub repositories). */
      checkpoints: string[];
    };

/** One model of the catalog. */
export interface CatalogModel {
  /** Stable id: lowercase letters, digits, '.', '_' and '-' (folder name under the models dir). */
  id: string;
  name: string;
  family: ModelFamily;
  description: string;
  source: CatalogSource;
  licence: { id: string; url?: string; note?: string };
  strengths: Strength[];
  /** Every file any variant needs. */
  files: CatalogFile[];
  /** Paths (entries of `files`) every variant needs: configs and tokenizer. */
  common: string[];
  /** Weight formats offered. */
  dtypes: Partial<Record<Dtype, CatalogVariant>>;
  /** The variant to use on a CPU and on a GPU. */
  defaultDtype: { cpu: Dtype; gpu: Dtype };
  /**
   * False when the file list was not checked against the pinned revision (a pull then fails
   * with "<file> not found in <repo>@<rev>" if a name is wrong). Never chosen as a default.
   */
  verified: boolean;
  /** Lower is preferred among models that fit, when choosing a default. */
  defaultPriority?: number;
  /** Sources and caveats of the facts above. */
  notes?: string[];
}

/** A parsed catalog.json. */
export interface Catalog {
  format: 'omnifusion-model-catalog';
  format_version: 1;
  notes?: string[];
  models: CatalogModel[];
}

/** A problem with the catalog; `message` is one line naming the source, the entry and the field. */
export class CatalogError extends Error {
  override name = 'CatalogError';
}

/**
 * resources/catalog.json of this checkout or build (see resourcePath). A packaged app that keeps
 * the catalog elsewhere passes its own path to loadCatalog.
 */
export const DEFAULT_CATALOG_PATH = resourcePath(import.meta.url, 'catalog.json');

/**
 * Read and validate a catalog file.
 * @param file path of catalog.json (default: resources/catalog.json of this checkout).
 * @throws CatalogError (one line) for a missing file, invalid JSON or an invalid entry.
 */
export async function loadCatalog(file: string = DEFAULT_CATALOG_PATH): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CatalogError(`${file}: cannot read the model catalog (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseCatalog(text, file);
}

/** loadCatalog, synchronously (for startup code that cannot await). */
export function loadCatalogSync(file: string = DEFAULT_CATALOG_PATH): Catalog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError(`${file}: cannot read the model catalog (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseCatalog(text, file);
}

/**
 * Parse and validate catalog JSON text.
 * @param source named in error messages (a path or "catalog").
 * @throws CatalogError (one line).
 */
export function parseCatalog(text: string, source = 'catalog'): Catalog {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CatalogError(`${source}: invalid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return validateCatalog(data, source);
}

/** A model id: also its folder name under the models folder, so no path separators. */
export const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const REVISION_RE = /^[0-9a-f]{40}$/;
const MODEL_KEYS = new Set([
  'id', 'name', 'family', 'description', 'source', 'licence', 'strengths', 'files', 'common', 'dtypes', 'defaultDtype', 'verified', 'defaultPriority', 'notes',
]);
/** File names the installer writes into a model folder; a model file may not use them. */
export const RESERVED_FILE_NAMES = new Set(['installed.json']);

/**
 * Whether `p` is a safe relative POSIX path inside a model folder: no absolute path, no '..'
 * or '.' segments, no backslashes, no empty segments, no leading '.' in the first segment.
 */
export function isSafeRelativePath(p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 512) return false;
  if (p.startsWith('/') || p.includes('\\') || p.includes('\0') || /^[A-Za-z]:/.test(p)) return false;
  const parts = p.split('/');
  if (parts[0]!.startsWith('.')) return false;
  return parts.every((s) => s !== '' && s !== '.' && s !== '..');
}

/**
 * Check a parsed catalog.
 * @throws CatalogError "<source>: models[i] (\"id\"): <field> <problem>" on the first problem.
 */
export function validateCatalog(data: unknown, source = 'catalog'): Catalog {
  const fail = (what: string): never => {
    throw new CatalogError(`${source}: ${what}`.replace(/\s*\n\s*/g, ' '));
  };
  if (!isObject(data)) fail('the catalog must be a JSON object');
  const c = data as Record<string, unknown>;
  if (c.format !== 'omnifusion-model-catalog') fail(`format must be "omnifusion-model-catalog", got ${JSON.stringify(c.format)}`);
  if (c.format_version !== 1) fail(`format_version ${JSON.stringify(c.format_version)} is not supported (expected 1)`);
  if (c.notes !== undefined && !isStringArray(c.notes)) fail('notes must be a list of strings');
  if (!Array.isArray(c.models) || c.models.length === 0) fail('models must be a non-empty list');
  const ids = new Set<string>();
  (c.models as unknown[]).forEach((m, i) => {
    const label = isObject(m) && typeof m.id === 'string' ? `models[${i}] ("${m.id}")` : `models[${i}]`;
    validateModel(m, (what) => fail(`${label}: ${what}`));
    const id = (m as CatalogModel).id;
    if (ids.has(id)) fail(`${label}: id "${id}" appears twice`);
    ids.add(id);
  });
  return data as Catalog;
}

function validateModel(m: unknown, fail: (what: string) => never): void {
  if (!isObject(m)) fail('must be an object');
  const e = m as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!MODEL_KEYS.has(key)) fail(`unknown field "${key}"`);
  if (typeof e.id !== 'string' || !ID_RE.test(e.id)) fail(`id must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit), got ${JSON.stringify(e.id)}`);
  if (!nonEmptyString(e.name)) fail('name must be a non-empty string');
  if (!MODEL_FAMILIES.includes(e.family as ModelFamily)) fail(`family must be one of ${MODEL_FAMILIES.join(', ')}, got ${JSON.stringify(e.family)}`);
  if (typeof e.description !== 'string') fail('description must be a string');
  validateSource(e.source, fail);
  const licence = e.licence;
  if (!isObject(licence) || !nonEmptyString(licence.id)) fail('licence.id must be a non-empty string');
  if (!Array.isArray(e.strengths) || e.strengths.length === 0) fail('strengths must be a non-empty list');
  for (const s of e.strengths as unknown[]) {
    if (!STRENGTHS.includes(s as Strength)) fail(`strengths: ${JSON.stringify(s)} is not one of ${STRENGTHS.join(', ')}`);
  }
  if (!Array.isArray(e.files) || e.files.length === 0) fail('files must be a non-empty list');
  const paths = new Set<string>();
  (e.files as unknown[]).forEach((f, j) => {
    const where = `files[${j}]`;
    if (!isObject(f)) fail(`${where} must be an object`);
    const file = f as Record<string, unknown>;
    if (!isSafeRelativePath(file.path)) fail(`${where}.path ${JSON.stringify(file.path)} is not a safe relative path`);
    const p = file.path as string;
    if (RESERVED_FILE_NAMES.has(p)) fail(`${where}.path "${p}" is reserved for the installer`);
    if (paths.has(p)) fail(`${where}.path "${p}" appears twice`);
    paths.add(p);
    if (file.bytes !== undefined && !isByteCount(file.bytes)) fail(`${where} ("${p}").bytes must be a whole number ≥ 0, got ${JSON.stringify(file.bytes)}`);
    if (file.approxBytes !== undefined && !isByteCount(file.approxBytes)) fail(`${where} ("${p}").approxBytes must be a whole number ≥ 0, got ${JSON.stringify(file.approxBytes)}`);
    if (file.sha256 !== undefined && !isSha256(file.sha256)) fail(`${where} ("${p}").sha256 must be 64 lowercase hex digits, got ${JSON.stringify(file.sha256)}`);
    for (const key of Object.keys(file)) if (!['path', 'bytes', 'approxBytes', 'sha256'].includes(key)) fail(`${where} ("${p}"): unknown field "${key}"`);
  });
  if (!isStringArray(e.common)) fail('common must be a list of file paths');
  for (const p of e.common as string[]) if (!paths.has(p)) fail(`common names "${p}", which files lacks`);
  if (!isObject(e.dtypes) || Object.keys(e.dtypes).length === 0) fail('dtypes must name at least one weight format');
  for (const [dtype, v] of Object.entries(e.dtypes as Record<string, unknown>)) {
    if (!DTYPES.includes(dtype as Dtype)) fail(`dtypes: "${dtype}" is not one of ${DTYPES.join(', ')}`);
    if (!isObject(v)) fail(`dtypes.${dtype} must be an object`);
    const variant = v as Record<string, unknown>;
    if (!isStringArray(variant.files) || variant.files.length === 0) fail(`dtypes.${dtype}.files must be a non-empty list of file paths`);
    for (const p of variant.files as string[]) if (!paths.has(p)) fail(`dtypes.${dtype}.files names "${p}", which files lacks`);
    if (!isByteCount(variant.memoryBytes) || (variant.memoryBytes as number) <= 0) fail(`dtypes.${dtype}.memoryBytes must be a whole number of bytes > 0, got ${JSON.stringify(variant.memoryBytes)}`);
  }
  const dd = e.defaultDtype;
  if (!isObject(dd)) fail('defaultDtype must be an object {cpu, gpu}');
  for (const side of ['cpu', 'gpu'] as const) {
    const d = (dd as Record<string, unknown>)[side];
    if (typeof d !== 'string' || !(d in (e.dtypes as object))) fail(`defaultDtype.${side} ${JSON.stringify(d)} is not one of this model's dtypes`);
  }
  if (typeof e.verified !== 'boolean') fail('verified must be true or false');
  if (e.defaultPriority !== undefined && (typeof e.defaultPriority !== 'number' || !Number.isFinite(e.defaultPriority))) fail('defaultPriority must be a number');
  if (e.notes !== undefined && !isStringArray(e.notes)) fail('notes must be a list of strings');
}

function validateSource(s: unknown, fail: (what: string) => never): void {
  if (!isObject(s)) fail('source must be an object');
  const src = s as Record<string, unknown>;
  if (src.kind === 'hub') {
    if (typeof src.repo !== 'string' || !REPO_RE.test(src.repo)) fail(`source.repo must be "owner/name", got ${JSON.stringify(src.repo)}`);
    if (typeof src.revision !== 'string' || !REVISION_RE.test(src.revision)) fail(`source.revision must be a commit sha (40 lowercase hex digits), got ${JSON.stringify(src.revision)}`);
  } else if (src.kind === 'export') {
    if (!nonEmptyString(src.exporter)) fail('source.exporter must be a non-empty string');
    if (!isStringArray(src.checkpoints) || src.checkpoints.length === 0) fail('source.checkpoints must be a non-empty list');
  } else {
    fail(`source.kind must be "hub" or "export", got ${JSON.stringify(src.kind)}`);
  }
}

/**
 * A catalog model by id.
 * @throws CatalogError `unknown model "<id>" (known: a, b, c)`.
 */
export function findModel(catalog: Catalog, id: string): CatalogModel {
  const m = catalog.models.find((x) => x.id === id);
  if (!m) throw new CatalogError(`unknown model "${id}" (known: ${catalog.models.map((x) => x.id).join(', ')})`);
  return m;
}

/**
 * The files to fetch for a variant: the common files, then the variant's graphs, each with
 * its catalog facts, in that order.
 * @throws CatalogError when the model lacks `dtype`.
 */
export function filesFor(model: CatalogModel, dtype: Dtype = model.defaultDtype.cpu): CatalogFile[] {
  const variant = model.dtypes[dtype];
  if (!variant) throw new CatalogError(`model "${model.id}" has no ${dtype} weights (it has: ${Object.keys(model.dtypes).join(', ')})`);
  const byPath = new Map(model.files.map((f) => [f.path, f]));
  const wanted = [...new Set([...model.common, ...variant.files])];
  return wanted.map((p) => byPath.get(p)!);
}

/**
 * Approximate download size of a variant (bytes): exact sizes where known, approximate
 * otherwise; `unknownFiles` lists files with neither.
 */
export function approxDownloadBytes(model: CatalogModel, dtype: Dtype = model.defaultDtype.cpu): { bytes: number; unknownFiles: string[] } {
  let bytes = 0;
  const unknownFiles: string[] = [];
  for (const f of filesFor(model, dtype)) {
    const b = f.bytes ?? f.approxBytes;
    if (b === undefined) unknownFiles.push(f.path);
    else bytes += b;
  }
  return { bytes, unknownFiles };
}

/** The machine a default model is chosen for. */
export interface MachineProfile {
  /** Physical memory (bytes), e.g. os.totalmem(). */
  ramBytes: number;
  /** Whether a usable GPU execution provider is present (then the model's gpu dtype is used). */
  gpu: boolean;
}

/** The default choice and why. */
export interface DefaultChoice {
  id: string;
  dtype: Dtype;
  /** One line for the first-run screen / logs. */
  reason: string;
}

/** Share of physical memory a model may take by default (the OS, the app and the user's other programs keep the rest). */
export const DEFAULT_MEMORY_SHARE = 0.5;

/**
 * The model a new user is offered first. The product is for documents and handwriting on a
 * laptop CPU, so:
 *
 * 1. candidates are models with a Hub download whose file list is verified;
 * 2. the dtype is the model's `defaultDtype.gpu` when `gpu`, else `defaultDtype.cpu`;
 * 3. a model fits when that dtype's `memoryBytes` ≤ DEFAULT_MEMORY_SHARE × `ramBytes`;
 * 4. among fitting models good at both documents and handwriting, the lowest
 *    `defaultPriority` wins (ties: smaller memory need, then catalog order);
 * 5. otherwise the fitting model good at documents with the smallest memory need;
 * 6. otherwise (nothing fits) the candidate with the smallest memory need, so a new user is
 *    always offered something (the reason says it may not fit).
 *
 * @throws CatalogError when the catalog has no downloadable, verified model.
 */
export function defaultModelChoice(catalog: Catalog, machine: MachineProfile): DefaultChoice {
  const budget = machine.ramBytes * DEFAULT_MEMORY_SHARE;
  const side = machine.gpu ? 'gpu' : 'cpu';
  const candidates = catalog.models
    .map((m, order) => ({ m, order, dtype: m.defaultDtype[side], mem: m.dtypes[m.defaultDtype[side]]!.memoryBytes }))
    .filter((c) => c.m.source.kind === 'hub' && c.m.verified);
  if (candidates.length === 0) throw new CatalogError('the catalog has no verified model with a Hub download to offer as default');
  const byMemory = (a: (typeof candidates)[number], b: (typeof candidates)[number]): number => a.mem - b.mem || a.order - b.order;
  const fitting = candidates.filter((c) => c.mem <= budget);
  const both = fitting
    .filter((c) => c.m.strengths.includes('documents') && c.m.strengths.includes('handwriting'))
    .sort((a, b) => (a.m.defaultPriority ?? Infinity) - (b.m.defaultPriority ?? Infinity) || byMemory(a, b));
  const where = `${machine.gpu ? 'GPU' : 'CPU'}, ${formatGB(machine.ramBytes)} RAM`;
  if (both.length > 0) {
    const c = both[0]!;
    return { id: c.m.id, dtype: c.dtype, reason: `${c.m.name} (${c.dtype}) reads documents and handwriting and fits this machine (${where}; needs about ${formatGB(c.mem)})` };
  }
  const docs = fitting.filter((c) => c.m.strengths.includes('documents')).sort(byMemory);
  if (docs.length > 0) {
    const c = docs[0]!;
    return { id: c.m.id, dtype: c.dtype, reason: `${c.m.name} (${c.dtype}) is the smallest document model that fits this machine (${where}; needs about ${formatGB(c.mem)})` };
  }
  const c = [...candidates].sort(byMemory)[0]!;
  return { id: c.m.id, dtype: c.dtype, reason: `${c.m.name} (${c.dtype}) is the smallest model, but it may not fit this machine (${where}; needs about ${formatGB(c.mem)})` };
}

/** The id of defaultModelChoice (see there for the rule). */
export function defaultModelId(catalog: Catalog, machine: MachineProfile): string {
  return defaultModelChoice(catalog, machine).id;
}

/** Decimal gigabytes, as the window writes every size (renderer formatBytes): one unit everywhere. */
function formatGB(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 1e6))} MB`;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function nonEmptyString(x: unknown): x is string {
  return typeof x === 'string' && x.trim().length > 0;
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

function isByteCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
