/** main/engine/session.ts: which provider each graph of a VLM is opened with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXECUTION_PROVIDERS, providerForGraph } from '../../main/engine/session.js';
import { DEVICES } from '../../main/api/contract.js';

test('Core ML takes the vision encoder only; every other provider runs all three graphs', () => {
  assert.equal(providerForGraph('vision_encoder', 'coreml'), 'coreml');
  assert.equal(providerForGraph('embed_tokens', 'coreml'), 'cpu');
  assert.equal(providerForGraph('decoder_model_merged', 'coreml'), 'cpu');
  for (const ep of ['cpu', 'webgpu', 'cuda', 'dml', 'auto'] as const) {
    for (const graph of ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const) assert.equal(providerForGraph(graph, ep), ep);
  }
});

test('the devices a user can choose are exactly the engine\'s execution providers', () => {
  assert.deepEqual([...DEVICES].sort(), [...EXECUTION_PROVIDERS].sort());
});
