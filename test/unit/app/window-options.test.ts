import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKGROUND,
  CONTENT_SECURITY_POLICY,
  MIN_HEIGHT,
  MIN_WIDTH,
  backgroundColor,
  displayMediaAllowed,
  isAllowedNavigation,
  mainWindowOptions,
  permissionAllowed,
  shouldOpenExternally,
  webPreferences,
} from '../../../main/app/window-options.js';
import { APP_ORIGIN } from '../../../main/app/app-protocol.js';

test('webPreferences: isolated, sandboxed, no Node, web security on, the given preload', () => {
  const prefs = webPreferences('/app/dist/main/app/preload.cjs');
  assert.equal(prefs.preload, '/app/dist/main/app/preload.cjs');
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.nodeIntegrationInWorker, false);
  assert.equal(prefs.nodeIntegrationInSubFrames, false);
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.allowRunningInsecureContent, false);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.navigateOnDragDrop, false);
  assert.equal(prefs.spellcheck, true);
});

test('mainWindowOptions: minimum size, hidden until ready, background by theme', () => {
  const light = mainWindowOptions({ preloadPath: '/p.cjs', theme: 'light', systemPrefersDark: true });
  assert.equal(light.minWidth, MIN_WIDTH);
  assert.equal(light.minHeight, MIN_HEIGHT);
  assert.ok((light.width ?? 0) >= MIN_WIDTH && (light.height ?? 0) >= MIN_HEIGHT);
  assert.equal(light.show, false);
  assert.equal(light.backgroundColor, BACKGROUND.light);
  assert.equal(light.webPreferences?.sandbox, true);
  assert.equal(light.webPreferences?.preload, '/p.cjs');
  assert.equal('icon' in light, false);
  assert.equal(mainWindowOptions({ preloadPath: '/p.cjs', theme: 'dark', systemPrefersDark: false, icon: '/i.png' }).icon, '/i.png');
});

test('backgroundColor follows the setting, and the OS for "system"', () => {
  assert.equal(backgroundColor('dark', false), BACKGROUND.dark);
  assert.equal(backgroundColor('light', true), BACKGROUND.light);
  assert.equal(backgroundColor('system', true), BACKGROUND.dark);
  assert.equal(backgroundColor('system', false), BACKGROUND.light);
});

test('CSP: self only for scripts, inline styles for KaTeX, blob/data images, nothing embeddable', () => {
  const directives = new Map(
    CONTENT_SECURITY_POLICY.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name!, values] as const;
    }),
  );
  assert.deepEqual(directives.get('default-src'), ["'self'"]);
  assert.deepEqual(directives.get('script-src'), ["'self'"]);
  assert.deepEqual(directives.get('style-src'), ["'self'", "'unsafe-inline'"]);
  assert.deepEqual(directives.get('img-src'), ["'self'", 'blob:', 'data:']);
  assert.deepEqual(directives.get('connect-src'), ["'self'"]);
  assert.deepEqual(directives.get('font-src'), ["'self'"]);
  assert.deepEqual(directives.get('object-src'), ["'none'"]);
  assert.deepEqual(directives.get('base-uri'), ["'none'"]);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  assert.deepEqual(directives.get('form-action'), ["'none'"]);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-eval|\*/);
  assert.doesNotMatch(directives.get('script-src')!.join(' '), /unsafe-inline/);
});

test('isAllowedNavigation: only the app origin', () => {
  assert.equal(isAllowedNavigation(`${APP_ORIGIN}/index.html`), true);
  assert.equal(isAllowedNavigation(`${APP_ORIGIN}/index.html#/c/1`), true);
  assert.equal(isAllowedNavigation('app://other/index.html'), false);
  assert.equal(isAllowedNavigation('https://example.com/'), false);
  assert.equal(isAllowedNavigation('file:///etc/passwd'), false);
  assert.equal(isAllowedNavigation('about:blank'), false);
  assert.equal(isAllowedNavigation('javascript:alert(1)'), false);
  assert.equal(isAllowedNavigation('data:text/html,<h1>x</h1>'), false);
  assert.equal(isAllowedNavigation('not a url'), false);
  assert.equal(isAllowedNavigation('http://localhost:5173/', 'http://localhost:5173'), true);
  assert.equal(isAllowedNavigation('http://localhost:5174/', 'http://localhost:5173'), false);
});

