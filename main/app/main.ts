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
import { readFile } from 'node:fs/promises';
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
import { routeHash, type CaptureMode } from '../api/capture.js';
import type { AttachmentInfo } from '../api/contract.js';
import { createApiService, type ApiService } from '../core/api-service.js';
import { defaultModelsDir } from '../core/paths.js';
import { ATTACHMENT_HEADERS } from '../core/images/served.js';
import { appDataDir, forwardedArgv, parseAppArgs, type AppArgs } from './args.js';
import { APP_INDEX_URL, APP_ORIGIN, APP_SCHEME, APP_SCHEME_PRIVILEGES, resolveAppRequest, urlOrigin } from './app-protocol.js';
import { utilityProcessLauncher } from './engine-launcher.js';
import { isTrustedSender, registerIpc, type IpcRegistration } from './ipc.js';
import { CrashRecovery, QuitGuard } from './lifecycle.js';
import { captureDisplays, captureFallback } from './capture/capture.js';
import { detectSessionType, electronSwitchesFor, switchToAppendArgs, type CaptureFallback } from './capture/decisions.js';
import { captureRunner, fallbackButtons, overlaySelector, quickAskWindowOptions, type CaptureOutcome } from './capture/flow.js';
import { CaptureHotkey, captureController } from './capture/hotkey.js';
import { backgroundColor, CONTENT_SECURITY_POLICY, displayMediaAllowed, isAllowedNavigation, mainWindowOptions, permissionAllowed, shouldOpenExternally } from './window-options.js';

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
/** PNGs of the displays while their overlays are open (served at /capture/<id>.png), then dropped. */
const overlayFrames = new Map<number, Buffer>();

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
    if (target.kind === 'capture-frame') {
      const png = overlayFrames.get(target.displayId);
      if (!png) return notFound();
      return new Response(new Uint8Array(png), { status: 200, headers: { 'content-type': 'image/png', 'cache-control': 'no-store' } });
    }
    if (target.kind === 'attachment') {
      // Only raster renditions, inert by their headers (core/images/served.ts): never an SVG's markup.
      const found = await service?.attachmentFile(target.sha256).catch(() => undefined);
      if (!found) return notFound();
      const headers = { ...ATTACHMENT_HEADERS, 'content-type': found.mime };
      if ('bytes' in found) return new Response(new Uint8Array(found.bytes), { status: 200, headers });
      const file = await net.fetch(pathToFileURL(found.path).toString()).catch(() => undefined);
      if (!file?.ok) return notFound();
      return new Response(file.body, { status: 200, headers });
    }
    return notFound();
  });
}

/** Permissions: the camera and clipboard writes for the app's own page; nothing else. */
function installPermissionPolicy(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, permission, callback, details) => callback(permissionAllowed(permission, details, pageOrigin)));
  ses.setPermissionCheckHandler((_contents, permission, _origin, details) => permissionAllowed(permission, details, pageOrigin));
  ses.setDevicePermissionHandler(() => false);
  // The in-page screen capture (capture.pick): the system's picker where Electron has one (macOS),
  // else the first screen; on Wayland getSources itself opens the portal's picker.
  const capturer = electron.desktopCapturer;
  ses.setDisplayMediaRequestHandler(
    (request, callback) => {
      const frame = request.frame;
      const asked = { ...request, frameUrl: frame?.url, isMainFrame: frame ? frame.parent === null : false };
      if (!capturer || !displayMediaAllowed(asked, pageOrigin)) return callback(null);
      capturer
        .getSources({ types: ['screen'] })
        .then(([source]) => callback(source ? { video: source } : null))
        .catch(() => callback(null));
    },
    { useSystemPicker: true },
  );
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

/** The page URL of a window route (the chat window, an overlay, the quick-ask window). */
function pageUrl(hash: string): string {
  return `${devServerUrl ?? APP_INDEX_URL}${hash}`;
}

/** Open a captured image as settings.captureOpens says: the quick-ask window or the main composer. */
async function openCaptured(attachment: AttachmentInfo): Promise<void> {
  const settings = await service!.call('settings.get', {});
  const mode: CaptureMode = settings.captureMode;
  if (settings.captureOpens === 'main' || !mainWindow) {
    focusWindow();
    service!.publish('capture.attached', { attachment, mode });
    return;
  }
  const dark = settings.theme === 'dark' || (settings.theme === 'system' && nativeTheme.shouldUseDarkColors);
  const win = new BrowserWindow(quickAskWindowOptions(PRELOAD_PATH, backgroundColor(settings.theme, dark)));
  win.once('ready-to-show', () => win.show());
  await win.loadURL(pageUrl(routeHash({ kind: 'quick-ask', attachment: attachment.sha256, mode })));
}

/** Add image bytes (clipboard, a file) and open them as a capture; a bad image gets its one-line message. */
async function attachImage(name: string, bytes: Uint8Array): Promise<void> {
  try {
    await openCaptured(await service!.call('attachments.add', { name, bytes }));
  } catch (err) {
    void dialog.showMessageBox({ type: 'warning', title: 'OmniFusion', message: service!.describeError(err).message }).catch(() => undefined);
  }
}

