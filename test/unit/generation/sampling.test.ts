import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, createRng, mulberry32, sample } from '../../../main/engine/generation/sampling.js';

test('argmax returns the first index of the maximum, like torch.argmax', () => {
  assert.equal(argmax(Float32Array.from([1, 3, 3, 2])), 1);
  assert.equal(argmax(Float32Array.from([-5, -1, -Infinity])), 1);
  assert.equal(argmax(Float32Array.from([-Infinity, -Infinity])), 0);
  assert.equal(argmax(Float32Array.from([Number.NaN, 1, 0])), 1);
});

test('mulberry32 reproduces the reference sequence', () => {
  // Reference values from an independent (Python) transcription of mulberry32.
  const expected: [number, number[]][] = [
    [0, [1144304738, 1416247, 958946056]],
    [42, [2581720956, 1925393290, 3661312704]],
    [0xffffffff, [3850105811, 813802916, 3073704848]],
  ];
  for (const [seed, outputs] of expected) {
    const rng = mulberry32(seed);
    assert.deepEqual(
      outputs.map(() => rng() * 4294967296),
      outputs,
      `seed ${seed}`,
    );
  }
});

test('createRng repeats with a seed and varies without one', () => {
  const a = createRng(7);
  const b = createRng(7);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(Array.from({ length: 5 }, () => b()), xs);
  for (const x of xs) assert.ok(x >= 0 && x < 1);
  const c = createRng(undefined);
  const d = createRng(undefined);
  assert.notDeepEqual(
    Array.from({ length: 3 }, () => c()),
    Array.from({ length: 3 }, () => d()),
  );
});

test('sample maps the uniform draw through the cumulative softmax', () => {
  const logits = Float32Array.from([0.2, 0.5, 0.3], Math.log); // cumulative 0.2, 0.7, 1.0
  assert.equal(sample(logits, () => 0), 0);
  assert.equal(sample(logits, () => 0.19), 0);
  assert.equal(sample(logits, () => 0.21), 1);
  assert.equal(sample(logits, () => 0.69), 1);
  assert.equal(sample(logits, () => 0.71), 2);
  assert.equal(sample(logits, () => 0.999999), 2);
});

test('sample never draws a banned token, even with a draw at the very top', () => {
  const logits = Float32Array.from([0, -Infinity, 0, -Infinity]);
  assert.equal(sample(logits, () => 0.9999999999), 2);
  assert.equal(sample(logits, () => 0), 0);
});

test('sample is stable for large logits and follows the distribution', () => {
  const logits = Float32Array.from([1000 + Math.log(0.5), 1000 + Math.log(0.3), 1000 + Math.log(0.2)]);
  const rng = mulberry32(2024);
  const counts = [0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sample(logits, rng)]!++;
  // Binomial standard deviation ≤ 0.0036 here; 0.015 is over 4 of them.
  assert.ok(Math.abs(counts[0]! / n - 0.5) < 0.015, `${counts}`);
  assert.ok(Math.abs(counts[1]! / n - 0.3) < 0.015, `${counts}`);
  assert.ok(Math.abs(counts[2]! / n - 0.2) < 0.015, `${counts}`);
});

test('sample throws when every token is banned', () => {
  assert.throws(() => sample(Float32Array.from([-Infinity, -Infinity]), () => 0.5), /every token is banned/);
});
