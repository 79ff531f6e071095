/**
 * Issue 12, bug 9: what `ask` and `ocr` say when called wrongly, each one line, exit 2: an image
 * with no question, a misspelt option or command (with commander's suggestion), a bad number, no
 * model (pointing at `models pull` of the catalog's default, or an installed model); and the
 * --device default, auto as for serve and the app, quiet when it ends on the CPU.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { isOneLineError, runCli } from '../helpers/cli.js';

let tmp: string;
let image: string;
/** No model from the environment, an empty models folder and data folder of the test's own. */
let noModelEnv: NodeJS.ProcessEnv;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-usage-'));
  image = path.join(tmp, 'page.png');
  // Not all one colour: formula OCR refuses a blank image before it looks for a model.
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="64"><rect width="160" height="64" fill="white"/><text x="10" y="42" font-size="32">x + 1</text></svg>';
  await sharp(Buffer.from(svg)).png().toFile(image);
  noModelEnv = { OMNIFUSION_MODEL: '', OMNIFUSION_MODELS_DIR: path.join(tmp, 'models'), OMNIFUSION_DATA_DIR: path.join(tmp, 'data'), OMNIFUSION_CATALOG: '' };
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The run ended with exit 2 and exactly `line` on stderr. */
function assertUsage(run: { code: number | null; stderr: string; stdout: string; chunks: string[] }, line: string): void {
  assert.ok(isOneLineError(run), run.stderr);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, `${line}\n`);
}

describe('ask with an image and no question', () => {
  test('says the question is missing, not that an image is', async () => {
    assertUsage(await runCli(['ask', image, '--model', TINY_MODEL_DIR]), `omnifusion: the question is missing: put it after the image: omnifusion ask ${image} "<question>"`);
    // An image name that does not exist (yet) reads the same: it is a file name, not a question.
    assertUsage(await runCli(['ask', 'scan.jpg']), 'omnifusion: the question is missing: put it after the image: omnifusion ask scan.jpg "<question>"');
    // A question alone still asks for an image.
    assertUsage(await runCli(['ask', 'What is the total?']), 'omnifusion: give at least one image and then the question: omnifusion ask <image>... "<question>"');
  });
});

describe('a misspelt option or command', () => {
  test('names the nearest known one on the same line', async () => {
    assertUsage(await runCli(['ask', '--modle', 'x', image, 'q?']), "omnifusion: unknown option '--modle' (did you mean --model?)");
    assertUsage(await runCli(['ocr', image, '--max-new-token', '3']), "omnifusion: unknown option '--max-new-token' (did you mean --max-new-tokens?)");
    assertUsage(await runCli(['asl', image, 'q?']), "omnifusion: unknown command 'asl' (did you mean ask?)");
    // An option nothing is near gets no suggestion.
    assertUsage(await runCli(['ask', '--zzzzzz', image, 'q?']), "omnifusion: unknown option '--zzzzzz'");
  });
});

describe('a bad number', () => {
  test('is said once: the flag, the rule and the value', async () => {
    assertUsage(await runCli(['ask', image, 'q?', '--max-new-tokens', 'abc']), 'omnifusion: --max-new-tokens must be a whole number from 1 to 32768, got "abc"');
    assertUsage(await runCli(['ocr', image, '--threads', '0']), `omnifusion: --threads must be a whole number from 1 to ${Math.max(4, os.availableParallelism() * 4)}, got "0"`);
    assertUsage(await runCli(['serve', '--port', '70000']), 'omnifusion: --port must be a whole number from 0 to 65535, got "70000"');
  });
});

describe('no model', () => {
  test('ask and ocr point at `models pull` of the default model that `models list` marks', async () => {
    const list = await runCli(['models', 'list', '--json'], { env: noModelEnv });
    assert.equal(list.code, 0, list.stderr);
    const defaultId = (JSON.parse(list.stdout) as { default: { id: string } | null }).default?.id;
    assert.ok(defaultId && /^[a-z0-9.-]+$/.test(defaultId), list.stdout);
    const line = `omnifusion: no model: download the default one with \`omnifusion models pull ${defaultId}\` and pass --model ${defaultId}, or pass --model DIR (a model folder) or set OMNIFUSION_MODEL`;
    assertUsage(await runCli(['ask', image, 'What is this?'], { env: noModelEnv }), line);
    assertUsage(await runCli(['ocr', image], { env: noModelEnv }), line);
  });

  test('with a model installed, its id is the hint', async () => {
    const env = { ...noModelEnv, OMNIFUSION_MODELS_DIR: path.join(tmp, 'models-installed') };
    const imported = await runCli(['models', 'import', TINY_MODEL_DIR, '--id', 'tiny-here'], { env });
    assert.equal(imported.code, 0, imported.stderr);
    assertUsage(
      await runCli(['ask', image, 'What is this?'], { env }),
      'omnifusion: no model: pass --model tiny-here (installed; see omnifusion models list), or pass --model DIR (a model folder) or set OMNIFUSION_MODEL',
    );
  });
});

describe('--device', () => {
  test('ask and ocr default to auto, as serve and the app do, and say so in --help; ask then ends on the CPU here without a note', async (t) => {
    for (const command of ['ask', 'ocr']) {
      const help = await runCli([command, '--help']);
      assert.equal(help.code, 0);
      const device = help.stdout.slice(help.stdout.indexOf('--device <ep>'), help.stdout.indexOf('--threads'));
      assert.match(device.replace(/\s+/g, ' '), /auto tries this platform's GPU provider .*, then cpu, as serve and the app do.*\(choices: "cpu", "webgpu", "cuda", "dml", "coreml", "auto", default: "auto"\)/, command);
    }
    const serve = await runCli(['serve', '--help']);
    assert.match(serve.stdout.replace(/\s+/g, ' '), /--device <ep> execution provider, overriding the app setting \(default: the setting, auto\)/);
    // What ask does with it: auto on a machine without CUDA runs on the CPU and says nothing,
    // whether it is the default or typed (a note is for a provider asked for by name).
    const args = ['ask', image, 'What is this?', '--model', TINY_MODEL_DIR, '--greedy', '--json', '--max-new-tokens', '2'];
    const quiet = await runCli(args);
    assert.equal(quiet.code, 0, quiet.stderr);
    const out = JSON.parse(quiet.stdout) as { execution_provider: string };
    if (out.execution_provider !== 'cpu') return t.skip(`auto found ${out.execution_provider} on this machine`);
    assert.equal(quiet.stderr, '');
    const typed = await runCli([...args, '--device', 'auto']);
    assert.equal(typed.code, 0, typed.stderr);
    assert.equal(typed.stderr, '');
    // The same tokens as --device cpu: auto changed where it runs, not what it says.
    const cpu = await runCli([...args, '--device', 'cpu']);
    assert.deepEqual((JSON.parse(typed.stdout) as { token_ids: number[] }).token_ids, (JSON.parse(cpu.stdout) as { token_ids: number[] }).token_ids);
  });
});
