/**
 * A fake engine process for API service tests: loads any folder at once (a model named after it,
 * or `name`, with the defaults it is given), answers every question with "answer N" (N counts the
 * requests), and records what it was asked: the folders loaded, the generate requests, the shutdowns.
 */
import path from 'node:path';
import type { EngineLauncher, EngineProcess } from '../../main/engine/host.js';
import type { EngineEvent, EngineRequest, GenerateRequest, GenerateResult, ModelDefaultsInfo } from '../../main/engine/protocol.js';

export interface FakeEngine {
  launcher: EngineLauncher;
  loads: string[];
  requests: GenerateRequest[];
  stops: () => number;
}

/**
 * @param options family of the loaded model (default 'omnifusion'); name: the model name (default
 *   `loaded:<folder name>`); crashOn: the 1-based generate requests during which the process dies
 *   after streaming its first token (as a kill -9 or an out-of-memory kill would); defaults: what
 *   the loaded model reports as its defaults (none when absent, as from an engine that does not say);
 *   result: fields put into the result of the n-th (1-based) generate request.
 */
export function fakeEngine(
  options: { family?: string; name?: string; crashOn?: number[]; defaults?: ModelDefaultsInfo; result?: (n: number) => Partial<GenerateResult> } = {},
): FakeEngine {
  const loads: string[] = [];
  const requests: GenerateRequest[] = [];
  let stops = 0;
  const launcher: EngineLauncher = () => {
    let onMessage: (e: EngineEvent) => void = () => {};
    let onExit: (why: string) => void = () => {};
    const proc: EngineProcess = {
      pid: 4242,
      send(request: EngineRequest) {
        if (request.type === 'load') {
          loads.push(request.modelDir);
          const name = options.name ?? `loaded:${path.basename(request.modelDir)}`;
          const info = { name, family: options.family ?? 'omnifusion', dir: request.modelDir, execution_provider: 'cpu', load_ms: 1, ...(options.defaults ? { defaults: options.defaults } : {}) };
          setTimeout(() => onMessage({ type: 'loaded', id: request.id, info }), 5);
        } else if (request.type === 'generate') {
          requests.push(request.request);
          const n = requests.length;
          const answer = `answer ${n}`;
          const id = request.id;
          const crash = options.crashOn?.includes(requests.length) ?? false;
          setTimeout(() => {
            onMessage({ type: 'token', id, token_id: 1, text: answer });
            if (crash) return void setTimeout(() => onExit('signal SIGKILL'), 1);
            const timings = { image_ms: 0, prefill_ms: 1, ttft_ms: 1, decode_tokens_per_s: 0, total_ms: 2 };
            const base: GenerateResult = { answer, token_ids: [1], finish_reason: 'eos', prompt_length: 3, reused_prompt_tokens: 0, execution_provider: 'cpu', kv_cache: 'cpu', timings };
            onMessage({ type: 'done', id, result: { ...base, ...options.result?.(n) } });
          }, 1);
        } else if (request.type === 'shutdown') {
          stops++;
          setTimeout(() => onExit('exit code 0'), 1);
        }
      },
      onMessage: (l) => {
        onMessage = l;
        setTimeout(() => l({ type: 'ready', pid: 4242 }), 1);
      },
      onExit: (l) => {
        const prev = onExit;
        onExit = (why) => {
          prev(why);
          l(why);
        };
      },
      kill: () => onExit('signal SIGKILL'),
    };
    return proc;
  };
  return { launcher, loads, requests, stops: () => stops };
}
