/**
 * Idefics3 family pieces on their own: the processor's resize arithmetic, Pillow-exact LANCZOS,
 * tiling, the prompt expansion, the chat template and the image-feature merge.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { idefics3Preprocess, idefics3PreprocessConfig, idefics3ResizeSize, idefics3TileAlignedSize } from '../../main/engine/preprocess/idefics3.js';
import { resizePil } from '../../main/engine/preprocess/resample.js';
import { expandImageTokens, idefics3Messages, imagePromptString, mergeImageFeatures, PromptError, renderChatTemplate } from '../../main/engine/models/idefics3.js';
import type { DecodedImage } from '../../main/media/images/decode.js';

/** SmolVLM-256M-Instruct's chat template (tokenizer_config.json / chat_template.json). */
const SMOLVLM_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";
const TOKENS = { image_token: '<image>', tiles: { fake_image_token: '<fake_token_around_image>', global_image_token: '<global-img>' }, image_seq_len: 64 };
const SMOLVLM_PRE = idefics3PreprocessConfig({
  do_convert_rgb: true, do_image_splitting: true, do_normalize: true, do_pad: true, do_rescale: true, do_resize: true,
  image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], max_image_size: { longest_edge: 512 }, resample: 1,
  rescale_factor: 0.00392156862745098, size: { longest_edge: 2048 },
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const image = (width: number, height: number, seed = 1): DecodedImage => {
  const r = rng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { data, width, height, source: { format: 'raw', width, height, frames: 1, frame: 0, hadAlpha: false, orientation: 1, space: 'srgb', depth: 'uchar', bytes: data.length } };
};

describe('Idefics3ImageProcessor sizes (transformers, slow processor)', () => {
  test('longest edge to size.longest_edge, the other int(longest / aspect) rounded up to even, then up to tile multiples', () => {
    // 80×100 (W×H) → 1638×2048 → 2048×2048: 4 × 4 tiles + global (17 × 64 = 1088 image tokens)
    assert.deepEqual(idefics3ResizeSize(80, 100, 2048), [1638, 2048]);
    assert.deepEqual(idefics3TileAlignedSize(1638, 2048, 512), [2048, 2048]);
    // 864×1296: 1365.33 → 1365 → even 1366; then 1366 → 1536
    assert.deepEqual(idefics3ResizeSize(864, 1296, 2048), [1366, 2048]);
    assert.deepEqual(idefics3TileAlignedSize(1366, 2048, 512), [1536, 2048]);
    // small images are enlarged too: 187×89 → 2048×974 → 2048×1024
    assert.deepEqual(idefics3ResizeSize(187, 89, 2048), [2048, 974]);
    assert.deepEqual(idefics3TileAlignedSize(2048, 974, 512), [2048, 1024]);
    // a square stays square; an extreme strip keeps at least 1 pixel (then 2: even)
    assert.deepEqual(idefics3ResizeSize(512, 512, 2048), [2048, 2048]);
    assert.deepEqual(idefics3ResizeSize(5000, 1, 2048), [2048, 1]);
    assert.deepEqual(idefics3TileAlignedSize(2048, 1, 512), [2048, 512]);
  });

  test('tiles row-major then the global image; pixel_attention_mask all ones; normalized with HF float32 arithmetic', () => {
    const img = image(700, 300, 7);
    const p = idefics3Preprocess([img], SMOLVLM_PRE);
    // 700×300 → 2048×878 → 2048×1024: 2 rows × 4 cols + global
    assert.deepEqual(p.grids, [{ rows: 2, cols: 4 }]);
    assert.deepEqual(p.dims, [1, 9, 3, 512, 512]);
    assert.ok(p.pixel_attention_mask.every((x) => x === 1));
    // the tile (row 1, col 2) is the window of the stage-2 image at x 1024, y 512
    const s1 = resizePil(img.data, 700, 300, 2048, 878, 'lanczos');
    const s2 = resizePil(s1, 2048, 878, 2048, 1024, 'lanczos');
    const tile = 1 * 4 + 2;
    const plane = 512 * 512;
    for (const [y, x, c] of [[0, 0, 0], [17, 300, 1], [511, 511, 2]] as const) {
      const u = s2[((512 + y) * 2048 + 1024 + x) * 3 + c]!;
      const want = Math.fround(Math.fround(Math.fround(u * 0.00392156862745098) - 0.5) / 0.5);
      assert.equal(p.pixel_values[tile * 3 * plane + c * plane + y * 512 + x], want);
    }
    // global = stage-2 image resized to 512²
    const g = resizePil(s2, 2048, 1024, 512, 512, 'lanczos');
    assert.equal(p.pixel_values[8 * 3 * plane + 2 * plane + 100 * 512 + 200], Math.fround(Math.fround(Math.fround(g[(100 * 512 + 200) * 3 + 2]! * 0.00392156862745098) - 0.5) / 0.5));
  });

  test('longest_edge ≤ tile: not split (rows = cols = 0), one 512² frame; without splitting frames keep their size and are padded', () => {
    const single = idefics3Preprocess([image(300, 200)], { ...SMOLVLM_PRE, longest_edge: 512 });
    assert.deepEqual(single.grids, [{ rows: 0, cols: 0 }]);
    assert.deepEqual(single.dims, [1, 1, 3, 512, 512]);
    const unsplit = idefics3Preprocess([image(300, 200), image(100, 400, 2)], { ...SMOLVLM_PRE, longest_edge: 512, do_image_splitting: false });
    // 300×200 → 512×342 (341.33 → 341 → 342); 100×400 → 128×512; padded to 512×512 with zeros
    assert.deepEqual(unsplit.dims, [1, 2, 3, 512, 512]);
    const m = unsplit.pixel_attention_mask;
    assert.equal(m[341 * 512], 1);
    assert.equal(m[342 * 512], 0);
    assert.equal(m[512 * 512 + 127], 1);
    assert.equal(m[512 * 512 + 128], 0);
    assert.equal(unsplit.pixel_values[2 * 3 * 512 * 512 - 1], 0);
  });

  const python = process.env.OMNIFUSION_PIL_PYTHON ?? '/usr/bin/python3';
  const hasPil = spawnSync(python, ['-c', 'import PIL, numpy'], { stdio: 'ignore' }).status === 0;
  test('LANCZOS is Pillow’s to the bit (enlarging, reducing, one axis, odd sizes)', { skip: !hasPil && 'needs /usr/bin/python3 with PIL' }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lanczos-'));
    try {
      const cases: [number, number, number, number][] = [[37, 23, 100, 61], [100, 61, 37, 23], [64, 64, 64, 200], [513, 7, 512, 512], [300, 200, 2048, 1366], [2048, 1366, 512, 512], [9, 1, 1, 9]];
      cases.forEach(([w, h], i) => {
        const img = image(w, h, 100 + i);
        writeFileSync(path.join(dir, `${i}.rgb`), img.data);
      });
      const script = `
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
for i, (w, h, ow, oh) in enumerate(${JSON.stringify(cases)}):
    a = np.fromfile(f"{d}/{i}.rgb", dtype=np.uint8).reshape(h, w, 3)
    np.array(Image.fromarray(a, "RGB").resize((ow, oh), Image.LANCZOS)).tofile(f"{d}/{i}.out")
`;
      const r = spawnSync(python, ['-c', script, dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      cases.forEach(([w, h, ow, oh], i) => {
        const got = resizePil(image(w, h, 100 + i).data, w, h, ow, oh, 'lanczos');
        assert.ok(Buffer.from(got).equals(readFileSync(path.join(dir, `${i}.out`))), `${w}×${h} → ${ow}×${oh}`);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Idefics3 prompt', () => {
  test('SmolVLM chat template through @huggingface/jinja: images lead the first user turn, "Assistant:" last', () => {
    const cfg = { chat_template: SMOLVLM_TEMPLATE, template_variables: { bos_token: '<|im_start|>', eos_token: '<end_of_utterance>' } };
    assert.equal(renderChatTemplate(cfg, idefics3Messages('What is the total?', [], 1)), '<|im_start|>User:<image>What is the total?<end_of_utterance>\nAssistant:');
    assert.equal(
      renderChatTemplate(cfg, idefics3Messages('And the lowest?', [{ question: 'Which bar is the highest?', answer: 'D, at 91.' }], 2)),
      '<|im_start|>User:<image><image>Which bar is the highest?<end_of_utterance>\nAssistant: D, at 91.<end_of_utterance>\nUser: And the lowest?<end_of_utterance>\nAssistant:',
    );
    assert.equal(renderChatTemplate(cfg, idefics3Messages('Hi', undefined, 0)), '<|im_start|>User: Hi<end_of_utterance>\nAssistant:');
  });

  test('expansion: per tile fake + <row_r_col_c> + 64 <image>, "\\n" per row, then "\\n" + fake + <global-img> + 64 <image> + fake', () => {
    const count = (s: string, t: string) => s.split(t).length - 1;
    const split = imagePromptString({ rows: 4, cols: 4 }, TOKENS);
    assert.equal(count(split, '<image>'), 17 * 64);
    assert.equal(count(split, '<fake_token_around_image>'), 18);
    assert.equal(count(split, '<global-img>'), 1);
    assert.equal(count(split, '\n'), 5);
    assert.ok(split.startsWith(`<fake_token_around_image><row_1_col_1>${'<image>'.repeat(64)}<fake_token_around_image><row_1_col_2>`));
    assert.ok(split.includes(`<row_4_col_4>${'<image>'.repeat(64)}\n\n<fake_token_around_image><global-img>`));
    assert.ok(split.endsWith(`${'<image>'.repeat(64)}<fake_token_around_image>`));
    assert.equal(imagePromptString({ rows: 0, cols: 0 }, TOKENS), `<fake_token_around_image><global-img>${'<image>'.repeat(64)}<fake_token_around_image>`);
    const text = expandImageTokens('A<image>B<image>C', [{ rows: 1, cols: 2 }, { rows: 0, cols: 0 }], TOKENS);
    assert.equal(text, `A${imagePromptString({ rows: 1, cols: 2 }, TOKENS)}B${imagePromptString({ rows: 0, cols: 0 }, TOKENS)}C`);
    assert.throws(() => expandImageTokens('A<image>B', [], TOKENS), PromptError);
  });

  test('merge: image-token rows replaced in order by the feature rows; counts must match', () => {
    const hidden = 2;
    const ids = [5, 9, 9, 6, 9];
    const embeds = new Float32Array(ids.length * hidden).fill(-1);
    mergeImageFeatures(embeds, ids, 9, Float32Array.from([1, 1, 2, 2, 3, 3]), hidden);
    assert.deepEqual([...embeds], [-1, -1, 1, 1, 2, 2, -1, -1, 3, 3]);
    assert.throws(() => mergeImageFeatures(new Float32Array(10), ids, 9, new Float32Array(4), hidden), /3 image tokens for 2 image feature rows/);
    assert.throws(() => mergeImageFeatures(new Float32Array(10), ids, 9, new Float32Array(8), hidden), /3 image tokens for 4/);
  });
});
