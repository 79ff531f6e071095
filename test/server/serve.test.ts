/**
 * `omnifusion serve` as a separate process with the tiny model: the token and Origin checks, the
 * typed API over HTTP, streamed events over WebSocket, and crash safety of the history: kill -9
 * in the middle of a streamed answer, restart, and the database is intact with the interrupted
 * answer marked partial.
 */
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { call, startServe, stopServe, type Server } from '../helpers/serve.js';
import { isOneLineError, runCli } from '../helpers/cli.js';

interface Msg {
  id: string;
  role: string;
  status: string;
  content: string;
}

describe('omnifusion serve', () => {
  let dataDir: string;
  let server: Server;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-serve-'));
    server = await startServe(dataDir);
  });
  after(async () => {
    await stopServe(server);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('every request needs the token; another Origin or Host is refused', async () => {
    const anon = await fetch(`${server.origin}/api/call/conversations.list`, { method: 'POST', body: '{}' });
    assert.equal(anon.status, 401);
    const wrong = await fetch(`${server.origin}/api/call/conversations.list`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    // The page is the same for everyone and holds no secret; the API and the files are what need the token.
    const page = await fetch(`${server.origin}/`);
    assert.equal(page.status, 200);
    await page.arrayBuffer();
    const inQuery = await fetch(`${server.origin}/api/call/conversations.list?token=${server.token}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(inQuery.status, 401, 'the token is not taken from the query string');
    const form = await fetch(`${server.origin}/api/call/conversations.list`, {
      method: 'POST',
      body: 'a=1',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415, 'a form POST (sendable cross-site without a preflight) is refused');
    const crossSite = await fetch(`${server.origin}/api/call/conversations.list`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${server.token}`, origin: 'http://evil.example' },
    });
    assert.equal(crossSite.status, 403);
  });

  test('malformed requests get a status line and the server keeps serving', async () => {
    const { port } = new URL(server.origin);
    /** A raw HTTP/1.1 request (fetch would normalise the target); resolves with the status line. */
    const raw = (target: string, extra = ''): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}Connection: close\r\n\r\n`));
        let data = '';
        socket.on('data', (d) => (data += String(d)));
        socket.on('end', () => resolve(data.split('\r\n')[0]!));
        socket.on('error', reject);
      });
    assert.equal(await raw('//[x'), 'HTTP/1.1 400 Bad Request', 'a target that is not a URL');
    assert.equal(await raw('//[x', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'), 'HTTP/1.1 403 Forbidden', 'the same as a WebSocket upgrade');
    assert.equal(await raw(`/%E0%A4%A?token=${server.token}`), 'HTTP/1.1 400 Bad Request', 'a bad percent-escape');
    const big = await fetch(`${server.origin}/api/call/conversations.list`, {
      method: 'POST',
      body: new Uint8Array(100 * 1024 * 1024 + 1),
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    });
    assert.equal(big.status, 413);
    assert.deepEqual(await big.json(), { ok: false, error: { code: 'bad_request', message: 'conversations.list: the request is 100.0 MiB; this call takes at most 4 MiB' } });
    assert.deepEqual(await call(server, 'conversations.list', {}), [], 'still serving');

    // Wrong types are the caller's mistake: one line naming the field, never an internal error.
    const reply = async (name: string, body: unknown) =>
      (await (await fetch(`${server.origin}/api/call/${name}`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } })).json()) as {
        ok: boolean;
        error?: { code: string; message: string };
      };
    for (const [name, body, message] of [
      ['conversations.create', { title: 5 }, 'title must be text'],
      ['search.messages', { query: { a: 1 } }, 'query must be text'],
      ['generation.send', { conversationId: '1', text: 5, attachments: [] }, 'text must be text'],
      ['generation.send', { conversationId: '1', text: 'hi', attachments: [null] }, 'attachments must be a list of sha256 hashes of added images'],
      ['settings.set', { zzz: 1 }, 'unknown setting "zzz"'],
    ] as const) {
      assert.deepEqual(await reply(name, body), { ok: false, error: { code: 'bad_request', message } }, name);
    }
  });

  test('attach, send, stream over WebSocket, store, search', async () => {
    const conversation = await call<{ id: string }>(server, 'conversations.create', { title: 'Chart' });
    const bytes = new Uint8Array(await readFile(path.join(REAL_DATA_DIR, 'screenshots/vegalite_bar.png')));
    const attachment = await call<{ sha256: string; width: number; height: number; url: string }>(server, 'attachments.add', { name: 'bar.png', bytes });
    assert.equal(attachment.width, 232);
    await assert.rejects(call(server, 'attachments.add', { name: 'notes.png', bytes: new TextEncoder().encode('not an image') }), /notes\.png: not an image/);

    const ws = new WebSocket(`${server.origin.replace('http', 'ws')}/api/events`, { headers: { authorization: `Bearer ${server.token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const deltas: string[] = [];
    const done = new Promise<Msg>((resolve) =>
      ws.on('message', (data) => {
        const { event, payload } = JSON.parse(String(data));
        if (event === 'generation.token') deltas.push(payload.text);
        if (event === 'generation.done') resolve(payload.message);
      }),
    );
    const sent = await call<{ userMessage: Msg; assistantMessage: Msg }>(server, 'generation.send', {
      conversationId: conversation.id,
      text: 'Which bar is the highest?',
      attachments: [attachment.sha256],
    });
    assert.equal(sent.assistantMessage.status, 'partial');
    const finished = await done;
    ws.close();
    assert.equal(finished.status, 'complete');
    assert.ok(deltas.length > 1, `streamed in ${deltas.length} deltas`);
    assert.equal(deltas.join(''), finished.content);

    const stored = await call<{ messages: Msg[] }>(server, 'conversations.get', { id: conversation.id });
    assert.deepEqual(stored.messages.map((m) => [m.role, m.status]), [['user', 'complete'], ['assistant', 'complete']]);
    assert.equal(stored.messages[1]!.content, finished.content);
    const hits = await call<{ conversationId: string; snippet: string }[]>(server, 'search.messages', { query: 'highest' });
    assert.deepEqual(hits.map((h) => h.conversationId), [conversation.id]);
    assert.match(hits[0]!.snippet, /«highest»/);
    const file = await fetch(`${server.origin}${attachment.url}`, { headers: { authorization: `Bearer ${server.token}` } });
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.equal((await file.arrayBuffer()).byteLength, bytes.byteLength);
  });
});

