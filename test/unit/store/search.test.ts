/**
 * Full-text search: words, prefixes, diacritics and scripts; anything a user types is
 * safe; deleted history leaves the index; text read from attachments is found.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_QUERY_TERMS, parseSnippet, toFtsQuery } from '../../../main/core/store/fts.js';
import { openStore, SEARCH_CANDIDATES, type ConversationStore } from '../../../main/core/store/store.js';
import { tempDataDir, withRawDb } from './helpers.js';
import path from 'node:path';

describe('toFtsQuery', () => {
  test('quotes every term, doubles quotes, prefix-matches the last term', () => {
    assert.equal(toFtsQuery('integral of'), '"integral" "of"*');
    assert.equal(toFtsQuery('say "hi"'), '"say" """hi"""*');
    assert.equal(toFtsQuery('NEAR(a b) AND c*'), '"NEAR(a" "b)" "AND" "c*"*');
  });

  test('terms without a letter or digit are dropped; nothing searchable gives null', () => {
    assert.equal(toFtsQuery('x - * y'), '"x" "y"*');
    for (const q of ['', '   ', '"', '*', '-', '""', '( ) ^ : +', '\u0301']) assert.equal(toFtsQuery(q), null, JSON.stringify(q));
  });

  test(`at most ${MAX_QUERY_TERMS} terms`, () => {
    const q = toFtsQuery(Array.from({ length: 100 }, (_, i) => `w${i}`).join(' '))!;
    assert.equal(q.split(' ').length, MAX_QUERY_TERMS);
  });
});

describe('parseSnippet', () => {
  test('turns markers into ranges over the plain text', () => {
    assert.deepEqual(parseSnippet('…the \uE000café\uE001 and \uE000x\uE001'), {
      text: '…the café and x',
      highlights: [
        [5, 9],
        [14, 15],
      ],
    });
  });
});

describe('search', () => {
  let store: ConversationStore;
  let cleanup: () => void;
  const ids: Record<string, number> = {};

  before(() => {
    const tmp = tempDataDir();
    cleanup = tmp.cleanup;
    store = openStore({ dataDir: tmp.dir });
    const add = (title: string, texts: string[]) => {
      const c = store.createConversation(title);
      ids[title] = c.id;
      texts.forEach((content, i) => store.addMessage(c.id, { role: i % 2 ? 'assistant' : 'user', content }));
    };
    add('math', ['What is the integral of x squared?', 'The integral is x³/3 + C, by the power rule.']);
    add('french', ['Un café crème, s’il vous plaît', 'Voilà votre café.']);
    add('russian', ['Решите квадратное уравнение x² − 5x + 6 = 0', 'Корни уравнения: 2 и 3.']);
    add('chinese', ['请解释这个数学公式', '这是二次方程。']);
    add('emoji', ['rocket 🚀 launch at dawn']);
    add('quotes', ['He said "NEAR(x, y)" AND then - left * behind']);
  });
  after(() => {
    store.close();
    cleanup();
  });

  const convs = (q: string) => [...new Set(store.search(q).map((h) => h.conversationId))].sort();

  test('finds words, with snippet and highlight ranges', () => {
    const hits = store.search('integral');
    assert.equal(hits.length, 2);
    for (const h of hits) {
      assert.equal(h.conversationId, ids.math);
      assert.equal(h.conversationTitle, 'math');
      assert.equal(h.source, 'message');
      assert.deepEqual(
        h.highlights.map(([s, e]) => h.snippet.slice(s, e).toLowerCase()),
        ['integral'],
      );
    }
    assert.deepEqual(convs('power rule'), [ids.math]);
    assert.deepEqual(convs('power banana'), [], 'all terms must match');
  });

  test('the last term matches as a prefix, earlier ones as words', () => {
    assert.deepEqual(convs('integ'), [ids.math]);
    assert.deepEqual(convs('integ squared'), [], 'only the last term is a prefix');
    assert.deepEqual(convs('squared integ'), [ids.math]);
  });

  test('diacritics, Cyrillic, CJK and emoji', () => {
    assert.deepEqual(convs('cafe'), [ids.french]);
    assert.deepEqual(convs('CAFÉ'), [ids.french]);
    assert.deepEqual(convs('уравнени'), [ids.russian]);
    assert.deepEqual(convs('Корни'), [ids.russian]);
    assert.deepEqual(convs('请解释'), [ids.chinese]);
    assert.deepEqual(convs('rocket 🚀'), [ids.emoji]);
  });

  test('FTS syntax in user input is text, never an error', () => {
    const hostile = [
      '"', '""', '"unterminated', 'AND', 'OR', 'NOT', 'AND OR NOT', '*', '**', '-', '-x', 'x -',
      'NEAR(', 'NEAR(x, y)', 'NEAR(x y, 2)', '(', ')', '^', '^x', 'col:x', 'content:x', '{a b}:x',
      '+', "'", "x' OR '1'='1", '\\', '\u0000', '😀', '\uD83D', 'a'.repeat(10_000),
    ];
    for (const q of hostile) assert.doesNotThrow(() => store.search(q), JSON.stringify(q.slice(0, 40)));
    assert.deepEqual(convs('"NEAR(x, y)" AND'), [ids.quotes], 'operators are matched as words');
    assert.deepEqual(convs('- * "'), []);
  });

  test('limit caps the number of hits', () => {
    assert.equal(store.search('the', { limit: 1 }).length, 1);
  });

  test('text read from an attachment finds its message', () => {
    const sha = store.putAttachment(Buffer.from('scan'), { mime: 'image/png', width: 1, height: 1 });
    const c = store.createConversation('scan');
    const m = store.addMessage(c.id, { role: 'user', content: 'what does this say?', attachments: [sha] });
    assert.deepEqual(store.search('handwritten'), []);
    store.setAttachmentText(sha, 'ocr', 'handwritten note about Maxwell equations');
    assert.deepEqual(
      store.search('maxwell').map((h) => [h.messageId, h.source, h.snippet]),
      [[m.id, 'attachment', 'handwritten note about Maxwell equations']],
    );
    // Replacing the text from the same source replaces what is indexed.
    store.setAttachmentText(sha, 'ocr', 'Faraday');
    assert.deepEqual(store.search('maxwell'), []);
    assert.deepEqual(store.search('faraday').map((h) => h.messageId), [m.id]);
    assert.throws(() => store.setAttachmentText('b'.repeat(64), 'ocr', 'x'), { name: 'StoreError' });
    // The layout (the viewer's text layer) is kept with the text and replaced with it; it is not searched.
    store.setAttachmentText(sha, 'ocr', 'Faraday', '{"lines":[{"text":"Faraday","box":[[1,2],[3,2],[3,4],[1,4]]}]}');
    assert.equal(store.getAttachmentText(sha, 'ocr')?.layout, '{"lines":[{"text":"Faraday","box":[[1,2],[3,2],[3,4],[1,4]]}]}');
    assert.deepEqual(store.search('lines'), []);
    assert.equal(store.getAttachmentText(sha, 'latex'), null);
    store.deleteConversation(c.id);
    assert.deepEqual(store.search('faraday'), []);
  });

  test('deleted conversations vanish from search', () => {
    const c = store.createConversation('temp');
    store.addMessage(c.id, { role: 'user', content: 'zanzibar quokka' });
    const w = store.beginAssistantMessage(c.id, 'm');
    w.append('quokka streaming answer');
    w.complete();
    assert.equal(store.search('quokka').length, 2);
    assert.equal(store.deleteConversation(c.id), true);
    assert.deepEqual(store.search('quokka'), []);
    assert.deepEqual(store.search('zanzibar'), []);
  });
});

describe('search with many matches', () => {
  test('returns the best-ranked among the most recent matches', () => {
    const tmp = tempDataDir();
    // Rows written straight into the file while no store has it open (the store holds its lock).
    const first = openStore({ dataDir: tmp.dir });
    const c = first.createConversation('many');
    first.close();
    let store: ConversationStore | undefined;
    try {
      const total = SEARCH_CANDIDATES + 1000;
      // Dense messages (the word twice in few tokens) rank best; every 50th message is one.
      const dense = (i: number) => i % 50 === 0;
      withRawDb(path.join(tmp.dir, 'history.sqlite3'), (db) => {
        const ins = db.prepare(
          `INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at) VALUES (?, 'user', ?, 'complete', 0, 0)`,
        );
        db.transaction(() => {
          for (let i = 0; i < total; i++) {
            ins.run(c.id, dense(i) ? `lorem lorem ${i}` : `some longer filler text number ${i} with lorem somewhere inside it`);
          }
        })();
      });
      const ids = withRawDb(path.join(tmp.dir, 'history.sqlite3'), (db) =>
        db.prepare<[number], number>('SELECT id FROM messages WHERE conversation_id = ? ORDER BY id').pluck().all(c.id),
      );
      const recent = new Set(ids.slice(-SEARCH_CANDIDATES));
      const denseRecent = new Set(ids.filter((id, i) => dense(i) && recent.has(id)));
      assert.equal(denseRecent.size, SEARCH_CANDIDATES / 50);
      store = openStore({ dataDir: tmp.dir });

      for (const q of ['lorem', 'lor', 'lo']) {
        const hits = store.search(q);
        assert.equal(hits.length, 50, q);
        assert.ok(hits.every((h) => recent.has(h.messageId)), `${q}: only the most recent matches are ranked`);
        assert.deepEqual(new Set(hits.slice(0, denseRecent.size).map((h) => h.messageId)), denseRecent, `${q}: best first`);
        assert.ok(hits.every((h) => h.snippet.includes('lorem') && h.highlights.length > 0), q);
      }
      // A selective query still finds an old message outside the recent window.
      assert.deepEqual(store.search('number 7').map((h) => h.messageId), [ids[7]]);
    } finally {
      store?.close();
      tmp.cleanup();
    }
  });
});
