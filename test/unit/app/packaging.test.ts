/**
 * Packaging and runtime-boundary checks that need no Electron binary:
 *
 * - every native file of every production dependency (walked from package.json through
 *   node_modules) is unpacked from the asar, and so is the rest of each package that has one,
 *   matched with electron-builder's own FileMatcher (the code that decides at packaging time);
 * - the per-OS exclusions of onnxruntime-node keep that OS's binaries;
 * - `files` ships main, the preload bundle and the renderer, and leaves tests and maps out;
 * - the whole configuration passes electron-builder's schema validation;
 * - the window's security flags;
 * - the runtime split: main/core and main/engine never import electron, the renderer (and
 *   what it imports from main/) never imports Node or electron, and the preload reaches only
 *   'electron' (checked on its sources and on the esbuild bundle).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readdirSync, type Stats } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMatcher } from 'app-builder-lib/out/fileMatcher.js';
import { validateConfiguration } from 'app-builder-lib/out/util/config/config.js';
import { DebugLogger } from 'builder-util';
import { ASAR_UNPACK, ELECTRON_FUSES, PATHS, builderConfig, preloadBuildOptions } from '../../../electron.config.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { PlatformPackager } from 'app-builder-lib';
import { FuseV1Options, flipFuses, getCurrentFuseWire } from '@electron/fuses';
import { FuseState, SENTINEL } from '@electron/fuses/dist/constants.js';
import { webPreferences } from '../../../main/app/window-options.js';
import { importsOf, resolveRelative } from '../../helpers/source-imports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const posix = (p: string): string => p.split(path.sep).join('/');

// ---------- production dependency walk ----------

interface Pkg {
  name: string;
  dir: string;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Resolve `name` as Node would from `fromDir` (nearest node_modules up to the project root). */
function resolvePackage(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === ROOT) return undefined;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function depNames(manifest: Record<string, unknown>): { required: string[]; optional: string[] } {
  const keys = (field: string): string[] => Object.keys((manifest[field] as Record<string, string> | undefined) ?? {});
  const optional = keys('optionalDependencies');
  return { required: keys('dependencies').filter((n) => !optional.includes(n)), optional };
}

/** Every installed production package (dependencies and installed optional dependencies, transitively). */
function productionPackages(): Pkg[] {
  const seen = new Map<string, Pkg>();
  const queue: Array<{ name: string; from: string; optional: boolean }> = [];
  const root = depNames(readJson(path.join(ROOT, 'package.json')));
  for (const name of root.required) queue.push({ name, from: ROOT, optional: false });
  for (const name of root.optional) queue.push({ name, from: ROOT, optional: true });
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift()!;
    const dir = resolvePackage(name, from);
    if (!dir) {
      assert.ok(optional, `production dependency ${name} (needed by ${posix(path.relative(ROOT, from)) || 'the app'}) is not installed`);
      continue;
    }
    if (seen.has(dir)) continue;
    seen.set(dir, { name, dir });
    const deps = depNames(readJson(path.join(dir, 'package.json')));
    for (const dep of deps.required) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of deps.optional) queue.push({ name: dep, from: dir, optional: true });
  }
  return [...seen.values()];
}

/** Files of a package, without nested node_modules (those are packages of their own). */
function packageFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(full);
      } else {
        out.push(full);
      }
    }
  };
  walk(dir);
  return out;
}

const NATIVE_FILE = /\.(node|dylib|dll|so(\.\d+)*)$/;

function nativeFilesOf(files: string[]): string[] {
  return files.filter((f) => NATIVE_FILE.test(path.basename(f)) || path.basename(f) === 'binding.gyp');
}

/** electron-builder's asarUnpack decision for a file at `relative` (path inside the app). */
function unpackFilter(): (relative: string) => boolean {
  const filter = new FileMatcher(ROOT, '/tmp/app', (p: string) => p, ASAR_UNPACK).createFilter();
  return (relative) => {
    const abs = path.join(ROOT, relative);
    // NodeModuleCopyHelper passes the path inside the app as moduleFullFilePath; the filter matches that.
    const stat = Object.assign(Object.create(lstatSync(ROOT)) as Stats, { moduleFullFilePath: relative, isDirectory: () => false });
    return filter(abs, stat);
  };
}

function filesFilter(patterns: string[]): (relative: string) => boolean {
  const filter = new FileMatcher(ROOT, '/tmp/app', (p: string) => p, patterns).createFilter();
  return (relative) => filter(path.join(ROOT, relative), Object.assign(Object.create(lstatSync(ROOT)) as Stats, { isDirectory: () => false }));
}

const packages = productionPackages();
const nativePackages = packages
  .map((pkg) => ({ ...pkg, files: packageFiles(pkg.dir) }))
  .map((pkg) => ({ ...pkg, native: nativeFilesOf(pkg.files) }))
  .filter((pkg) => pkg.native.length > 0);

test('the dependency walk finds the native modules the app loads', () => {
  const names = nativePackages.map((p) => p.name);
  for (const expected of ['onnxruntime-node', 'better-sqlite3', 'sharp']) assert.ok(names.includes(expected), `${expected} not found among ${names.join(', ')}`);
  assert.ok(
    names.some((n) => /^@img\/sharp-(?!libvips)/.test(n)),
    `no @img/sharp-<platform> binary package found among ${names.join(', ')}`,
  );
});

