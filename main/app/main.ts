/**
 * The Electron main process: lifecycle, the window, the app:// protocol, permissions and IPC.
 * Everything with logic lives in the pure modules beside it (window-options, app-protocol, ipc,
 * args, lifecycle, engine-launcher) and is unit-tested; this file only wires them to Electron.
 *
 * Runs as an ES module (package.json "type": "module"; Electron ≥ 28): everything that must
 * happen before 'ready' (privileged schemes, the sandbox switch, the single-instance lock) is
 * done synchronously at the top level, with no await before it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  MessageChannelMain,
  nativeTheme,
  net,
  protocol,
  session,
  shell,
  utilityProcess,
  type Session,
  type WebContents,
} from 'electron';
// The capture APIs are read off the namespace so a partial Electron (the tests' fakes) can lack them.
import * as electron from 'electron';
import { createApiService, type ApiService } from '../core/api-service.js';
import { appDataDir, forwardedArgv, parseAppArgs, type AppArgs } from './args.js';
import { APP_INDEX_URL, APP_ORIGIN, APP_SCHEME, APP_SCHEME_PRIVILEGES, resolveAppRequest, urlOrigin } from './app-protocol.js';
import { utilityProcessLauncher } from './engine-launcher.js';
import { isTrustedSender, registerIpc, type IpcRegistration } from './ipc.js';
import { CrashRecovery, QuitGuard } from './lifecycle.js';
import { captureDisplays, captureFallback } from './capture/capture.js';
import { defaultHotkey, detectSessionType, electronSwitchesFor, switchToAppendArgs } from './capture/decisions.js';
import { captureRunner, overlaySelector, type CaptureOutcome } from './capture/flow.js';
import { registerCaptureHotkey, type CaptureHotkey } from './capture/hotkey.js';
import { CONTENT_SECURITY_POLICY, isAllowedNavigation, mainWindowOptions, permissionAllowed, shouldOpenExternally } from './window-options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The bundled preload (esbuild, CommonJS: sandboxed preloads cannot load ES modules). */
const PRELOAD_PATH = path.join(here, 'preload.cjs');

/** Development only: load the renderer from the Vite dev server instead of dist/renderer. */
const devServerUrl = !app.isPackaged ? process.env['OMNIFUSION_RENDERER_URL'] : undefined;
const devOrigin = devServerUrl ? urlOrigin(devServerUrl) : undefined;
/** The origin the window's pages come from. */
const pageOrigin = devOrigin ?? APP_ORIGIN;
const trustedOrigins = devOrigin ? [APP_ORIGIN, devOrigin] : [APP_ORIGIN];
const trusted = (frameUrl: string): boolean => isTrustedSender(frameUrl, trustedOrigins);

let mainWindow: BrowserWindow | undefined;
let service: ApiService | undefined;
let ipc: IpcRegistration | undefined;
const recovery = new CrashRecovery();
const captureSession = detectSessionType({ platform: process.platform, env: process.env });
let hotkey: CaptureHotkey | undefined;
let runCapture: (() => Promise<CaptureOutcome>) | undefined;

protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
app.enableSandbox();

function log(message: string, err?: unknown): void {
  process.stderr.write(`omnifusion: ${message}${err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`}\n`);
}

function rendererDir(): string {
  return path.join(app.getAppPath(), 'dist', 'renderer');
}

function notFound(): Response {
  return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

/** Serve app://omnifusion/…: the built renderer (with the CSP) and attachments by hash. */
function registerAppProtocol(ses: Session): void {
  ses.protocol.handle(APP_SCHEME, async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('method not allowed', { status: 405 });
    const target = resolveAppRequest(request.url, rendererDir());
    if (target.kind === 'asset') {
      const file = await net.fetch(pathToFileURL(target.file).toString()).catch(() => undefined);
      if (!file?.ok) return notFound();
      return new Response(file.body, {
        status: 200,
        headers: {
          'content-type': target.contentType,
          'content-security-policy': CONTENT_SECURITY_POLICY,
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-cache',
        },
      });
    }
    if (target.kind === 'attachment') {
      const found = await service?.attachmentFile(target.sha256).catch(() => undefined);
      if (!found) return notFound();
      const file = await net.fetch(pathToFileURL(found.path).toString()).catch(() => undefined);
      if (!file?.ok) return notFound();
      return new Response(file.body, {
        status: 200,
        headers: { 'content-type': found.mime, 'x-content-type-options': 'nosniff', 'cache-control': 'private, max-age=31536000, immutable' },
      });
    }
    return notFound();
  });
}

/** Permissions: the camera and clipboard writes for the app's own page; nothing else. */
function installPermissionPolicy(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, permission, callback, details) => callback(permissionAllowed(permission, details, pageOrigin)));
  ses.setPermissionCheckHandler((_contents, permission, _origin, details) => permissionAllowed(permission, details, pageOrigin));
  ses.setDevicePermissionHandler(() => false);
}

/** No new windows, no navigation away from the app, no webviews; safe links go to the browser. */
function hardenContents(contents: WebContents): void {
  const openOutside = (url: string): void => {
    if (shouldOpenExternally(url)) shell.openExternal(url).catch((err: unknown) => log('could not open a link', err));
  };
  contents.setWindowOpenHandler(({ url }) => {
    openOutside(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event) => {
    if (isAllowedNavigation(event.url, pageOrigin)) return;
    event.preventDefault();
    openOutside(event.url);
  });
  contents.on('will-frame-navigate', (event) => {
    if (!isAllowedNavigation(event.url, pageOrigin)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!isAllowedNavigation(event.url, pageOrigin)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

function focusWindow(): void {
  if (!mainWindow || mainWindow.isDestroyed()) return;
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.show();
  mainWindow.focus();
}

/** Act on the flags of this or a forwarded launch. */
function handleArgs(args: AppArgs): void {
  if (args.capture) capture();
}

function capture(): void {
  if (!runCapture) return log('screen capture is not available');
  runCapture()
    .then((outcome) => {
      if (outcome.kind === 'refused') log(`capture: selection refused (${outcome.reason})`);
    })
    .catch((err: unknown) => log('capture failed', err));
}

/** The screenshot hotkey and the capture flow (skipped when this Electron lacks the capture APIs). */
function setUpCapture(): void {
  const { globalShortcut, desktopCapturer, screen } = electron;
  if (!globalShortcut || !desktopCapturer || !screen) return log('screen capture is not available in this Electron');
  runCapture = captureRunner({
    capture: () => captureDisplays(desktopCapturer, screen),
    selectRegion: overlaySelector({
      createWindow: (options) => new BrowserWindow(options),
      ipcMain,
      preloadPath: PRELOAD_PATH,
      overlayUrl: (display) => `${devServerUrl ?? APP_INDEX_URL}#capture-overlay/${display.id}`,
      trusted: (event) => trusted(event.senderFrame?.url ?? ''),
    }),
    addAttachment: (name, bytes) => service!.call('attachments.add', { name, bytes }),
    attached: (attachment) => {
      focusWindow();
      mainWindow?.webContents.send('omnifusion:capture.attached', attachment);
    },
    fallback: (reason) => {
      const decision = captureFallback(
        { ok: false, reason },
        {
          session: captureSession,
          shortcutConfirmed: hotkey?.state === 'confirmed',
          portalAvailable: captureSession === 'wayland',
          // Not probed yet: the clipboard export of the namespace import is typed as the DOM Clipboard.
          clipboardHasImage: false,
        },
      );
      log(`capture: ${reason}; ${decision.message ?? ''}`);
      focusWindow();
      if (decision.message) void dialog.showMessageBox({ type: 'info', title: 'OmniFusion', message: decision.message }).catch(() => undefined);
      return decision;
    },
  });
  hotkey = registerCaptureHotkey(globalShortcut, defaultHotkey(process.platform), capture, captureSession);
  if (hotkey.state !== 'confirmed') {
    const { message } = captureFallback({ ok: true, frames: [], blankDisplays: [] }, {
      session: captureSession, shortcutConfirmed: false, portalAvailable: false, clipboardHasImage: false,
    });
    if (message) log(`hotkey ${hotkey.accelerator} ${hotkey.state}: ${message}`);
  }
}

