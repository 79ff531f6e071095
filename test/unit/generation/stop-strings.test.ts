import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopStringMatcher } from '../../../main/engine/generation/stop-strings.js';
import { mulberry32 } from '../../../main/engine/generation/sampling.js';

test('a stop string inside one delta cuts the text before it', () => {
  const m = new StopStringMatcher(['USER:']);
  assert.deepEqual(m.push('Hello USER: more'), { emit: 'Hello ', matched: true });
  assert.equal(m.matched, true);
  assert.deepEqual(m.push('later'), { emit: '', matched: true });
  assert.equal(m.flush(), '');
});

test('a stop string spanning deltas is held back, then cut', () => {
  const m = new StopStringMatcher(['USER:']);
  assert.deepEqual(m.push('Hi US'), { emit: 'Hi ', matched: false });
  assert.deepEqual(m.push('E'), { emit: '', matched: false });
  assert.deepEqual(m.push('R: x'), { emit: '', matched: true });
});

test('held text that does not become a stop string is released', () => {
  const m = new StopStringMatcher(['USER:']);
  assert.deepEqual(m.push('the US'), { emit: 'the ', matched: false });
  assert.deepEqual(m.push('A'), { emit: 'USA', matched: false });
  assert.deepEqual(m.push(' and U'), { emit: ' and ', matched: false });
  assert.equal(m.flush(), 'U');
  assert.equal(m.matched, false);
});

test('overlapping prefixes: "aab" in "aaab" is found after holding "aa"', () => {
  const m = new StopStringMatcher(['aab']);
  assert.deepEqual(m.push('aa'), { emit: '', matched: false });
  assert.deepEqual(m.push('ab'), { emit: 'a', matched: true });
});

test('the earliest of several stop strings wins', () => {
  const m = new StopStringMatcher(['</s>', 'END']);
  assert.deepEqual(m.push('a END b </s>'), { emit: 'a ', matched: true });
  const n = new StopStringMatcher(['</s>', 'END']);
  assert.deepEqual(n.push('x </'), { emit: 'x ', matched: false });
  assert.deepEqual(n.push('s>END'), { emit: '', matched: true });
});

test('flush takes a last delta: cut at a match, else everything', () => {
  const m = new StopStringMatcher(['###']);
  assert.deepEqual(m.push('one #'), { emit: 'one ', matched: false });
  assert.equal(m.flush('## two'), '');
  assert.equal(m.matched, true);
  const n = new StopStringMatcher(['###']);
  n.push('one #');
  assert.equal(n.flush('#'), '##');
});

test('without stop strings text passes straight through', () => {
  const m = new StopStringMatcher([]);
  assert.deepEqual(m.push('USER: anything'), { emit: 'USER: anything', matched: false });
  assert.equal(m.flush(), '');
});

test('an empty stop string is refused', () => {
  assert.throws(() => new StopStringMatcher(['ok', '']), /must not be empty/);
});

test('any split of the text gives the text cut at the first stop string, never showing a stop string', () => {
  const rng = mulberry32(3);
  const alphabet = 'ab \n😀';
  const stops = ['ab a', '\n\n', 'b😀'];
  for (let trial = 0; trial < 500; trial++) {
    const chars = Array.from({ length: Math.floor(rng() * 25) }, () => [...alphabet][Math.floor(rng() * 5)]!);
    const text = chars.join('');
    const cuts = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
    const expected = cuts.length ? text.slice(0, Math.min(...cuts)) : text;

    const m = new StopStringMatcher(stops);
    let shown = '';
    let i = 0;
    while (i < chars.length) {
      const n = 1 + Math.floor(rng() * 4);
      const { emit } = m.push(chars.slice(i, i + n).join(''));
      shown += emit;
      i += n;
      for (const s of stops) assert.ok(!shown.includes(s), `shown ${JSON.stringify(shown)}`);
      assert.ok(expected.startsWith(shown), 'only text from before the stop is ever shown');
    }
    shown += m.flush();
    assert.equal(shown, expected, JSON.stringify(text));
    assert.equal(m.matched, cuts.length > 0);
  }
});
