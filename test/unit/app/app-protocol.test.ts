import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_INDEX_URL, APP_ORIGIN, APP_SCHEME_PRIVILEGES, resolveAppRequest, urlOrigin } from '../../../main/app/app-protocol.js';
import { captureFrameUrl } from '../../../main/api/capture.js';

const root = path.resolve('/opt/omnifusion/dist/renderer');
const sha = 'a'.repeat(64);

test('the app origin and its scheme privileges', () => {
  assert.equal(APP_ORIGIN, 'app://omnifusion');
  assert.equal(APP_INDEX_URL, 'app://omnifusion/index.html');
  assert.equal(APP_SCHEME_PRIVILEGES.scheme, 'app');
  assert.equal(APP_SCHEME_PRIVILEGES.privileges?.standard, true);
  assert.equal(APP_SCHEME_PRIVILEGES.privileges?.secure, true);
  assert.notEqual(APP_SCHEME_PRIVILEGES.privileges?.bypassCSP, true);
});

test('urlOrigin: scheme and host for any hierarchical URL, undefined for opaque ones', () => {
  assert.equal(urlOrigin('app://omnifusion/index.html'), 'app://omnifusion');
  assert.equal(urlOrigin('app://OmniFusion/x'), 'app://omnifusion');
  assert.equal(urlOrigin('http://localhost:5173/src/main.ts'), 'http://localhost:5173');
  assert.equal(urlOrigin('https://example.com:443/'), 'https://example.com');
  assert.equal(urlOrigin('file:///home/u/index.html'), undefined);
  assert.equal(urlOrigin('about:blank'), undefined);
  assert.equal(urlOrigin('data:text/html,x'), undefined);
  assert.equal(urlOrigin('javascript:alert(1)'), undefined);
  assert.equal(urlOrigin('app://omnifusion@evil/'), undefined);
  assert.equal(urlOrigin(''), undefined);
});

test('resolveAppRequest: renderer files inside the folder, index.html for /', () => {
  assert.deepEqual(resolveAppRequest('app://omnifusion/', root), { kind: 'asset', file: path.join(root, 'index.html'), contentType: 'text/html; charset=utf-8' });
  assert.deepEqual(resolveAppRequest('app://omnifusion/index.html?x=1#top', root), {
    kind: 'asset',
    file: path.join(root, 'index.html'),
    contentType: 'text/html; charset=utf-8',
  });
  assert.deepEqual(resolveAppRequest('app://omnifusion/assets/index-abc.js', root), {
    kind: 'asset',
    file: path.join(root, 'assets', 'index-abc.js'),
    contentType: 'text/javascript; charset=utf-8',
  });
  const font = resolveAppRequest('app://omnifusion/assets/KaTeX_Main-Regular.woff2', root);
  assert.equal(font.kind === 'asset' && font.contentType, 'font/woff2');
});

test('resolveAppRequest: attachments by hash', () => {
  assert.deepEqual(resolveAppRequest(`app://omnifusion/files/${sha}`, root), { kind: 'attachment', sha256: sha });
  assert.deepEqual(resolveAppRequest('app://omnifusion/files/abc', root), { kind: 'not_found' });
  assert.deepEqual(resolveAppRequest(`app://omnifusion/files/${'A'.repeat(64)}`, root), { kind: 'not_found' });
  assert.deepEqual(resolveAppRequest(`app://omnifusion/files/${sha}/x`, root), { kind: 'not_found' });
});

test('resolveAppRequest: capture frames by display id (the path captureFrameUrl builds)', () => {
  assert.deepEqual(resolveAppRequest(`app://omnifusion${captureFrameUrl(2779098405)}`, root), { kind: 'capture-frame', displayId: 2779098405 });
  assert.deepEqual(resolveAppRequest('app://omnifusion/capture/-1.png', root), { kind: 'not_found' });
  assert.deepEqual(resolveAppRequest('app://omnifusion/capture/7.png/x', root), { kind: 'not_found' });
  assert.deepEqual(resolveAppRequest('app://omnifusion/capture/7.jpg', root), { kind: 'not_found' });
});

test('resolveAppRequest: refuses traversal, other hosts and schemes, unknown types', () => {
  for (const url of [
    'app://omnifusion/assets/..%2F..%2F..%2Fsecret.js',
    'app://omnifusion/assets/..%5C..%5Csecret.js',
    'app://omnifusion/index.html%00.js',
    'app://omnifusion/%E0%A4%A',
    'app://other/index.html',
    'app://user@omnifusion/index.html',
    'file:///opt/omnifusion/dist/renderer/index.html',
    'https://omnifusion/index.html',
    'app://omnifusion/server.exe',
    'app://omnifusion/noext',
    'not a url',
  ]) {
    assert.deepEqual(resolveAppRequest(url, root), { kind: 'not_found' }, url);
  }
});

test('resolveAppRequest: dot segments are resolved by the URL parser and never leave the folder', () => {
  for (const url of [
    'app://omnifusion/../../etc/passwd.html',
    'app://omnifusion/%2e%2e/%2e%2e/etc/passwd.html',
    'app://omnifusion/assets/../../../x.js',
    'app://omnifusion/./assets/.././index.html',
  ]) {
    const target = resolveAppRequest(url, root);
    assert.ok(target.kind === 'not_found' || (target.kind === 'asset' && target.file.startsWith(root + path.sep)), url);
  }
});

test('every file of a built renderer (dist/renderer, when built) is served with a content type', (t) => {
  const built = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/renderer');
  if (!existsSync(path.join(built, 'index.html'))) {
    t.skip('dist/renderer is not built');
    return;
  }
  const files = readdirSync(built, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  assert.ok(files.length > 1);
  for (const entry of files) {
    const relative = path.relative(built, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    const target = resolveAppRequest(`app://omnifusion/${relative.split('/').map(encodeURIComponent).join('/')}`, built);
    assert.equal(target.kind, 'asset', relative);
  }
  const html = readFileSync(path.join(built, 'index.html'), 'utf8');
  for (const [, ref] of html.matchAll(/(?:src|href)="(\.\/[^"]+|\/[^"]+)"/g)) {
    const target = resolveAppRequest(new URL(ref!, 'app://omnifusion/index.html').href, built);
    assert.ok(target.kind === 'asset' && existsSync(target.file), ref);
  }
});
