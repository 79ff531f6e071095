/**
 * The `omnifusion` command: ask questions about images, and check model packages.
 * Inference runs in a separate engine process (EngineHost), as in the desktop app.
 * User mistakes end with one line on stderr and a non-zero exit, never a stack trace.
 * Exit codes: 0 done, 1 bad input / model / engine failure, 2 usage, 130 stopped by Ctrl+C, 70 our bug.
 */
import { questionTooLong } from '../api/limits.js';
import { Command, CommanderError, Option } from 'commander';
import { mkdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiService } from '../core/api-service.js';
import { defaultDataDir } from '../core/paths.js';
import { FS_REASONS } from '../core/fs-reasons.js';
import { reachableUrls } from '../server/remote-urls.js';
import { isLoopbackHost, startWebBridge } from '../server/web-bridge.js';
import { EngineError, EngineHost } from '../engine/host.js';
import { ModelPackageError } from '../engine/package/manifest.js';
import { DTYPE_SUFFIXES } from '../engine/package/hf-folder.js';
import { StoreError } from '../core/store/index.js';
import { verifyPackage } from '../engine/package/verify.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../engine/session.js';
import type { GenerationConfig } from '../engine/generation/config.js';
import type { ChatTurn } from '../engine/protocol.js';
import { isImageInputError } from '../media/images/errors.js';
import { checkImageFile } from '../media/images/decode.js';
import { OcrUsageError, checkOcrFlags, ocr, type OcrOptions } from './ocr.js';
import { DEFAULT_DEVICE, DEVICE_HELP, loadNote } from './device.js';
import { TextOcrModelError } from '../engine/text-ocr/index.js';
import { OCR_FORMATS } from '../core/ocr.js';
import { CatalogError, DTYPES, ModelError, type Dtype } from '../core/models/index.js';
import { ModelsUsageError, hubFromEnv, importCommand, listModels, noModelMessage, pullCommand, removeCommand, resolveCatalogPath, resolveModelArg, resolveModelsDir } from './models.js';

/** A mistake in how the command was called; printed as one line, exit code 2. */
class UsageError extends Error {}

const EXIT_INTERRUPTED = 130;

/**
 * Commander argument parser for a number that `ok` accepts.
 * @throws UsageError `<flag> must be <rule>, got "<value>"` (not commander's InvalidArgumentError,
 *   which commander would print after its own "option '<flag> <n>' argument '<value>' is invalid.").
 */
function numberOption(flag: string, rule: string, ok: (n: number) => boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`${flag} must be ${rule}, got "${value}"`);
    return n;
  };
}

/**
 * One line of a commander error: `error: ` becomes `omnifusion: `, and the suggestion commander
 * puts on a second line (`(Did you mean --model?)`, for an unknown option or command) is kept on it.
 */
export function commanderErrorLine(text: string): string {
  const [first = '', ...rest] = text.split('\n');
  const suggestion = rest.map((l) => /^\(Did you mean (.+)\?\)$/.exec(l.trim())?.[1]).find((s) => s !== undefined);
  return `${first.replace(/^error: /, 'omnifusion: ')}${suggestion ? ` (did you mean ${suggestion}?)` : ''}\n`;
}

const wholeAtLeast = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  numberOption(flag, `a whole number from ${min} to ${max}`, (n) => Number.isInteger(n) && n >= min && n <= max);

/** Most intra-op threads accepted: onnxruntime starts one OS thread each, so far past the cores only slows it. */
const MAX_THREADS = Math.max(4, os.availableParallelism() * 4);

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
  /** Answer with the model package's own generation settings (OmniFusion's reference script) instead of chat defaults. */
  referenceDefaults?: boolean;
  json?: boolean;
  device: ExecutionProvider;
  /** Whether --device was typed (a fallback note is printed then, not for the default auto). */
  deviceTyped?: boolean;
  threads?: number;
  ocrTokens?: boolean;
  /** The onnx variant of an onnx-community folder to load (fp32, fp16, int8, …). */
  dtype?: Dtype;
}

/**
 * Turn CLI flags into generation overrides: --greedy is 1 beam, no sampling; a temperature,
 * top-p or top-k turns sampling on (1 beam).
 * @throws UsageError for contradictory flags.
 */
