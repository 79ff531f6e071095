/**
 * Build and packaging of the desktop app.
 *
 *   tsx electron.config.ts build   main (tsc), preload (esbuild), renderer (Vite)
 *   tsx electron.config.ts start   build, then run the app with Electron's binary (better-sqlite3
 *                                  swapped to an Electron build meanwhile, see useSqliteBuildFor)
 *   tsx electron.config.ts dist    build, then package with electron-builder for this OS
 *
 * Main stays tsc output (dist/main/**, ES modules, one file per source): the engine host finds
 * the engine entry next to itself (`engineEntry()`), and `utilityProcess.fork` needs that entry
 * as a real file, so bundling main would buy nothing and break that layout. The preload is
 * bundled by esbuild into ONE CommonJS file: a sandboxed preload cannot load ES modules nor
 * `require` local files (only 'electron' and a few polyfilled built-ins). The renderer is the
 * Svelte app, built by Vite (vite.config.ts, base './') into dist/renderer and served to the
 * window over app://omnifusion (main/app/app-protocol.ts).
 *
 * Packaging (electron-builder): native modules (onnxruntime-node, sharp and its @img binaries,
 * better-sqlite3) are unpacked from the asar, since shared libraries cannot be loaded from inside
 * it, and `npmRebuild` rebuilds them for Electron's ABI (better-sqlite3 uses V8's ABI;
 * onnxruntime-node and sharp are N-API and load as they are). test/unit/app/packaging.test.ts
 * checks that the unpack patterns cover every native file of every production dependency.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BuildOptions } from 'esbuild';
import type { Configuration } from 'electron-builder';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** Where the build puts each part (package.json "main" is PATHS.main). */
export const PATHS = {
  main: 'dist/main/app/main.js',
  preloadSource: 'main/app/preload.ts',
  preload: 'dist/main/app/preload.cjs',
  rendererConfig: 'vite.config.ts',
  rendererDir: 'dist/renderer',
  rendererIndex: 'dist/renderer/index.html',
} as const;

/** Electron 45 ships Chromium 140. */
export const CHROMIUM_TARGET = 'chrome140';

/** esbuild options of the preload: one CommonJS file, 'electron' the only require left. */
export const preloadBuildOptions: BuildOptions = {
  entryPoints: [PATHS.preloadSource],
  outfile: PATHS.preload,
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: CHROMIUM_TARGET,
  external: ['electron'],
  sourcemap: false,
  logLevel: 'warning',
};

/** Native modules the app loads, unpacked from app.asar (see shared reference: Electron asar). */
export const ASAR_UNPACK = [
  'node_modules/onnxruntime-node/**',
  'node_modules/onnxruntime-common/**',
  'node_modules/sharp/**',
  'node_modules/@img/**',
  'node_modules/better-sqlite3/**',
  '**/*.node',
  '**/*.{so,so.*,dylib,dll}',
];

/** onnxruntime-node ships every OS's binaries; each package keeps only its own OS's. */
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
function onlyOrtFor(os: 'linux' | 'win32' | 'darwin'): string[] {
  return (['linux', 'win32', 'darwin'] as const).filter((other) => other !== os).map((other) => `!${ORT_BIN}/${other}{,/**}`);
}

/**
 * Electron's fuses, flipped in the packaged binary (electron-builder runs @electron/fuses):
 * the app cannot be turned into a plain Node (ELECTRON_RUN_AS_NODE), told to load code by
 * NODE_OPTIONS or opened to a debugger by --inspect; cookies are encrypted at rest with the OS
 * keychain; only app.asar is loaded, and its embedded integrity hash is checked where Electron
 * supports it (macOS and Windows; the fuse has no effect on Linux); file:// gets no extra
 * privileges (the app uses app://). The engine is a utilityProcess, which needs none of these.
 * Source: Electron's security checklist and the @electron/fuses README.
 */
export const ELECTRON_FUSES = {
  runAsNode: false,
  enableCookieEncryption: true,
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  enableEmbeddedAsarIntegrityValidation: true,
  onlyLoadAppFromAsar: true,
  grantFileProtocolExtraPrivileges: false,
} as const;

export const builderConfig: Configuration = {
  appId: 'org.omnifusion.desktop',
  productName: 'OmniFusion Desktop',
  executableName: 'omnifusion-desktop',
  directories: { output: 'out', buildResources: 'resources' },
  files: [
    'dist/main/**',
    'dist/renderer/**',
    'bin/**',
    'package.json',
    // The model catalog and the KV-cache gather graphs (a build-resources folder is not packed unless named).
    'resources/catalog.json',
    'resources/graphs/*.onnx',
    '!dist/test/**',
    // tsc also emits an ES-module preload that a sandboxed window cannot load; preload.cjs is used.
    '!dist/main/app/preload.js',
    '!**/*.map',
    '!**/*.d.ts',
    // Sources and build leftovers of native modules (the compiled .node files stay).
    '!node_modules/better-sqlite3/{deps,src}/**',
    '!node_modules/better-sqlite3/build/Release/{obj,obj.target,.deps}/**',
    '!node_modules/better-sqlite3/build/Release/test_extension.node',
    '!node_modules/better-sqlite3/build/Release/*.runtime',
  ],
  asar: true,
  asarUnpack: ASAR_UNPACK,
  electronFuses: ELECTRON_FUSES,
  npmRebuild: true,
  buildDependenciesFromSource: false,
  linux: { target: ['AppImage', 'deb'], category: 'Office', files: onlyOrtFor('linux') },
  win: { target: 'nsis', files: onlyOrtFor('win32') },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true },
  mac: { target: 'dmg', category: 'public.app-category.productivity', files: onlyOrtFor('darwin') },
};

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}

