/**
 * `omnifusion serve` against what a user trial found: two servers in one browser (no cookie, one
 * token each), a damaged history database reported, Object.prototype keys in settings, a non-loopback
 * --host refused without --allow-remote, attachment names kept after sending, and bad requests
 * answered with one line (never `internal`, never index.html for an API GET).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { call, startServe, stopServe, type Server } from '../helpers/serve.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { encodeBytes } from '../../main/server/wire.js';

/** The reply of a call sent as a raw body with the token. */
async function rawCall(server: Server, name: string, body: string): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> {
  const res = await fetch(`${server.origin}/api/call/${name}`, { method: 'POST', body, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
  assert.equal(res.status, 200, `${name} ${body}`);
  return (await res.json()) as { ok: boolean; error?: { code: string; message: string } };
}

describe('omnifusion serve hardening', () => {
  let dataDir: string;
  let server: Server;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-serve-hardening-'));
    server = await startServe(dataDir);
  });
  after(async () => {
    await stopServe(server);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('no cookie is set, and one server\'s token is no key to another', async () => {
    const otherDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-serve-hardening-b-'));
    const other = await startServe(otherDir, { args: [] });
    try {
      for (const s of [server, other]) {
        const page = await fetch(s.url);
        assert.equal(page.status, 200);
        assert.deepEqual(page.headers.getSetCookie(), [], 'the token never lives in a cookie (cookies are shared by every port of a host)');
        assert.doesNotMatch(await page.text(), new RegExp(s.token), 'the page itself does not hold the token');
      }
      const wrong = await fetch(`${server.origin}/api/call/conversations.list`, {
        method: 'POST',
        body: '{}',
        headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/json' },
      });
      assert.equal(wrong.status, 401);
    } finally {
      await stopServe(other);
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  test('settings.set with __proto__ or constructor: unknown setting, like any unknown key', async () => {
    for (const [body, key] of [
      ['{"__proto__":{"theme":"dark"}}', '__proto__'],
      ['{"constructor":{"theme":"dark"}}', 'constructor'],
      ['{"bogus":1}', 'bogus'],
    ] as const) {
      assert.deepEqual(await rawCall(server, 'settings.set', body), { ok: false, error: { code: 'bad_request', message: `unknown setting "${key}"` } }, body);
    }
    assert.equal((await call<{ theme: string }>(server, 'settings.get', {})).theme, 'system', 'nothing changed');
  });

  test('a request body that is not a JSON object gets one line', async () => {
    for (const body of ['null', '[]', '5', '"x"', 'true']) {
      assert.deepEqual(await rawCall(server, 'conversations.get', body), { ok: false, error: { code: 'bad_request', message: 'the request must be a JSON object' } }, body);
    }
  });

  test('GET of an API call is 405 with Allow: POST, not the page', async () => {
    const res = await fetch(`${server.origin}/api/call/conversations.list`, { headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.doesNotMatch(await res.text(), /<html/i);
    const unknown = await fetch(`${server.origin}/api/nothing`, { headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
  });

  test('attachments.add checks the name; rename caps the title; nothing is stored by a refused request', async () => {
    const bytes = new Uint8Array(await sharp({ create: { width: 20, height: 20, channels: 3, background: '#36c' } }).png().toBuffer());
    const add = (name: unknown) => rawCall(server, 'attachments.add', JSON.stringify({ name, bytes }, encodeBytes));
    assert.deepEqual(await add(123), { ok: false, error: { code: 'bad_request', message: 'name must be text (the file name)' } });
    assert.deepEqual(await add('n'.repeat(256)), { ok: false, error: { code: 'bad_request', message: 'name is longer than 255 characters' } });
    assert.deepEqual(await add('bad\u0007name.png'), { ok: false, error: { code: 'bad_request', message: 'name has control characters' } });
    const c = await call<{ id: string }>(server, 'conversations.create', { title: 'Title' });
    assert.deepEqual(await rawCall(server, 'conversations.rename', JSON.stringify({ id: c.id, title: 't'.repeat(100_000) })), {
      ok: false,
      error: { code: 'bad_request', message: 'the title is longer than 200 characters' },
    });
    assert.equal((await call<{ title: string }>(server, 'conversations.get', { id: c.id })).title, 'Title');
    await call(server, 'conversations.delete', { id: c.id });
  });

  test("an attachment's file name survives generation.send (reply and conversations.get)", async () => {
    await call(server, 'settings.set', { maxNewTokens: 2 });
    const bytes = new Uint8Array(await sharp({ create: { width: 30, height: 20, channels: 3, background: '#3c6' } }).png().toBuffer());
    const added = await call<{ sha256: string; name: string }>(server, 'attachments.add', { name: 'formula one.png', bytes });
    assert.equal(added.name, 'formula one.png');
    const c = await call<{ id: string }>(server, 'conversations.create', { title: 'names' });
    const sent = await call<{ userMessage: { id: string; attachments: { name: string }[] }; assistantMessage: { id: string } }>(server, 'generation.send', {
      conversationId: c.id,
      text: 'What is it?',
      attachments: [added.sha256],
    });
    assert.deepEqual(sent.userMessage.attachments.map((a) => a.name), ['formula one.png']);
    const got = await call<{ messages: { id: string; attachments: { name: string }[] }[] }>(server, 'conversations.get', { id: c.id });
    assert.deepEqual(got.messages.find((m) => m.id === sent.userMessage.id)!.attachments.map((a) => a.name), ['formula one.png']);
  });
});

describe('serve: a damaged history database', () => {
  test('is reported on stderr and by app.notices; a new database is started', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-serve-damaged-'));
    try {
      await writeFile(path.join(dataDir, 'history.sqlite3'), Buffer.alloc(8192, 'not a database at all '));
      const server = await startServe(dataDir, { args: [] });
      let stderr = '';
      server.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      try {
        const moved = (await readdir(dataDir)).find((f) => f.startsWith('history.sqlite3.corrupt-'));
        assert.ok(moved, 'the damaged file was kept');
        const message = `the history database was damaged and nothing in it could be read; it was moved to ${path.join(dataDir, moved)} and a new one started`;
        assert.deepEqual(await call(server, 'app.notices', {}), [{ code: 'history_recovered', message }]);
        assert.ok(stderr.split('\n').includes(`note: ${message}`), stderr);
        assert.deepEqual(await call(server, 'conversations.list', {}), []);
      } finally {
        await stopServe(server);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('serve --host', () => {
  test('a non-loopback --host is refused with one line unless --allow-remote', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-serve-host-'));
    try {
      for (const host of ['0.0.0.0', '::']) {
        const run = await runCli(['serve', '--data-dir', dataDir, '--port', '0', '--host', host], { timeoutMs: 30_000 });
        assert.ok(isOneLineError(run), `one line expected, got code ${run.code}:\n${run.stderr}`);
        assert.equal(run.code, 2);
        assert.equal(run.stderr, `omnifusion: --host ${host} is not a loopback address: other machines would reach the app over plain HTTP; add --allow-remote to serve them anyway\n`);
        assert.equal(run.stdout, '');
      }
      const loopback = await startServe(dataDir, { args: ['--host', '127.0.0.1'] });
      await stopServe(loopback);

      const remote = await startServe(dataDir, { args: ['--host', '0.0.0.0', '--allow-remote'] });
      let stderr = '';
      remote.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      try {
        const { port } = new URL(remote.origin);
        const res = await fetch(`http://127.0.0.1:${port}/api/call/conversations.list`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${remote.token}`, 'content-type': 'application/json' } });
        assert.deepEqual(await res.json(), { ok: true, value: [] });
        const anon = await fetch(`http://127.0.0.1:${port}/api/call/conversations.list`, { method: 'POST', body: '{}' });
        assert.equal(anon.status, 401, 'the token is still required');
        await new Promise((r) => setTimeout(r, 100));
        assert.match(stderr, /^warning: serving 0\.0\.0\.0 to other machines over unencrypted HTTP: the access token is the only protection$/m);
      } finally {
        await stopServe(remote);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