export function generationOverrides(o: AskOptions): Partial<GenerationConfig> {
  const g: Partial<GenerationConfig> = {};
  const sampling = o.temperature !== undefined || o.topP !== undefined || o.topK !== undefined;
  if (o.greedy && sampling) throw new UsageError('--greedy cannot be combined with --temperature, --top-p or --top-k');
  if (o.greedy && o.beams !== undefined && o.beams > 1) throw new UsageError('--greedy means one beam; drop --beams or --greedy');
  if (sampling && o.beams !== undefined && o.beams > 1) throw new UsageError('sampling (--temperature/--top-p/--top-k) works with one beam; drop --beams');
  if (o.maxNewTokens !== undefined) g.max_new_tokens = o.maxNewTokens;
  if (o.greedy) {
    g.do_sample = false;
    g.num_beams = 1;
  }
  if (sampling) {
    g.do_sample = true;
    g.num_beams = 1;
    if (o.temperature !== undefined) g.temperature = o.temperature;
    if (o.topP !== undefined) g.top_p = o.topP;
    if (o.topK !== undefined) g.top_k = o.topK;
  }
  if (o.beams !== undefined && !o.greedy && !sampling) g.num_beams = o.beams;
  if (o.seed !== undefined) g.seed = o.seed;
  if (o.repetitionPenalty !== undefined) g.repetition_penalty = o.repetitionPenalty;
  if (o.blockNgram !== undefined) g.no_repeat_ngram_size = o.blockNgram;
  return g;
}

/** Why the last input is not a question: it names an existing file. */
async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Why stdout could not be written, in words (`ENOSPC: no space left on device, write` → `no space left on device`). */
function writeProblem(err: NodeJS.ErrnoException): string {
  const reasons: Record<string, string> = { ENOSPC: 'no space left on device', EIO: 'input/output error', EBADF: 'standard output is closed', EDQUOT: 'disk quota exceeded', EFBIG: 'the file is too large' };
  return (err.code && reasons[err.code]) || err.message.replace(/^E[A-Z]+: /, '').replace(/, write$/, '');
}

/**
 * stdout that tolerates its reader going away (EPIPE, e.g. `| head`) and failing writes (ENOSPC
 * on a full disk, /dev/full, EIO): later writes are dropped and `onGone` listeners run (ask stops
 * generating), instead of an unhandled 'error' event or a thrown write. A failure other than
 * EPIPE is kept in `failure`: main() reports it in one line and exits 1; EPIPE ends quietly.
 */
const stdout = (() => {
  let gone = false;
  let failure: NodeJS.ErrnoException | undefined;
  const listeners: (() => void)[] = [];
  const fail = (err: NodeJS.ErrnoException): void => {
    if (gone) return;
    gone = true;
    if (err.code !== 'EPIPE') failure = err;
    listeners.forEach((l) => l());
  };
  process.stdout.on('error', fail);
  return {
    write: (text: string): void => {
      if (gone || !text) return;
      try {
        // A file or /dev/full is written synchronously: its errors are thrown here.
        process.stdout.write(text);
      } catch (err) {
        fail(err as NodeJS.ErrnoException);
      }
    },
    onGone: (listener: () => void): void => {
      listeners.push(listener);
    },
    /** The one-line reason writing failed (not for EPIPE), if it did. */
    failure: (): string | undefined => (failure ? writeProblem(failure) : undefined),
  };
})();

/** What the command writes to stdout, for the message when it cannot ("the answer", "the output"). */
let outputName = 'the output';