async function createWindow(): Promise<void> {
  if (!devServerUrl && !existsSync(path.join(rendererDir(), 'index.html'))) {
    throw new Error(`The window's files are missing (${path.join(rendererDir(), 'index.html')}): build the app first (tsx electron.config.ts build).`);
  }
  const settings = await service?.call('settings.get', {}).catch(() => undefined);
  const win = new BrowserWindow(
    mainWindowOptions({ preloadPath: PRELOAD_PATH, theme: settings?.theme ?? 'system', systemPrefersDark: nativeTheme.shouldUseDarkColors }),
  );
  mainWindow = win;
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined;
  });
  win.webContents.on('render-process-gone', (_event, details) => {
    if (details.reason === 'clean-exit' || win.isDestroyed()) return;
    log(`the window's renderer stopped (${details.reason})`);
    if (recovery.shouldReload(Date.now())) win.webContents.reload();
    else dialog.showErrorBox('OmniFusion', `The window stopped repeatedly (${details.reason}). Your conversations are saved; restart the app.`);
  });
  await win.loadURL(devServerUrl ?? APP_INDEX_URL);
}

async function start(): Promise<void> {
  const args = parseAppArgs(process.argv);
  for (const problem of args.problems ?? []) log(problem);
  service = await createApiService({
    dataDir: appDataDir(app.getPath('userData')),
    launcher: utilityProcessLauncher((modulePath, forkArgs, options) => utilityProcess.fork(modulePath, forkArgs, options)),
    ...(args.modelDir ? { modelDir: args.modelDir } : {}),
    ...(args.executionProvider ? { executionProvider: args.executionProvider } : {}),
  });
  const ses = session.defaultSession;
  registerAppProtocol(ses);
  installPermissionPolicy(ses);
  ipc = registerIpc(ipcMain, service, trusted, {
    describeError: (err) => service!.describeError(err),
    createChannel: () => new MessageChannelMain(),
  });
  await createWindow();
  setUpCapture();
  handleArgs(args);
}

function fatal(err: unknown): void {
  log('could not start', err);
  dialog.showErrorBox('OmniFusion could not start', err instanceof Error ? err.message : String(err));
  app.exit(1);
}

if (!app.requestSingleInstanceLock({ argv: process.argv })) {
  // Another instance runs; it receives our argv in 'second-instance'.
  app.quit();
} else {
  // Wayland: globalShortcut needs the GlobalShortcuts portal feature, set before 'ready'.
  for (const sw of electronSwitchesFor(captureSession)) {
    const [name, value] = switchToAppendArgs(sw);
    app.commandLine?.appendSwitch(name, value);
  }
  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
  app.on('second-instance', (_event, argv, _workingDirectory, additionalData) => {
    focusWindow();
    handleArgs(parseAppArgs(forwardedArgv(argv, additionalData)));
  });
  const guard = new QuitGuard(
    async () => {
      ipc?.dispose();
      hotkey?.release();
      await service?.close();
    },
    () => app.quit(),
    (err) => log('closing the service failed', err),
  );
  app.on('before-quit', (event) => guard.beforeQuit(event));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (service && BrowserWindow.getAllWindows().length === 0) createWindow().catch(fatal);
  });
  app.whenReady().then(start).catch(fatal);
}
