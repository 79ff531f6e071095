/**
 * The `omnifusion` command: ask questions about images, and check model packages.
 * Inference runs in a separate engine process (EngineHost), as in the desktop app.
 * User mistakes end with one line on stderr and a non-zero exit, never a stack trace.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EngineError, EngineHost } from '../engine/host.js';
import { ModelPackageError } from '../engine/package/manifest.js';
import { verifyPackage } from '../engine/package/verify.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../engine/session.js';
import type { GenerationConfig } from '../engine/generation/config.js';
import type { ChatTurn } from '../engine/protocol.js';
import { readFile } from 'node:fs/promises';

/** A mistake in how the command was called; printed as one line, exit code 2. */
class UsageError extends Error {}

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1, got "${value}"`);
    return n;
  };
}

function finiteNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

interface AskOptions {
  model?: string;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  beams?: number;
  seed?: number;
  repetitionPenalty?: number;
  blockNgram?: number;
  history?: string;
  greedy?: boolean;
  json?: boolean;
  device: ExecutionProvider;
  threads?: number;
}

/** Turn CLI flags into generation overrides: --greedy is 1 beam, no sampling; a temperature or top-p turns sampling on. */
export function generationOverrides(o: AskOptions): Partial<GenerationConfig> {
  const g: Partial<GenerationConfig> = {};
  if (o.maxNewTokens !== undefined) g.max_new_tokens = o.maxNewTokens;
  if (o.greedy) {
    if (o.temperature !== undefined || o.topP !== undefined || o.topK !== undefined) {
      throw new UsageError('--greedy cannot be combined with --temperature, --top-p or --top-k');
    }
    g.do_sample = false;
    g.num_beams = 1;
  } else {
    if (o.temperature !== undefined) g.temperature = o.temperature;
    if (o.topP !== undefined) g.top_p = o.topP;
    if (o.topK !== undefined) g.top_k = o.topK;
    if (o.temperature !== undefined || o.topP !== undefined || o.topK !== undefined) {
      g.do_sample = true;
      g.num_beams = 1;
    }
    if (o.beams !== undefined) g.num_beams = o.beams;
  }
  if (o.seed !== undefined) g.seed = o.seed;
  if (o.repetitionPenalty !== undefined) g.repetition_penalty = o.repetitionPenalty;
  if (o.blockNgram !== undefined) g.no_repeat_ngram_size = o.blockNgram;
  return g;
}

async function ask(inputs: string[], o: AskOptions): Promise<number> {
  if (inputs.length < 2) throw new UsageError('usage: omnifusion ask <image>... "<question>" (give at least one image and a question)');
  const question = inputs[inputs.length - 1]!;
  const images = inputs.slice(0, -1).map((p) => ({ path: p }));
  const modelDir = o.model ?? process.env.OMNIFUSION_MODEL;
  if (!modelDir) throw new UsageError('no model: pass --model DIR or set OMNIFUSION_MODEL (try --model test/fixtures/models/omnifusion-tiny)');
  const generation = generationOverrides(o);
  const history = o.history ? await readHistory(o.history) : undefined;
  const host = new EngineHost();
  try {
    const info = await host.load(modelDir, o.device, o.threads);
    if (info.note) process.stderr.write(`note: ${info.note}\n`);
    const handle = host.generate({ images, question, generation, ...(history ? { history } : {}) }, (_id, text) => {
      if (!o.json && text) process.stdout.write(text);
    });
    const stop = (): void => handle.cancel();
    process.once('SIGINT', stop);
    const result = await handle.result;
    process.off('SIGINT', stop);
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({
          answer: result.answer,
          token_ids: result.token_ids,
          finish_reason: result.finish_reason,
          prompt_length: result.prompt_length,
          model: info.name,
          execution_provider: result.execution_provider,
          timings: result.timings,
        })}\n`,
      );
    } else {
      process.stdout.write('\n');
    }
    return 0;
  } finally {
    await host.stop();
  }
}

/** Read `--history FILE`: a JSON array of {question, answer} earlier turns, oldest first. */
async function readHistory(file: string): Promise<ChatTurn[]> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`--history: cannot read ${file}`);
  });
  let turns: unknown;
  try {
    turns = JSON.parse(text);
  } catch {
    throw new UsageError(`--history: ${file} is not valid JSON`);
  }
  const valid =
    Array.isArray(turns) &&
    turns.every((t) => typeof t === 'object' && t !== null && typeof t.question === 'string' && typeof t.answer === 'string');
  if (!valid) throw new UsageError(`--history: ${file} must be a JSON array of {"question": "...", "answer": "..."}`);
  return turns as ChatTurn[];
}

async function verify(dir: string): Promise<number> {
  const { manifest, lines } = await verifyPackage(dir);
  for (const line of lines) process.stdout.write(`ok  ${line.item}: ${line.detail}\n`);
  process.stdout.write(`${manifest.name} (${manifest.family}): package verified\n`);
  return 0;
}

/** Build the command tree. */
export function buildProgram(run: (code: Promise<number>) => void): Command {
  const program = new Command('omnifusion')
    .description('OmniFusion Desktop: ask a local vision-language model about images')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0]!.replace(/^error: /, 'omnifusion: ') + '\n') });
  program
    .command('ask')
    .description('answer a question about one or more images, streaming the answer to stdout')
    .argument('<inputs...>', 'image files followed by the question')
    .option('-m, --model <dir>', 'model package folder (default: $OMNIFUSION_MODEL)')
    .option('--max-new-tokens <n>', 'most tokens to generate', positiveInt('--max-new-tokens'))
    .option('--temperature <t>', 'sampling temperature (turns sampling on)', finiteNumber('--temperature'))
    .option('--top-p <p>', 'nucleus sampling probability mass (turns sampling on)', finiteNumber('--top-p'))
    .option('--top-k <k>', 'sample among the k most likely tokens (turns sampling on)', positiveInt('--top-k'))
    .option('--beams <n>', 'beam search width (the model default for OmniFusion is 3)', positiveInt('--beams'))
    .option('--seed <n>', 'random seed for sampling', finiteNumber('--seed'))
    .option('--repetition-penalty <r>', 'penalty for repeating generated tokens (1 = none)', finiteNumber('--repetition-penalty'))
    .option('--block-ngram <n>', 'forbid repeating any n-gram of this size (no_repeat_ngram_size; 0 = off)', finiteNumber('--block-ngram'))
    .option('--history <file>', 'JSON file of earlier turns: [{"question": "...", "answer": "..."}]')
    .option('--greedy', 'deterministic greedy decoding (1 beam, no sampling)')
    .option('--json', 'print one JSON object with the answer, token ids, execution provider and timings')
    .addOption(new Option('--device <ep>', 'execution provider').choices(EXECUTION_PROVIDERS).default('cpu'))
    .option('--threads <n>', 'onnxruntime intra-op threads', positiveInt('--threads'))
    .action((inputs: string[], o: AskOptions) => run(ask(inputs, o)));
  const models = program.command('models').description('model packages');
  models
    .command('verify')
    .description('check a package: files, sizes, sha256, graph inputs and outputs')
    .argument('<dir>', 'model package folder')
    .action((dir: string) => run(verify(dir)));
  return program;
}

/** Run the CLI with argv (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let pending: Promise<number> | undefined;
  const program = buildProgram((p) => {
    pending = p;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return pending ? await pending : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      process.stderr.write(`omnifusion: ${err.message}\n`);
      return 2;
    }
    if (err instanceof EngineError || err instanceof ModelPackageError) {
      process.stderr.write(`omnifusion: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`omnifusion: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}