function bin(name: string): string {
  return path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
}

/** Build main (tsc), the preload (esbuild) and the renderer (Vite). */
export async function build(): Promise<void> {
  run(bin('tsc'), ['-p', 'tsconfig.json']);
  const esbuild = await import('esbuild');
  await esbuild.build({ ...preloadBuildOptions, absWorkingDir: ROOT });
  if (!existsSync(path.join(ROOT, PATHS.rendererConfig))) {
    throw new Error(`${PATHS.rendererConfig} is missing: the renderer cannot be built`);
  }
  run(bin('vite'), ['build', '--config', PATHS.rendererConfig]);
  if (!existsSync(path.join(ROOT, PATHS.rendererIndex))) {
    throw new Error(`the renderer build did not write ${PATHS.rendererIndex} (set build.outDir in ${PATHS.rendererConfig})`);
  }
}

/** Make sure Electron's binary is there (it is fetched after npm ci, when online). */
function ensureElectronBinary(): void {
  if (existsSync(path.join(ROOT, 'node_modules', 'electron', 'path.txt'))) return;
  run(process.execPath, [path.join(ROOT, 'node_modules', 'electron', 'install.js')]);
}

/**
 * better-sqlite3 is built against V8's ABI, which differs between Node (the CLI, `omnifusion
 * serve`, the tests) and Electron. `npm start` swaps in an Electron build of its binary and swaps
 * the Node build back afterwards; each build is made once (electron-rebuild / npm rebuild) and
 * kept under .cache/native, keyed by runtime, version, OS and CPU. (Packages do not need this:
 * electron-builder's npmRebuild builds them for Electron.) onnxruntime-node and sharp use N-API
 * and load in both as they are.
 */
const SQLITE_BINARY = path.join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
const SQLITE_MARKER = `${SQLITE_BINARY}.runtime`;

function electronVersion(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Cache key of a runtime's build of the binary. */
export function nativeKey(runtime: 'node' | 'electron', version: string, platform = process.platform, arch = process.arch): string {
  return `${runtime}-${version}-${platform}-${arch}`;
}

function useSqliteBuildFor(runtime: 'node' | 'electron'): void {
  const nodeKey = nativeKey('node', `abi${process.versions.modules}`);
  const wanted = runtime === 'node' ? nodeKey : nativeKey('electron', electronVersion());
  const current = existsSync(SQLITE_MARKER) ? readFileSync(SQLITE_MARKER, 'utf8').trim() : nodeKey;
  if (current === wanted && existsSync(SQLITE_BINARY)) return;
  const cached = (key: string): string => path.join(ROOT, '.cache', 'native', key, 'better_sqlite3.node');
  if (existsSync(SQLITE_BINARY) && !existsSync(cached(current))) {
    mkdirSync(path.dirname(cached(current)), { recursive: true });
    copyFileSync(SQLITE_BINARY, cached(current));
  }
  if (existsSync(cached(wanted))) {
    copyFileSync(cached(wanted), SQLITE_BINARY);
  } else {
    if (runtime === 'electron') run(bin('electron-rebuild'), ['--version', electronVersion(), '--only', 'better-sqlite3', '--force']);
    else run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['rebuild', 'better-sqlite3']);
    mkdirSync(path.dirname(cached(wanted)), { recursive: true });
    copyFileSync(SQLITE_BINARY, cached(wanted));
  }
  writeFileSync(SQLITE_MARKER, `${wanted}\n`);
}

/** Build and run the app. Arguments after `start` go to the app (e.g. --model-dir DIR). */
export async function start(appArgs: string[]): Promise<void> {
  await build();
  ensureElectronBinary();
  useSqliteBuildFor('electron');
  try {
    run(bin('electron'), ['.', ...appArgs]);
  } finally {
    useSqliteBuildFor('node');
  }
}

/** Build and package for this OS (out/). */
export async function dist(): Promise<void> {
  await build();
  const builder = await import('electron-builder');
  await builder.build({ config: builderConfig, publish: 'never' });
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  const [command, ...rest] = process.argv.slice(2);
  const steps: Record<string, () => Promise<void>> = { build, start: () => start(rest), dist };
  const step = command === undefined ? undefined : steps[command];
  if (!step) {
    process.stderr.write('usage: tsx electron.config.ts build|start|dist [app args]\n');
    process.exit(2);
  }
  step().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

export default builderConfig;