/** Image file extensions: a question that is such a file's path was probably meant as an image. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif', '.heic', '.heif']);

async function ask(inputs: string[], o: AskOptions): Promise<number> {
  if (inputs.length < 2) {
    const only = inputs[0] ?? '';
    const looksLikeImage = (await isFile(only)) || IMAGE_EXTENSIONS.has(path.extname(only).toLowerCase());
    throw new UsageError(
      looksLikeImage ? `the question is missing: put it after the image: omnifusion ask ${only} "<question>"` : 'give at least one image and then the question: omnifusion ask <image>... "<question>"',
    );
  }
  const question = inputs[inputs.length - 1]!;
  if (!question.trim()) throw new UsageError('the question is empty');
  const tooLong = questionTooLong(question);
  if (tooLong) throw new UsageError(tooLong);
  const questionIsFile = await isFile(question);
  if (questionIsFile && !(await isFile(inputs[0]!))) {
    throw new UsageError(`"${question}" is a file: the question goes last, after the images`);
  }
  if (questionIsFile && IMAGE_EXTENSIONS.has(path.extname(question).toLowerCase())) {
    process.stderr.write(`note: the question "${question}" is a file name; did you forget the question?\n`);
  }
  outputName = 'the answer';
  const images = inputs.slice(0, -1).map((p) => ({ path: p }));
  const modelArg = o.model ?? process.env.OMNIFUSION_MODEL;
  const modelsDir = resolveModelsDir(undefined, defaultDataDir());
  if (!modelArg) throw new UsageError(await noModelMessage(modelsDir));
  const generation = generationOverrides(o);
  const history = o.history ? await readHistory(o.history) : undefined;
  // Each image is checked (exists, a regular file, not over the size limit) before the engine starts:
  // a device such as /dev/zero, a FIFO or a folder is refused without being read.
  for (const image of images) await checkImageFile(image.path);
  const model = await resolveModelArg(modelArg, modelsDir);
  if (model.problem !== undefined) throw new ModelPackageError(model.problem);
  const modelDir = model.dir;
  const host = new EngineHost();
  let interrupted = false;
  let cancel = (): void => undefined;
  stdout.onGone(() => cancel());
  const write = stdout.write;
  const onSigint = (): void => {
    interrupted = true;
    cancel();
  };
  process.on('SIGINT', onSigint);
  try {
    const info = await host.load(modelDir, o.device, o.threads, o.dtype ? { dtype: o.dtype } : {});
    const note = loadNote(info.note, o.device, o.deviceTyped === true);
    if (note) process.stderr.write(note);
    let ocrText: string[] | undefined;
    if (o.ocrTokens) {
      if (!info.ocr_text_position) {
        throw new EngineError('bad_request', `model "${info.name}" takes no OCR text: its manifest has no prompt.ocr_text saying where such text goes (re-export it, or drop --ocr-tokens)`);
      }
      // Each image's text is read in the engine process first (its text-OCR queue), then sent with the question.
      ocrText = [];
      for (const image of images) {
        if (interrupted) return EXIT_INTERRUPTED;
        const reading = host.recognizeText(image, o.threads ? { threads: o.threads } : {});
        cancel = reading.cancel;
        try {
          ocrText.push((await reading.result).text);
        } catch (err) {
          if (err instanceof EngineError && err.code === 'cancelled') return interrupted ? EXIT_INTERRUPTED : 0;
          throw err;
        }
        if (!ocrText[ocrText.length - 1]) process.stderr.write(`note: --ocr-tokens: no text found in ${path.basename(image.path)}\n`);
      }
    }
    const defaults = o.referenceDefaults ? ('model' as const) : ('chat' as const);
    const request = { images, question, defaults, generation, ...(history ? { history } : {}), ...(ocrText ? { ocr_text: ocrText } : {}) };
    const handle = host.generate(request, (_id, text) => {
      if (!o.json) write(text);
    });
    cancel = handle.cancel;
    if (interrupted) cancel();
    const result = await handle.result;
    if (result.warning) process.stderr.write(`warning: ${result.warning}\n`);
    if (result.dropped_turns) process.stderr.write(`note: the ${result.dropped_turns} earliest turn${result.dropped_turns === 1 ? '' : 's'} of --history left out to fit the model's context\n`);
    if (o.json) {
      write(
        `${JSON.stringify({
          answer: result.answer,
          token_ids: result.token_ids,
          finish_reason: result.finish_reason,
          prompt_length: result.prompt_length,
          ...(result.dropped_turns ? { dropped_turns: result.dropped_turns } : {}),
          model: info.name,
          ...dtypeFields(info.dtypes),
          execution_provider: result.execution_provider,
          kv_cache: result.kv_cache,
          timings: result.timings,
          ...(ocrText ? { ocr_text: ocrText, ocr: result.ocr ?? null } : {}),
        })}\n`,
      );
    } else {
      write('\n');
    }
    return interrupted ? EXIT_INTERRUPTED : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await host.stop();
  }
}

/**
 * What `ask --json` says about the onnx variant loaded: `dtype` (the one every graph uses, else
 * null) and `dtypes` per graph; both null for an OmniFusion package (one set of graphs).
 */
