/**
 * `omnifusion serve` against an outside attack trial (issue 11): malformed WebSocket frames each
 * close only their own socket; an SVG attachment is stored and served as an inert PNG; requests
 * far over the limits are refused by the call itself, quickly, with nothing stored.
 */
/** Resident memory of a process, from /proc (Linux), in MiB. */
function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { call, startServe, stopServe, type Server } from '../helpers/serve.js';

/** A client frame: FIN + `opcode` (plus `rsv` bits), masked unless `unmasked`; `declared` overrides the length field. */
function frame(opcode: number, payload: Buffer, opts: { rsv?: number; unmasked?: boolean; declared?: number } = {}): Buffer {
  const length = opts.declared ?? payload.length;
  const head: number[] = [0x80 | (opts.rsv ?? 0) | opcode];
  const maskBit = opts.unmasked ? 0 : 0x80;
  if (length < 126) head.push(maskBit | length);
  else if (length < 65536) head.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    head.push(maskBit | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(...big);
  }
  if (opts.unmasked) return Buffer.concat([Buffer.from(head), payload]);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

/** Open /api/events by hand (the token as a subprotocol, as the page does); resolves once upgraded. */
function openRawSocket(server: Server): Promise<Socket> {
  const { port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Protocol: omnifusion.events.v1, token.${server.token}\r\n\r\n`,
      );
    });
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(head.split('\r\n')[0]));
      else {
        assert.match(head, /sec-websocket-protocol: omnifusion\.events\.v1\r\n/i, 'the server answers the events protocol, never echoes the token');
        resolve(socket);
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

describe('serve under attack', () => {
  let dataDir: string;
  let server: Server;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-serve-attack-'));
    server = await startServe(dataDir);
  });
  after(async () => {
    await stopServe(server);
    await rm(dataDir, { recursive: true, force: true });
  });

  const closeCode = (code: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(code);
    return b;
  };
  const cases: [string, Buffer][] = [
    ['an unmasked frame', frame(0x1, Buffer.from('hi'), { unmasked: true })],
    ['reserved bits set', frame(0x1, Buffer.from('hi'), { rsv: 0x40 })],
    ['an unknown opcode', frame(0x3, Buffer.from('hi'))],
    ['invalid UTF-8 in a text frame', frame(0x1, Buffer.from([0xff, 0xfe, 0xfd]))],
    ['an oversized control frame', frame(0x9, Buffer.alloc(126, 0x61))],
    ['a bad close code', frame(0x8, closeCode(999))],
    ['a frame declaring 200 MiB', frame(0x2, Buffer.alloc(0), { declared: 200 * 1024 * 1024 })],
    ['a message over the 4 KiB limit', frame(0x1, Buffer.alloc(5000, 0x61))],
  ];
  for (const [name, bytes] of cases) {
    test(`${name}: only that socket closes; serve keeps answering`, async () => {
      const socket = await openRawSocket(server);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      socket.write(bytes);
      await closed;
      assert.equal(server.child.exitCode, null, 'serve is still running');
      assert.ok(Array.isArray(await call(server, 'conversations.list', {})), 'and answers calls');
      const again = await openRawSocket(server);
      again.destroy();
    });
  }

  test('an SVG with script is stored and served as a PNG of its picture, with inert headers', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><script>fetch("/api/call/conversations.list")</script>' +
        '<rect width="40" height="30" fill="#c33" onload="alert(1)"/></svg>',
    );
    const added = await call<{ sha256: string; mime: string; url: string; width: number }>(server, 'attachments.add', { name: 'x.svg', bytes: new Uint8Array(svg) });
    assert.equal(added.mime, 'image/png');
    assert.equal(added.width, 40);
    assert.match(added.url, /^\/files\/[0-9a-f]{64}\?k=[\w-]{22}$/, 'the URL carries its own capability');
    const res = await fetch(`${server.origin}${added.url}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
    const body = Buffer.from(await res.arrayBuffer());
    assert.doesNotMatch(body.toString('latin1'), /<script|<svg/i, 'no markup is served');
    const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [40, 30]);
    assert.deepEqual([...data.subarray(0, 3)], [0xcc, 0x33, 0x33], 'the picture the SVG draws');
    // Without the capability, or with another file's, the file is not served.
    const bare = await fetch(`${server.origin}/files/${added.sha256}`);
    assert.equal(bare.status, 401);
    await bare.arrayBuffer();
  });

  test('a 40 MB question, a 2 MB question and a 50 MB search are refused by the call limits (before any tokenizing), with nothing stored; RSS stays bounded', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const c = await call<{ id: string }>(server, 'conversations.create', { title: 'limits' });
    const rssBefore = rssMiB(server.child.pid!);
    const post = async (name: string, body: string) => {
      const res = await fetch(`${server.origin}/api/call/${name}`, { method: 'POST', body, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
      const reply = (await res.json()) as { ok: boolean; error?: { code: string; message: string } };
      return { status: res.status, reply };
    };
    const huge = await post('generation.send', JSON.stringify({ conversationId: c.id, text: 'q'.repeat(40_000_000), attachments: [] }));
    assert.equal(huge.status, 413);
    assert.deepEqual(huge.reply, { ok: false, error: { code: 'bad_request', message: 'generation.send: the request is 38.1 MiB; this call takes at most 4 MiB' } });
    const long = await post('generation.send', JSON.stringify({ conversationId: c.id, text: 'word '.repeat(400_000), attachments: [] }));
    assert.deepEqual(long.reply, { ok: false, error: { code: 'bad_request', message: 'the question is 2,000,000 characters; at most 100,000 are accepted (attach a long text as a document instead)' } });
    const search = await post('search.messages', JSON.stringify({ query: 'x'.repeat(50_000_000) }));
    assert.equal(search.status, 413);
    assert.equal(search.reply.error?.code, 'bad_request');
    const shortSearch = await post('search.messages', JSON.stringify({ query: 'x'.repeat(501) }));
    assert.deepEqual(shortSearch.reply, { ok: false, error: { code: 'bad_request', message: 'the search is 501 characters; at most 500 are accepted' } });
    assert.deepEqual((await call<{ messages: unknown[] }>(server, 'conversations.get', { id: c.id })).messages, [], 'nothing was stored');
    const grown = rssMiB(server.child.pid!) - rssBefore;
    assert.ok(grown < 64, `serve's RSS grew by ${grown.toFixed(1)} MiB (bound: 64 MiB)`);
  });
});
