/**
 * The API service's page text: every added image is read in the background by the engine
 * process (PP-OCRv4), stored with its layout, announced, and found by history search; OCR
 * tokens go into the prompt per the conversation's setting ('auto': document-like images only)
 * where the model's manifest places them. Runs the real engine process with the tiny model on
 * a real page (skipped without ../shared/testdata/real).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ImageText, Message } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../../fixtures/reference-cases.js';

const PAGE = path.join(REAL_DATA_DIR, 'documents', 'tesseract_phototest-rotated-L.png');
const skip = existsSync(PAGE) ? false : 'needs ../shared/testdata/real';

function textOf(service: ApiService, sha256: string): Promise<ImageText> {
  return new Promise((resolve) => {
    const off = service.on('attachments.text', (t) => {
      if (t.sha256 !== sha256) return;
      off();
      resolve(t);
    });
    void service.call('attachments.text', { sha256 }).then((t) => {
      if (t.status === 'pending') return;
      off();
      resolve(t);
    });
  });
}

function answered(service: ApiService, messageId: string): Promise<Message> {
  return new Promise((resolve) => {
    const off = service.on('generation.done', ({ message }) => {
      if (message.id !== messageId) return;
      off();
      resolve(message);
    });
  });
}

test('a real page is read in the background, searchable by a word only in the image, with OCR tokens per setting', { skip, timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'omnifusion-page-text-'));
  const service = await createApiService({ dataDir, modelDir: TINY_MODEL_DIR });
  try {
    await service.call('settings.set', { maxNewTokens: 4 });
    const page = await service.call('attachments.add', { name: 'page.png', bytes: new Uint8Array(readFileSync(PAGE)) });
    const read = await textOf(service, page.sha256);
    assert.equal(read.status, 'done');
    assert.equal(read.rotation, 90, 'the sideways page was turned upright before reading');
    assert.match(read.text, /quick brown dog/);
    assert.equal(read.documentLike, true);
    const line = read.blocks.flatMap((b) => b.lines).find((l) => l.text.includes('quick brown'))!;
    assert.ok(line.confidence > 0.8);
    for (const [x, y] of line.box) assert.ok(x >= 0 && y >= 0 && x <= read.width && y <= read.height, 'boxes lie in the image');

    // auto + a document-like page: the question carries the page text as OCR tokens.
    const c = await service.call('conversations.create', { title: 'scan' });
    assert.equal(c.ocrTokens, 'auto');
    const sent = await service.call('generation.send', { conversationId: c.id, text: 'What is this?', attachments: [page.sha256] });
    const withOcr = await answered(service, sent.assistantMessage.id);
    assert.ok((withOcr.timings?.ocrTokens ?? 0) > 10, `OCR tokens used: ${withOcr.timings?.ocrTokens}`);

    // A word only in the image finds the conversation.
    const messages = (await service.call('conversations.get', { id: c.id })).messages;
    assert.ok(messages.every((m) => !/lazy/i.test(m.content)), 'the word is not in any message text');
    const hits = await service.call('search.messages', { query: 'lazy' });
    assert.deepEqual([...new Set(hits.map((h) => h.conversationId))], [c.id]);
    assert.ok(hits.every((h) => h.source === 'attachment'), 'the hit says it is in the image');

    // off: the same question without OCR tokens, a prompt shorter by exactly those tokens.
    assert.equal((await service.call('conversations.setOcrTokens', { id: c.id, ocrTokens: 'off' })).ocrTokens, 'off');
    const again = await service.call('generation.regenerate', { messageId: sent.assistantMessage.id });
    const without = await answered(service, again.assistantMessage.id);
    assert.equal(without.timings?.ocrTokens, undefined);
    assert.ok((withOcr.timings?.promptTokens ?? 0) > (without.timings?.promptTokens ?? 0));
    assert.ok((withOcr.timings!.promptTokens! - without.timings!.promptTokens!) >= withOcr.timings!.ocrTokens!, 'the prompt grew by at least the OCR text');

    // auto + a picture without text: no OCR tokens.
    const photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#6a9' } })
      .composite([{ input: Buffer.from('<svg width="320" height="240"><circle cx="160" cy="120" r="80" fill="#c33"/></svg>') }])
      .png()
      .toBuffer();
    const pic = await service.call('attachments.add', { name: 'photo.png', bytes: new Uint8Array(photo) });
    const picText = await textOf(service, pic.sha256);
    assert.equal(picText.status, 'done');
    assert.equal(picText.documentLike, false);
    const c2 = await service.call('conversations.create', { title: 'photo' });
    const sent2 = await service.call('generation.send', { conversationId: c2.id, text: 'What is this?', attachments: [pic.sha256] });
    assert.equal((await answered(service, sent2.assistantMessage.id)).timings?.ocrTokens, undefined);

    await assert.rejects(service.call('conversations.setOcrTokens', { id: c.id, ocrTokens: 'sometimes' as never }), (e) => service.describeError(e).code === 'bad_request');
    await assert.rejects(service.call('attachments.text', { sha256: 'e'.repeat(64) }), (e) => service.describeError(e).code === 'not_found');
  } finally {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