function dtypeFields(dtypes: Record<string, string> | undefined): { dtype: string | null; dtypes: Record<string, string> | null } {
  if (!dtypes) return { dtype: null, dtypes: null };
  const distinct = [...new Set(Object.values(dtypes))];
  return { dtype: distinct.length === 1 ? distinct[0]! : null, dtypes };
}

/**
 * Read `--history FILE`: a JSON array of {question, answer} earlier turns, oldest first.
 * @throws UsageError naming the file and the problem.
 */
async function readHistory(file: string): Promise<ChatTurn[]> {
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new UsageError(`--history: ${file} not found`);
  if (!info.isFile()) throw new UsageError(`--history: ${file} is not a file`);
  // Editors on Windows often save UTF-8 with a byte order mark; JSON.parse rejects it.
  const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  let turns: unknown;
  try {
    turns = JSON.parse(text);
  } catch {
    throw new UsageError(`--history: ${file} is not valid JSON`);
  }
  const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.trim().length > 0;
  const valid = Array.isArray(turns) && turns.every((t) => typeof t === 'object' && t !== null && nonEmpty(t.question) && nonEmpty(t.answer));
  if (!valid) throw new UsageError(`--history: ${file} must be a JSON array of {"question": "...", "answer": "..."} with non-empty texts`);
  return turns as ChatTurn[];
}

async function verify(dir: string): Promise<number> {
  const { manifest, lines } = await verifyPackage(dir);
  for (const line of lines) stdout.write(`ok  ${line.item}: ${line.detail}\n`);
  stdout.write(`${manifest.name} (${manifest.family}): package verified\n`);
  return 0;
}

/** The project folder: the nearest one above this file with a package.json (source under tsx, or dist/). */
async function packageRoot(): Promise<string> {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    const found = await stat(new URL('package.json', dir)).then(
      () => true,
      () => false,
    );
    if (found) return fileURLToPath(dir);
  }
  throw new Error('package.json not found above the CLI');
}

