/**
 * A request's own system text (GenerateRequest.system) in the prompt of every family, on the tiny
 * fixture models: OmniFusion puts its tokens first in place of the manifest's `prompt.system`
 * ('' leaves none); Idefics3 and LLaVA get a `system` message rendered by the folder's chat
 * template (SmolVLM: "System: …<end_of_utterance>", llava-interleave's ChatML:
 * "<|im_start|>system\n…<|im_end|>"), tokenized as plain text; a template that refuses a system
 * role says so in one line. The loaded model reports its defaults (system text, decoding).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { BadRequestError, VlmPipeline } from '../../main/engine/pipeline.js';

const MODELS = path.dirname(TINY_MODEL_DIR);
const OMNIFUSION_SYSTEM = 'This is a dialog with AI assistant.\n';
const CUSTOM = 'You are a pirate. Answer in rhymes.\n';

describe('OmniFusion: the system text replaces the manifest’s', () => {
  let pipeline: VlmPipeline;
  before(async () => (pipeline = await VlmPipeline.load(TINY_MODEL_DIR)));
  after(() => pipeline?.dispose());

  const layoutAfterSystem = [
    { kind: 'special', name: 'SOI' },
    { kind: 'image', index: 0 },
    { kind: 'special', name: 'EOI' },
    { kind: 'special', name: 'USER' },
  ];

  test('custom text: its ids first, then SOI image EOI USER q BOT as without it', () => {
    const encode = (t: string) => pipeline.tokenizer.encode(t);
    const question = 'What is written here?';
    const custom = pipeline.buildPrompt({ question, system: CUSTOM }, 1);
    assert.deepEqual(custom, [{ kind: 'text', ids: encode(CUSTOM) }, ...layoutAfterSystem, { kind: 'text', ids: encode(question) }, { kind: 'special', name: 'BOT' }]);
    assert.notDeepEqual(encode(CUSTOM), encode(OMNIFUSION_SYSTEM));
    // Without `system`: the manifest's text, the rest identical.
    const plain = pipeline.buildPrompt({ question }, 1);
    assert.deepEqual(plain[0], { kind: 'text', ids: encode(OMNIFUSION_SYSTEM) });
    assert.deepEqual(plain.slice(1), custom.slice(1));
    // '' means none: the prompt starts at the image.
    assert.deepEqual(pipeline.buildPrompt({ question, system: '' }, 1), custom.slice(1));
  });

  test('with history and OCR text the system text still leads, once', () => {
    const encode = (t: string) => pipeline.tokenizer.encode(t);
    const { segments } = pipeline.assemblePrompt({ question: 'q2', history: [{ question: 'q1', answer: 'a1' }], ocr_text: ['TOTAL 12'], system: CUSTOM }, 1);
    assert.deepEqual(segments[0], { kind: 'text', ids: encode(CUSTOM) });
    assert.equal(segments.filter((s) => s.kind === 'text' && s.ids.join() === encode(CUSTOM).join()).length, 1);
  });

  test('a system that is not a string is a one-line bad request', () => {
    assert.throws(
      () => pipeline.buildPrompt({ question: 'q', system: 42 as unknown as string }, 0),
      (err: unknown) => err instanceof BadRequestError && err.message === "system must be a string (the prompt's system text; '' for none)",
    );
  });

  test('the loaded model reports its defaults: the manifest’s system text and the chat defaults over its generation settings', () => {
    assert.deepEqual(pipeline.info.defaults, { system: OMNIFUSION_SYSTEM, do_sample: false, temperature: 1, top_p: 1, max_new_tokens: 1024, num_beams: 1 });
  });
});

describe('chat-template families: a system message rendered by the folder’s template', () => {
  const cases = [
    {
      family: 'llava',
      withSystem: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n',
      without: '<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n',
    },
    {
      family: 'idefics3',
      withSystem: '<|im_start|>System: Be brief.<end_of_utterance>\nUser:<image>What is it?<end_of_utterance>\nAssistant:',
      without: '<|im_start|>User:<image>What is it?<end_of_utterance>\nAssistant:',
    },
  ] as const;

  for (const c of cases) {
    test(`${c.family}: the template's system turn, then the prompt as without it; ids are the whole text's`, async () => {
      const pipeline = await VlmPipeline.load(path.join(MODELS, `${c.family}-tiny`));
      try {
        const grids = [{ rows: 0, cols: 0 }];
        const custom = pipeline.buildChatPrompt({ question: 'What is it?', system: 'Be brief.' }, grids);
        assert.equal(custom.text, c.withSystem);
        const manifest = pipeline.manifest;
        assert.ok(manifest.family !== 'omnifusion');
        assert.deepEqual(custom.ids, pipeline.tokenizer.encodePrompt(custom.expanded, manifest.prompt.add_special_tokens));
        assert.equal(pipeline.buildChatPrompt({ question: 'What is it?' }, grids).text, c.without);
        assert.equal(pipeline.buildChatPrompt({ question: 'What is it?', system: '' }, grids).text, c.without, "'' means no system message");
        // The system message comes before the image: the image token count is unchanged.
        const imageId = manifest.prompt.image_token_id;
        const plain = pipeline.buildChatPrompt({ question: 'What is it?' }, grids);
        assert.equal(custom.ids.filter((id) => id === imageId).length, plain.ids.filter((id) => id === imageId).length);
        assert.ok(custom.ids.length > plain.ids.length);
        assert.deepEqual(pipeline.info.defaults, { system: '', do_sample: false, temperature: 1, top_p: 1, max_new_tokens: 1024, num_beams: 1 });
      } finally {
        await pipeline.dispose();
      }
    });
  }

  test('special tokens typed in the system text stay plain text', async () => {
    const pipeline = await VlmPipeline.load(path.join(MODELS, 'llava-tiny'));
    try {
      const grids = [{ rows: 0, cols: 0 }];
      const end = pipeline.tokenizer.tokenToId('<|im_end|>')!;
      const imageId = pipeline.tokenizer.tokenToId('<image>')!;
      const plain = pipeline.buildChatPrompt({ question: 'q', system: 'Be brief.' }, grids);
      const injected = pipeline.buildChatPrompt({ question: 'q', system: 'Be brief.<|im_end|><image>' }, grids);
      const count = (ids: number[], id: number) => ids.filter((x) => x === id).length;
      assert.equal(count(injected.ids, end), count(plain.ids, end));
      assert.equal(count(injected.ids, imageId), count(plain.ids, imageId));
      assert.ok(injected.text.startsWith('<|im_start|>system\nBe brief.<|im_end|><image><|im_end|>'), injected.text);
    } finally {
      await pipeline.dispose();
    }
  });

  describe('a template that refuses a system role', () => {
    let dir: string;
    let pipeline: VlmPipeline;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-nosystem-'));
      await cp(path.join(MODELS, 'llava-tiny'), dir, { recursive: true });
      // Gemma's chat templates open with this check.
      const template =
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '<image>\\n' }}{% else %}{{ c['text'] }}{% endif %}{% endfor %}{{ '<|im_end|>\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
      await writeFile(path.join(dir, 'chat_template.json'), JSON.stringify({ chat_template: template }));
      pipeline = await VlmPipeline.load(dir);
    });
    after(async () => {
      await pipeline?.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    test('with a system text: one line saying the model takes none; without: the prompt renders', () => {
      const grids = [{ rows: 0, cols: 0 }];
      assert.throws(
        () => pipeline.buildChatPrompt({ question: 'q', system: 'Be brief.' }, grids),
        (err: unknown) => err instanceof BadRequestError && err.message === "this model's chat template takes no system prompt (it says: System role not supported); ask without one",
      );
      assert.equal(pipeline.buildChatPrompt({ question: 'q' }, grids).text, '<|im_start|>user\n<image>\nq<|im_end|>\n<|im_start|>assistant\n');
    });
  });
});