describe('kill -9 of serve in the middle of a streamed answer', () => {
  test('after restart the database is intact and the answer is partial up to the last saved batch', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-crash-'));
    try {
      let server = await startServe(dataDir);
      await call(server, 'settings.set', { maxNewTokens: 4000, greedy: true });
      const conversation = await call<{ id: string }>(server, 'conversations.create', { title: 'Crash' });
      const image = await call<{ sha256: string }>(server, 'attachments.add', {
        name: 'receipt.jpg',
        bytes: new Uint8Array(await readFile(path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg'))),
      });
      // A first answer that completes, which must survive intact.
      await call(server, 'settings.set', { maxNewTokens: 8 });
      const first = await call<{ assistantMessage: Msg }>(server, 'generation.send', { conversationId: conversation.id, text: 'What is the total?', attachments: [image.sha256] });
      // What is saved so far, as the store reads it back (unsaved streamed text is not included).
      // Through the API: the store holds the database file's lock while serve runs.
      const row = async (id: string): Promise<Msg> => {
        const { messages } = await call<{ messages: Msg[] }>(server, 'conversations.get', { id: conversation.id });
        return messages.find((m) => m.id === id)!;
      };
      while ((await row(first.assistantMessage.id)).status !== 'complete') await new Promise((r) => setTimeout(r, 20));
      const completed = (await row(first.assistantMessage.id)).content;

      await call(server, 'settings.set', { maxNewTokens: 4000 });
      const long = await call<{ assistantMessage: Msg }>(server, 'generation.send', { conversationId: conversation.id, text: 'Describe it in detail.', attachments: [] });
      let seen = '';
      while (seen.length < 600) {
        seen = (await row(long.assistantMessage.id)).content;
        await new Promise((r) => setTimeout(r, 10));
      }
      server.child.kill('SIGKILL');
      await new Promise((resolve) => server.child.once('exit', resolve));

      server = await startServe(dataDir);
      try {
        const stored = await call<{ messages: Msg[] }>(server, 'conversations.get', { id: conversation.id });
        const [, firstAnswer, , interrupted] = stored.messages;
        assert.equal(firstAnswer!.status, 'complete');
        assert.equal(firstAnswer!.content, completed);
        assert.equal(interrupted!.status, 'partial');
        assert.ok(interrupted!.content.startsWith(seen), 'nothing saved before the kill is lost');
        assert.ok(interrupted!.content.length < 20_000, 'the answer was cut by the kill');
      } finally {
        await stopServe(server);
      }
      // Checked once serve has let go of the file (it holds the file's lock while it runs).
      const check = new Database(path.join(dataDir, 'history.sqlite3'), { readonly: true });
      assert.equal((check.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check, 'ok');
      check.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('one OmniFusion process per data folder', () => {
  const serveArgs = (dataDir: string) => ['serve', '--model', TINY_MODEL_DIR, '--data-dir', dataDir, '--port', '0'];

  test('a second serve on the same data folder is refused with one line naming the first (exit 1); after a clean stop it starts', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-lock-'));
    try {
      const first = await startServe(dataDir);
      try {
        await call(first, 'conversations.create', { title: 'Kept' });
        const second = await runCli(serveArgs(dataDir), { timeoutMs: 30_000 });
        assert.ok(isOneLineError(second), `one line expected, got code ${second.code}:\n${second.stderr}`);
        assert.equal(second.code, 1);
        assert.equal(second.stderr, `omnifusion: ${dataDir} is already used by another OmniFusion process (pid ${first.child.pid}); stop it first, or use another data folder\n`);
        assert.equal(second.stdout, '', 'the second one never served');
        // The first one is unharmed.
        assert.deepEqual((await call<{ title: string }[]>(first, 'conversations.list', {})).map((c) => c.title), ['Kept']);
      } finally {
        await stopServe(first);
      }
      await assert.rejects(stat(path.join(dataDir, 'omnifusion.lock')), { code: 'ENOENT' }, 'a clean stop releases the folder');
      const started = Date.now();
      const again = await startServe(dataDir);
      try {
        assert.ok(Date.now() - started < 8000, 'no wait after a clean stop');
        assert.deepEqual((await call<{ title: string }[]>(again, 'conversations.list', {})).map((c) => c.title), ['Kept']);
      } finally {
        await stopServe(again);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('the lock of a serve killed with kill -9 does not block: the next serve takes the folder over', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-lock-kill-'));
    try {
      const first = await startServe(dataDir);
      await call(first, 'conversations.create', { title: 'Before the kill' });
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      assert.ok((await stat(path.join(dataDir, 'omnifusion.lock'))).isDirectory(), 'the killed process left its lock behind');
      const again = await startServe(dataDir);
      try {
        assert.deepEqual((await call<{ title: string }[]>(again, 'conversations.list', {})).map((c) => c.title), ['Before the kill']);
        // And it holds the folder now: a third is refused, naming the new holder.
        const third = await runCli(serveArgs(dataDir), { timeoutMs: 30_000 });
        assert.equal(third.code, 1, third.stderr);
        assert.match(third.stderr, new RegExp(`already used by another OmniFusion process \\(pid ${again.child.pid}\\)`));
      } finally {
        await stopServe(again);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