async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(await packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

interface ServeOptions {
  host: string;
  /** Serve a non-loopback --host (refused without it). */
  allowRemote?: boolean;
  port: number;
  model?: string;
  dataDir?: string;
  modelsDir?: string;
  catalog?: string;
  /** Overrides the app's device setting when given. */
  device?: ExecutionProvider;
}

/** `omnifusion serve`: the chat UI and the typed API for a browser, until Ctrl+C. */
async function serve(o: ServeOptions): Promise<number> {
  if (!isLoopbackHost(o.host)) {
    if (!o.allowRemote) throw new UsageError(`--host ${o.host} is not a loopback address: other machines would reach the app over plain HTTP; add --allow-remote to serve them anyway`);
    process.stderr.write(`warning: serving ${o.host} to other machines over unencrypted HTTP: the access token is the only protection\n`);
  }
  for (const [flag, value] of [['--data-dir', o.dataDir], ['--models-dir', o.modelsDir], ['--catalog', o.catalog], ['--model', o.model]] as const) {
    if (value !== undefined && !value.trim()) throw new UsageError(`${flag} is empty; give a ${flag === '--catalog' ? 'file' : 'folder'}`);
  }
  const dataDir = o.dataDir ?? defaultDataDir();
  await mkdir(dataDir, { recursive: true });
  const modelsDir = resolveModelsDir(o.modelsDir, dataDir);
  const modelArg = o.model ?? process.env.OMNIFUSION_MODEL;
  let modelDir: string | undefined;
  if (modelArg) {
    const model = await resolveModelArg(modelArg, modelsDir);
    // The UI stays usable without a model (chats can be read, another model chosen): a note, not a refusal.
    if (model.problem !== undefined) process.stderr.write(`note: ${model.problem} (serving without a model)\n`);
    modelDir = model.dir;
  }
  const { hubUrl, hubToken } = hubFromEnv();
  const api = await createApiService({
    dataDir,
    ...(o.device ? { executionProvider: o.device } : {}),
    ...(modelDir ? { modelDir } : {}),
    modelsDir,
    catalogPath: resolveCatalogPath(o.catalog),
    hubUrl,
    ...(hubToken ? { hubToken } : {}),
  });
  let bridge;
  try {
    bridge = await startWebBridge({ backend: api, host: o.host, ...(o.allowRemote ? { allowRemote: true } : {}), port: o.port, staticDir: path.join(await packageRoot(), 'dist/renderer') });
  } catch (err) {
    await api.close();
    throw new UsageError(`cannot listen on ${o.host}:${o.port} (${(err as Error).message})`);
  }
  // A --model folder that does not load (missing, broken) is said once on stderr; the UI shows it too.
  let noted = false;
  const noteLoadError = (status: { state: string; error?: string }): void => {
    if (!modelDir || noted || status.state !== 'error') return;
    noted = true;
    process.stderr.write(`note: ${status.error ?? 'the model did not load'} (serving without a model)\n`);
  };
  const unsubscribe = api.on('models.status', noteLoadError);
  noteLoadError(await api.call('models.status', {}));
  for (const url of reachableUrls(bridge.url, o.host, os.networkInterfaces())) stdout.write(`OmniFusion Desktop is at ${url}\n`);
  if ((await api.call('models.status', {})).state === 'none') {
    stdout.write('note: no model given (--model DIR or OMNIFUSION_MODEL) and none chosen in the model manager; chats can be read but not answered\n');
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  unsubscribe();
  await bridge.close();
  await api.close();
  return 0;
}

/** Build the command tree; `run` receives each action's promise of an exit code. */
export function buildProgram(run: (code: Promise<number>) => void, version: string): Command {
  const program = new Command('omnifusion')
    .description('OmniFusion Desktop: ask a local vision-language model about images')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(commanderErrorLine(text)) });
  program
    .command('ask')
    .description('answer a question about one or more images, streaming the answer to stdout')
    .argument('<inputs...>', 'image files followed by the question')
    .option('-m, --model <dir>', 'model package folder (default: $OMNIFUSION_MODEL)')
    .option('--max-new-tokens <n>', 'most tokens to generate', wholeAtLeast('--max-new-tokens', 1, 32768))
    .option('--temperature <t>', 'sampling temperature (turns sampling on)', numberOption('--temperature', 'a number above 0 and at most 100', (n) => n > 0 && n <= 100))
    .option('--top-p <p>', 'nucleus sampling probability mass (turns sampling on)', numberOption('--top-p', 'a number above 0 and at most 1', (n) => n > 0 && n <= 1))
    .option('--top-k <k>', 'sample among the k most likely tokens (turns sampling on)', wholeAtLeast('--top-k', 1, 1_000_000))
    .option('--beams <n>', 'beam search width (default 1; OmniFusion\'s reference setting is 3)', wholeAtLeast('--beams', 1, 16))
    .option('--greedy', 'deterministic greedy decoding (1 beam, no sampling; the default)')
    .option('--reference-defaults', "the model package's own generation settings instead of chat defaults: for OmniFusion its reference script's 3 beams, 50 new tokens, banned newline and \":\" tokens, no repeated 4-gram and forced EOS, to reproduce the paper")
    .option('--seed <n>', 'random seed for sampling', wholeAtLeast('--seed', 0, 2 ** 32 - 1))
    .option('--repetition-penalty <r>', 'penalty for repeating generated tokens (1 = none)', numberOption('--repetition-penalty', 'a number above 0', (n) => n > 0))
    .option('--block-ngram <n>', 'forbid repeating any n-gram of this size (no_repeat_ngram_size; 0 = off)', wholeAtLeast('--block-ngram', 0, 64))
    .option('--history <file>', 'JSON file of earlier turns: [{"question": "...", "answer": "..."}]')
    .option('--ocr-tokens', "read each image's text first (built-in text OCR) and add it to the prompt where the model's manifest says, as OmniFusion's paper does for TextVQA")
    .option('--json', 'print one JSON object with the answer, token ids, model, dtype, execution provider, where the KV cache lived and timings (with --ocr-tokens also ocr_text, per image)')
    .addOption(new Option('--device <ep>', DEVICE_HELP).choices(EXECUTION_PROVIDERS).default(DEFAULT_DEVICE))
    .option('--threads <n>', 'onnxruntime intra-op threads (default: chosen by onnxruntime)', wholeAtLeast('--threads', 1, MAX_THREADS))
    .addOption(new Option('--dtype <dtype>', `which onnx variant of an onnx-community model folder to load (default: the first present of ${Object.keys(DTYPE_SUFFIXES).join(', ')}); an OmniFusion package has one, fp32 or fp16`).choices(DTYPES))
    .action((inputs: string[], o: AskOptions, command: Command) => run(ask(inputs, { ...o, deviceTyped: command.getOptionValueSource('device') === 'cli' })));
  program
    .command('serve')
    .description('serve the chat window and its API to a browser (loopback only by default; the printed URL carries the access token)')
    .option('--host <host>', 'address to listen on (a non-loopback one needs --allow-remote)', '127.0.0.1')
    .option('--allow-remote', 'allow a --host that other machines reach (plain HTTP: the token is the only protection)')
    .option('--port <n>', 'port (0 picks a free one)', wholeAtLeast('--port', 0, 65535), 0)
    .option('-m, --model <dir>', 'model package folder (default: $OMNIFUSION_MODEL)')
    .option('--data-dir <dir>', 'history and attachments folder (default: $OMNIFUSION_DATA_DIR or the platform data folder)')
    .option('--models-dir <dir>', 'installed models folder (default: $OMNIFUSION_MODELS_DIR or models/ in the data folder)')
    .option('--catalog <file>', 'model catalog (default: $OMNIFUSION_CATALOG or the bundled resources/catalog.json)')
    .addOption(new Option('--device <ep>', 'execution provider, overriding the app setting (default: the setting, auto); falls back to cpu with a note').choices(EXECUTION_PROVIDERS))
    .action((o: ServeOptions) => run(serve(o)));
  program
    .command('ocr')
    .description('read the formula in an image as LaTeX (greedy decoding), or with --text the text of a page')
    .argument('<image>', 'image of one formula (printed or handwritten), or with --text a page')
    .option('--text', 'read the text of a page (scan or photo, any orientation) with the built-in text models; no model folder needed')
    .option('--json', 'with --text: print JSON with blocks, lines, boxes, confidences, rotation and timings')
    .option('-m, --model <dir>', 'model package folder (default: $OMNIFUSION_MODEL)')
    .addOption(new Option('--format <format>', 'output: LaTeX, $…$, $$…$$, MathML, or JSON with validity and timings').choices(OCR_FORMATS).default('latex'))
    .option('--max-new-tokens <n>', 'most tokens to generate', wholeAtLeast('--max-new-tokens', 1, 32768))
    .addOption(new Option('--device <ep>', `${DEVICE_HELP} (--text runs on cpu)`).choices(EXECUTION_PROVIDERS).default(DEFAULT_DEVICE))
    .option('--threads <n>', 'onnxruntime intra-op threads (default: chosen by onnxruntime)', wholeAtLeast('--threads', 1, MAX_THREADS))
    .action((image: string, o: OcrOptions, command: Command) => {
      const typed = (key: keyof OcrOptions): boolean => command.getOptionValueSource(key) === 'cli';
      checkOcrFlags(o, typed);
      outputName = 'the result';
      run(ocr(image, { ...o, deviceTyped: typed('device') }, stdout.write));
    });
  const models = program
    .command('models')
    .description('the model catalog, downloads from the Hub ($OMNIFUSION_HUB_URL, token $HF_TOKEN) and installed models');
  const modelsDirOption = () => new Option('--models-dir <dir>', 'installed models folder (default: $OMNIFUSION_MODELS_DIR or models/ in the data folder)');
  const catalogOption = () => new Option('--catalog <file>', 'model catalog (default: $OMNIFUSION_CATALOG or the bundled resources/catalog.json)');
  const dtypeOption = (what: string) => new Option('--dtype <dtype>', what).choices(DTYPES);
  models
    .command('list')
    .description('catalog models: sizes, memory, what they are good at, licence, installed state; * marks the default for this machine')
    .option('--json', 'print the list as JSON (the app\'s models.catalog)')
    .addOption(modelsDirOption())
    .addOption(catalogOption())
    .action((o: { json?: boolean; modelsDir?: string; catalog?: string }) => run(listModels(o, defaultDataDir(), stdout.write)));
  models
    .command('pull')
    .description('download a catalog model, verify every file and install it (Ctrl+C stops; the same command resumes)')
    .argument('<id>', 'model id (see omnifusion models list)')
    .addOption(dtypeOption("weight format (default: the model's CPU default)"))
    .addOption(modelsDirOption())
    .addOption(catalogOption())
    .action((id: string, o: { dtype?: Dtype; modelsDir?: string; catalog?: string }) => run(pullCommand(id, o, defaultDataDir(), stdout.write)));
  models
    .command('import')
    .description('install a model from a folder, offline, checking every file against its manifest, the catalog or its installed.json')
    .argument('<dir>', 'model folder')
    .option('--id <id>', 'model id to install as (default: the catalog id or the package name)')
    .addOption(dtypeOption('weight format of the folder, when checked against the catalog'))
    .option('--force', 'replace a model already installed under the same id (it stays until the new one is verified)')
    .addOption(modelsDirOption())
    .addOption(catalogOption())
    .action((dir: string, o: { id?: string; dtype?: Dtype; force?: boolean; modelsDir?: string; catalog?: string }) => run(importCommand(dir, o, defaultDataDir(), stdout.write)));
  models
    .command('rm')
    .description('remove an installed model and any partial download of it')
    .argument('<id>', 'model id')
    .addOption(modelsDirOption())
    .action((id: string, o: { modelsDir?: string }) => run(removeCommand(id, o, defaultDataDir(), stdout.write)));
  models
    .command('verify')
    .description('check a package: manifest values, files, sizes, sha256, graph inputs and outputs')
    .argument('<dir>', 'model package folder')
    .action((dir: string) => run(verify(dir)));
  return program;
}