test('asarUnpack covers every native file, and every file of each native package', () => {
  const unpacked = unpackFilter();
  const missing: string[] = [];
  for (const pkg of nativePackages) {
    for (const file of pkg.files) {
      const relative = posix(path.relative(ROOT, file));
      if (!unpacked(relative)) missing.push(relative);
    }
  }
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} files of native packages would stay inside app.asar`);
});

test('asarUnpack covers every native file of any production package', () => {
  const unpacked = unpackFilter();
  const missing = packages
    .flatMap((pkg) => nativeFilesOf(packageFiles(pkg.dir)))
    .map((f) => posix(path.relative(ROOT, f)))
    .filter((f) => !unpacked(f));
  assert.deepEqual(missing, []);
});

test('asarUnpack does not unpack the app code', () => {
  const unpacked = unpackFilter();
  for (const relative of ['package.json', PATHS.main, PATHS.preload, PATHS.rendererIndex, 'dist/main/engine/process/engine-main.js']) assert.equal(unpacked(relative), false, relative);
});

test("each OS package drops the other OSes' onnxruntime binaries and keeps its own", () => {
  const ort = 'node_modules/onnxruntime-node/bin/napi-v6';
  const cases = [
    { os: 'linux', files: builderConfig.linux?.files, keep: `${ort}/linux/x64/onnxruntime_binding.node` },
    { os: 'win32', files: builderConfig.win?.files, keep: `${ort}/win32/x64/onnxruntime_binding.node` },
    { os: 'darwin', files: builderConfig.mac?.files, keep: `${ort}/darwin/arm64/onnxruntime_binding.node` },
  ] as const;
  for (const { os, files, keep } of cases) {
    assert.ok(Array.isArray(files), `${os}.files`);
    const included = filesFilter(['**/*', ...(files as string[])]);
    if (existsSync(path.join(ROOT, keep))) assert.equal(included(keep), true, `${os} keeps ${keep}`);
    for (const other of ['linux', 'win32', 'darwin'].filter((o) => o !== os)) {
      const drop = `${ort}/${other}/x64/onnxruntime_binding.node`;
      if (existsSync(path.join(ROOT, drop))) assert.equal(included(drop), false, `${os} drops ${drop}`);
    }
  }
});

test('files: ships main, the preload bundle, the renderer and the resources the code reads; not tests, maps or the ESM preload', () => {
  const included = filesFilter(builderConfig.files as string[]);
  for (const shipped of [PATHS.main, PATHS.preload, PATHS.rendererIndex, 'dist/main/engine/process/engine-main.js', 'dist/renderer/assets/index.js', 'package.json', 'resources/catalog.json', 'resources/graphs/kv_gather.float32.onnx', 'resources/graphs/kv_gather.float16.onnx']) {
    assert.equal(included(shipped), true, shipped);
  }
  for (const left of ['dist/test/unit/app/packaging.test.js', 'dist/main/app/main.js.map', 'dist/main/app/preload.js', 'main/app/main.ts', 'test/fixtures/x.onnx', 'out/linux-unpacked/x']) {
    assert.equal(included(left), false, left);
  }
  assert.equal(readJson(path.join(ROOT, 'package.json'))['main'], PATHS.main);
  assert.equal(builderConfig.asar, true);
  assert.equal(builderConfig.npmRebuild, true);
  assert.deepEqual(builderConfig.linux?.target, ['AppImage', 'deb']);
  assert.equal(builderConfig.win?.target, 'nsis');
  assert.equal(builderConfig.mac?.target, 'dmg');
});

test("the electron-builder configuration passes electron-builder's own schema", async () => {
  await validateConfiguration(builderConfig, new DebugLogger(false));
  await assert.rejects(validateConfiguration({ ...builderConfig, asarUnpak: ['x'] } as never, new DebugLogger(false)), /Invalid configuration/);
});

test('the window is isolated and sandboxed with Node off', () => {
  const prefs = webPreferences(path.join(ROOT, PATHS.preload));
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.preload, path.join(ROOT, PATHS.preload));
});

// ---------- runtime boundaries ----------

function sourceFiles(dir: string, exts: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return packageFiles(dir).filter((f) => exts.test(f));
}

/** Bare specifiers reached from `entries` through relative imports, by file. */
function bareImportsClosure(entries: string[]): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (result.has(file)) continue;
    const bare: string[] = [];
    result.set(file, bare);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.') || spec.startsWith('/')) {
        const target = resolveRelative(file, spec);
        if (target && /\.(ts|js|mjs|svelte)$/.test(target)) queue.push(target);
      } else {
        bare.push(spec);
      }
    }
  }
  return result;
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isElectron = (spec: string): boolean => spec === 'electron' || spec.startsWith('electron/');
const isNode = (spec: string): boolean => spec.startsWith('node:') || NODE_BUILTINS.has(spec) || NODE_BUILTINS.has(spec.split('/')[0]!);

test('the import scanner sees the forms of import it must see', () => {
  const sample = path.join(ROOT, 'test', 'unit', 'app', 'packaging.test.ts');
  const specs = importsOf(sample);
  assert.ok(specs.includes('node:fs') && specs.includes('app-builder-lib/out/fileMatcher.js'));
});

test('main/core and main/engine never import electron', () => {
  const offenders = [...sourceFiles(path.join(ROOT, 'main', 'core'), /\.ts$/), ...sourceFiles(path.join(ROOT, 'main', 'engine'), /\.ts$/)]
    .filter((f) => importsOf(f).some(isElectron))
    .map((f) => posix(path.relative(ROOT, f)));
  assert.deepEqual(offenders, []);
});

test('main/api is pure: no Node, no electron, no packages', () => {
  const offenders = sourceFiles(path.join(ROOT, 'main', 'api'), /\.ts$/).filter((f) => importsOf(f).some((s) => !s.startsWith('.')));
  assert.deepEqual(offenders, []);
});

test('the renderer, and what it imports from main/, never imports Node or electron', () => {
  const entries = sourceFiles(path.join(ROOT, 'renderer'), /\.(ts|js|mjs|svelte)$/).filter(
    (f) => !/(^|[\\/])[\w.-]*\.config\.(ts|js|mjs)$/.test(f) && !/\.(test|spec)\.ts$/.test(f) && !f.includes(`${path.sep}dist${path.sep}`),
  );
  const offenders: string[] = [];
  for (const [file, bare] of bareImportsClosure(entries)) {
    for (const spec of bare) if (isNode(spec) || isElectron(spec)) offenders.push(`${posix(path.relative(ROOT, file))} imports ${spec}`);
  }
  assert.deepEqual(offenders, []);
});

test("the preload's sources reach only 'electron' and pure local modules", () => {
  const closure = bareImportsClosure([path.join(ROOT, PATHS.preloadSource)]);
  const files = [...closure.keys()].map((f) => posix(path.relative(ROOT, f))).sort();
  assert.ok(files.includes('main/api/contract.ts') && files.includes('main/app/channels.ts'), files.join(', '));
  const bare = [...closure.entries()].flatMap(([file, specs]) => specs.map((s) => `${posix(path.relative(ROOT, file))}: ${s}`));
  assert.deepEqual(bare, ['main/app/preload.ts: electron']);
});

test("the preload bundle is one CommonJS file whose only require is 'electron'", async () => {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({ ...preloadBuildOptions, absWorkingDir: ROOT, write: false, logLevel: 'silent' });
  assert.equal(result.outputFiles.length, 1);
  const code = result.outputFiles[0]!.text;
  const requires = [...code.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(requires)], ['electron']);
  assert.doesNotMatch(code, /^\s*(import|export)\s/m, 'no ES module syntax in a sandboxed preload');
  assert.match(code, /exposeInMainWorld\)?\(\s*"omnifusion"/);
  assert.equal(preloadBuildOptions.format, 'cjs');
  assert.ok(String(preloadBuildOptions.outfile).endsWith('.cjs'));
});

test('the packaged binary gets its fuses flipped as configured (electron-builder maps the config, @electron/fuses writes it)', async () => {
  assert.equal(builderConfig.electronFuses, ELECTRON_FUSES);
  // A stand-in for Electron's binary: the fuse wire as Electron 45 ships it (sentinel, version 1,
  // 8 fuses: RunAsNode on, cookie encryption off, NODE_OPTIONS on, --inspect on, ASAR integrity
  // off, only-ASAR off, browser V8 snapshot off, file:// privileges on).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-fuses-'));
  try {
    const binary = path.join(dir, 'omnifusion-desktop');
    writeFileSync(binary, Buffer.concat([Buffer.alloc(64, 0x7f), Buffer.from(SENTINEL), Buffer.from([1, 8]), Buffer.from('10110001'), Buffer.alloc(64, 0x7f)]));
    const config = await (PlatformPackager.prototype as unknown as { generateFuseConfig(f: unknown): Promise<Parameters<typeof flipFuses>[1]> }).generateFuseConfig.call({}, ELECTRON_FUSES);
    await flipFuses(binary, config);
    const wire = await getCurrentFuseWire(binary);
    const state = (o: FuseV1Options) => (wire as unknown as Record<number, FuseState>)[o];
    assert.equal(state(FuseV1Options.RunAsNode), FuseState.DISABLE);
    assert.equal(state(FuseV1Options.EnableCookieEncryption), FuseState.ENABLE);
    assert.equal(state(FuseV1Options.EnableNodeOptionsEnvironmentVariable), FuseState.DISABLE);
    assert.equal(state(FuseV1Options.EnableNodeCliInspectArguments), FuseState.DISABLE);
    assert.equal(state(FuseV1Options.EnableEmbeddedAsarIntegrityValidation), FuseState.ENABLE);
    assert.equal(state(FuseV1Options.OnlyLoadAppFromAsar), FuseState.ENABLE);
    assert.equal(state(FuseV1Options.GrantFileProtocolExtraPrivileges), FuseState.DISABLE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