/** The PNG on the system clipboard, if any (Electron ≥ 45: the async ClipboardItem API). */
async function clipboardPng(): Promise<Uint8Array | undefined> {
  try {
    const items = (await electron.clipboard?.read()) ?? [];
    const item = items.find((i) => i.types.includes('image/png'));
    return item ? new Uint8Array(await (await item.getType('image/png')).arrayBuffer()) : undefined;
  } catch {
    return undefined;
  }
}

/** Carry out the fallback the user picked when the desktop capture came back blank. */
async function runFallback(choice: CaptureFallback): Promise<void> {
  if (choice === 'system-picker') {
    focusWindow();
    service!.publish('capture.pick', {});
  } else if (choice === 'clipboard') {
    const png = await clipboardPng();
    if (png) await attachImage('clipboard.png', png);
  } else {
    const picked = await dialog.showOpenDialog({
      title: 'Open an image',
      properties: ['openFile'],
      filters: [{ name: 'Images', extensions: ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'heic', 'avif'] }],
    });
    const file = picked.filePaths[0];
    if (!picked.canceled && file) await attachImage(path.basename(file), await readFile(file));
  }
}

/**
 * The capture flow (hotkey, --capture, capture.start) and the hotkey the API service drives;
 * without the capture APIs (a partial Electron) the service reports the hotkey unavailable.
 * Returns the controller for createApiService.
 */
function setUpCapture(): ReturnType<typeof captureController> | undefined {
  const { globalShortcut, desktopCapturer, screen } = electron;
  if (!globalShortcut || !desktopCapturer || !screen) {
    log('screen capture is not available in this Electron');
    return undefined;
  }
  const selector = overlaySelector({
    createWindow: (options) => new BrowserWindow(options),
    ipcMain,
    preloadPath: PRELOAD_PATH,
    overlayUrl: (display) => pageUrl(routeHash({ kind: 'capture-overlay', displayId: display.id })),
    trusted: (event) => trusted(event.senderFrame?.url ?? ''),
  });
  runCapture = captureRunner({
    capture: () => captureDisplays(desktopCapturer, screen),
    selectRegion: async (frames) => {
      for (const frame of frames) overlayFrames.set(frame.display.id, frame.image.toPNG());
      try {
        return await selector(frames);
      } finally {
        overlayFrames.clear();
      }
    },
    addAttachment: (name, bytes) => service!.call('attachments.add', { name, bytes }),
    attached: (attachment) => {
      openCaptured(attachment).catch((err: unknown) => log('could not open the capture', err));
    },
    fallback: async (reason) => {
      const clipboardHasImage = (await clipboardPng()) !== undefined;
      const decision = captureFallback(
        { ok: false, reason },
        {
          session: captureSession,
          shortcutConfirmed: hotkey?.state === 'confirmed',
          // getDisplayMedia in the window shows the system picker (the portal on Wayland).
          portalAvailable: true,
          clipboardHasImage,
        },
      );
      log(`capture: ${reason}; ${decision.message ?? ''}`);
      focusWindow();
      const buttons = fallbackButtons(decision);
      void dialog
        .showMessageBox({ type: 'info', title: 'OmniFusion', message: decision.message ?? 'The screenshot failed.', buttons: buttons.labels, cancelId: buttons.labels.length - 1 })
        .then(({ response }) => {
          const choice = buttons.choice(response);
          return choice ? runFallback(choice) : undefined;
        })
        .catch((err: unknown) => log('the capture fallback failed', err));
      return decision;
    },
  });
  hotkey = new CaptureHotkey(globalShortcut, captureSession, capture);
  return captureController(hotkey, captureSession, capture);
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
  const captureControl = setUpCapture();
  service = await createApiService({
    dataDir: appDataDir(app.getPath('userData')),
    launcher: utilityProcessLauncher((modulePath, forkArgs, options) => utilityProcess.fork(modulePath, forkArgs, options)),
    ...(args.modelDir ? { modelDir: args.modelDir } : {}),
    ...(args.executionProvider ? { executionProvider: args.executionProvider } : {}),
    ...(captureControl ? { capture: captureControl } : {}),
    // Models are shared with the command line (`omnifusion models pull`).
    modelsDir: defaultModelsDir(),
    ...(process.env['OMNIFUSION_HUB_URL'] ? { hubUrl: process.env['OMNIFUSION_HUB_URL'] } : {}),
    ...(process.env['HF_TOKEN'] ? { hubToken: process.env['HF_TOKEN'] } : {}),
  });
  const hotkeyStatus = await service.call('capture.status', {});
  if (hotkeyStatus.message) log(`hotkey ${hotkeyStatus.accelerator} ${hotkeyStatus.state}: ${hotkeyStatus.message}`);
  const ses = session.defaultSession;
  registerAppProtocol(ses);
  installPermissionPolicy(ses);
  ipc = registerIpc(ipcMain, service, trusted, {
    describeError: (err) => service!.describeError(err),
    createChannel: () => new MessageChannelMain(),
  });
  await createWindow();
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