/** One line for a file-system error caused by the user's paths, or undefined for anything else. */
function fileSystemProblem(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const reason = e?.code ? FS_REASONS[e.code] : undefined;
  if (!reason) return undefined;
  return e!.path ? `cannot use ${e!.path}: ${reason}` : `${reason} (${e!.code})`;
}

/** Run the CLI with argv (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let pending: Promise<number> | undefined;
  const program = buildProgram((p) => {
    pending = p;
  }, await packageVersion());
  /** stdout could not be written (a full disk, /dev/full): one line, exit 1; a closed pipe (EPIPE) ends quietly. */
  const outputFailed = (): number | undefined => {
    const problem = stdout.failure();
    if (problem === undefined) return undefined;
    process.stderr.write(`omnifusion: cannot write ${outputName}: ${problem}\n`);
    return 1;
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
    const code = pending ? await pending : 0;
    // A failed write to a file or pipe is reported as an 'error' event on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    return outputFailed() ?? code;
  } catch (err) {
    await new Promise((resolve) => setImmediate(resolve));
    const failed = outputFailed();
    if (failed !== undefined) return failed;
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError || err instanceof OcrUsageError || err instanceof ModelsUsageError) {
      process.stderr.write(`omnifusion: ${err.message}\n`);
      return 2;
    }
    if (
      err instanceof EngineError ||
      err instanceof ModelPackageError ||
      err instanceof StoreError ||
      err instanceof TextOcrModelError ||
      err instanceof ModelError ||
      err instanceof CatalogError ||
      isImageInputError(err)
    ) {
      process.stderr.write(`omnifusion: ${err.message}\n`);
      return 1;
    }
    const fsProblem = fileSystemProblem(err);
    if (fsProblem) {
      process.stderr.write(`omnifusion: ${fsProblem}\n`);
      return 1;
    }
    process.stderr.write(`omnifusion: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}