test('shouldOpenExternally: http, https and mailto only', () => {
  assert.equal(shouldOpenExternally('https://arxiv.org/abs/2404.06212'), true);
  assert.equal(shouldOpenExternally('http://example.com'), true);
  assert.equal(shouldOpenExternally('mailto:someone@example.com'), true);
  for (const url of [
    'file:///C:/Windows/System32/calc.exe',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'blob:app://omnifusion/1234',
    'smb://host/share',
    'ms-msdt:/id PCWDiagnostic',
    'vscode://file/etc/passwd',
    'app://omnifusion/index.html',
    'mailto:',
    'https://',
    '',
    'example.com',
  ]) {
    assert.equal(shouldOpenExternally(url), false, url);
  }
});

const app = `${APP_ORIGIN}/index.html`;

test('permissionAllowed: the camera for the app page', () => {
  assert.equal(permissionAllowed('media', { requestingUrl: app, isMainFrame: true, mediaTypes: ['video'] }), true);
  // permission checks carry one media type and the origin
  assert.equal(permissionAllowed('media', { securityOrigin: `${APP_ORIGIN}/`, isMainFrame: true, mediaType: 'video' }), true);
});

test('permissionAllowed: no microphone, no other origin, no subframes, nothing else', () => {
  assert.equal(permissionAllowed('media', { requestingUrl: app, isMainFrame: true, mediaTypes: ['audio'] }), false);
  assert.equal(permissionAllowed('media', { requestingUrl: app, isMainFrame: true, mediaTypes: ['video', 'audio'] }), false);
  assert.equal(permissionAllowed('media', { requestingUrl: app, isMainFrame: true, mediaTypes: [] }), false);
  assert.equal(permissionAllowed('media', { requestingUrl: app, isMainFrame: true }), false);
  assert.equal(permissionAllowed('media', { securityOrigin: APP_ORIGIN, isMainFrame: true, mediaType: 'audio' }), false);
  assert.equal(permissionAllowed('media', { securityOrigin: APP_ORIGIN, isMainFrame: true, mediaType: 'unknown' }), false);
  assert.equal(permissionAllowed('media', { requestingUrl: 'https://evil.example/', isMainFrame: true, mediaTypes: ['video'] }), false);
  assert.equal(permissionAllowed('media', { requestingUrl: 'file:///tmp/x.html', isMainFrame: true, mediaTypes: ['video'] }), false);
  assert.equal(permissionAllowed('media', { requestingUrl: app, isMainFrame: false, mediaTypes: ['video'] }), false);
  assert.equal(permissionAllowed('media', { isMainFrame: true, mediaTypes: ['video'] }), false);
  for (const permission of ['geolocation', 'notifications', 'display-capture', 'clipboard-read', 'midiSysex', 'hid', 'usb', 'serial', 'openExternal', 'fullscreen', 'unknown']) {
    assert.equal(permissionAllowed(permission, { requestingUrl: app, isMainFrame: true }), false, permission);
  }
});

test('permissionAllowed: clipboard writes (copy LaTeX) for the app page only', () => {
  assert.equal(permissionAllowed('clipboard-sanitized-write', { requestingUrl: app, isMainFrame: true }), true);
  assert.equal(permissionAllowed('clipboard-sanitized-write', { requestingUrl: 'https://evil.example/', isMainFrame: true }), false);
});

test('displayMediaAllowed: the app page, video only, after a click; nothing else', () => {
  const ok = { securityOrigin: APP_ORIGIN, frameUrl: `${APP_ORIGIN}/index.html`, isMainFrame: true, videoRequested: true, audioRequested: false, userGesture: true };
  assert.equal(displayMediaAllowed(ok), true);
  assert.equal(displayMediaAllowed({ ...ok, userGesture: false }), false);
  assert.equal(displayMediaAllowed({ ...ok, audioRequested: true }), false);
  assert.equal(displayMediaAllowed({ ...ok, videoRequested: false }), false);
  assert.equal(displayMediaAllowed({ ...ok, isMainFrame: false }), false);
  assert.equal(displayMediaAllowed({ ...ok, frameUrl: undefined }), false);
  assert.equal(displayMediaAllowed({ ...ok, frameUrl: 'https://evil.example/' }), false);
  assert.equal(displayMediaAllowed({ ...ok, securityOrigin: 'https://evil.example' }), false);
});
