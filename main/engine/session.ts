/**
 * onnxruntime-node sessions: execution provider choice with fallback to CPU, and the check of a
 * graph's inputs/outputs against the package manifest.
 */
import * as ort from 'onnxruntime-node';
import path from 'node:path';
import type { ExecutionProvider } from './execution-provider.js';
import { ModelPackageError } from './package/errors.js';
import type { GraphSpec, TensorSpec } from './package/manifest-types.js';

// The provider names live in a leaf (no onnxruntime there); re-exported for the engine's users.
export { EXECUTION_PROVIDERS, type ExecutionProvider } from './execution-provider.js';

/** A created session and the provider it really runs on; `note` says why it differs from the request. */
export interface OpenedSession {
  session: ort.InferenceSession;
  executionProvider: Exclude<ExecutionProvider, 'auto'>;
  note?: string;
}

// onnxruntime logs each failed provider probe in colour on stderr; the fallback note says it once.
ort.env.logLevel = 'fatal';

/** Providers that failed in this process, with the reason: probed once, not once per graph. */
const unavailable = new Map<string, string>();

/** A user-facing reason for a provider that could not be created (known onnxruntime-node messages). */
function explain(ep: string, message: string): string {
  if (ep === 'cuda' && /Failed to load shared library/i.test(message)) {
    return 'its provider libraries are not installed (needs CUDA 12 and cuDNN 9, then ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)';
  }
  if (ep === 'webgpu' && /adapter/i.test(message)) return 'no usable WebGPU adapter (GPU driver or Vulkan/Metal/D3D12 missing)';
  if (/not (supported|available)|backend not found|no such provider|unknown/i.test(message)) {
    return `not available in this onnxruntime-node build on ${process.platform}`;
  }
  return firstLine(message);
}

/**
 * The provider one graph of a VLM is opened with. Core ML takes only the vision encoder (issue 6):
 * it compiles a fixed-shape vision graph well, while the decoder's growing KV cache and dynamic
 * shapes split into many Core ML partitions with copies between them, so the decoder and the
 * token embeddings stay on the CPU. Every other provider runs all three graphs.
 */
export function providerForGraph(graph: 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged', requested: ExecutionProvider): ExecutionProvider {
  return requested === 'coreml' && graph !== 'vision_encoder' ? 'cpu' : requested;
}

/** Providers `auto` tries, in order, for this platform (onnxruntime-node 1.30 bundles: see shared reference §4). */
function autoCandidates(): Exclude<ExecutionProvider, 'auto'>[] {
  if (process.platform === 'win32') return ['dml', 'cpu'];
  if (process.platform === 'linux') return ['cuda', 'cpu'];
  return ['cpu'];
}

/** What openSession does beyond the provider choice. */
export interface OpenSessionOptions {
  /** onnxruntime intra-op threads (0 lets it choose). */
  threads?: number;
  /**
   * Outputs that stay in GPU memory when the session runs on webgpu (`preferredOutputLocation:
   * 'gpu-buffer'`), so they can be fed back as inputs without a round trip through JS: the
   * decoder's `present.*` KV cache. onnxruntime-node binds outputs to device memory only for
   * WebGPU (shared reference §4, IO binding); on every other provider they come back to the CPU.
   */
  deviceOutputs?: readonly string[];
}

/**
 * Create a session for `file` on the requested provider; when that provider cannot be created
 * (no adapter, missing CUDA libraries, unsupported platform) fall back to CPU with a one-line note
 * (none for 'auto', where the CPU is one of the expected outcomes).
 * @throws ModelPackageError when the graph cannot be loaded even on CPU (corrupt or not ONNX).
 */
export async function openSession(file: string, requested: ExecutionProvider, options: OpenSessionOptions = {}): Promise<OpenedSession> {
  const candidates = requested === 'auto' ? autoCandidates() : requested === 'cpu' ? ['cpu' as const] : [requested, 'cpu' as const];
  const failures: string[] = [];
  for (const ep of candidates) {
    const known = unavailable.get(ep);
    if (known) {
      failures.push(`${ep} unavailable: ${known}`);
      continue;
    }
    try {
      const deviceOutputs = ep === 'webgpu' ? (options.deviceOutputs ?? []) : [];
      const session = await ort.InferenceSession.create(file, {
        executionProviders: [ep],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: options.threads ?? 0,
        logSeverityLevel: 3,
        ...(deviceOutputs.length
          ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((name) => [name, 'gpu-buffer' as const])) }
          : {}),
      });
      // With 'auto', trying a GPU and landing on the CPU is the normal course on a machine without
      // one: quiet. A note belongs only where the user asked for a provider that could not run.
      const note = failures.length && requested !== 'auto' ? `${failures.join('; ')}; using cpu` : undefined;
      return { session, executionProvider: ep, ...(note ? { note } : {}) };
    } catch (err) {
      const message = (err as Error).message;
      if (ep === 'cpu') throw new ModelPackageError(`${path.basename(file)}: cannot be loaded by onnxruntime (${firstLine(message)})`);
      const reason = explain(ep, message);
      unavailable.set(ep, reason);
      failures.push(`${ep} unavailable: ${reason}`);
    }
  }
  throw new ModelPackageError(`no execution provider could load ${path.basename(file)}`);
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? text;
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * Check that a session's inputs and outputs have the names, element types and fixed dimensions
 * the manifest declares (symbolic dimensions only need to be symbolic or any size).
 * @throws ModelPackageError naming the first mismatch.
 */
export function checkGraphSignature(graphName: string, spec: GraphSpec, session: ort.InferenceSession): void {
  const sides = [
    ['input', spec.inputs, session.inputMetadata, spec.optional_inputs ?? {}],
    ['output', spec.outputs, session.outputMetadata, {}],
  ] as const;
  for (const [side, declared, actual, optional] of sides) {
    const actualNames = actual.map((m) => m.name);
    for (const name of Object.keys(declared)) {
      if (!actualNames.includes(name)) {
        throw new ModelPackageError(
          `${spec.file}: ${side} "${name}" declared in manifest.json is not in the graph (graph ${side}s: ${actualNames.join(', ')})`,
        );
      }
    }
    for (const meta of actual) {
      const want = declared[meta.name] ?? (optional as Record<string, TensorSpec>)[meta.name];
      if (!want) {
        throw new ModelPackageError(`${spec.file}: graph ${side} "${meta.name}" is not declared in manifest.json for ${graphName}`);
      }
      if (!meta.isTensor) continue;
      if (meta.type !== want.dtype) {
        throw new ModelPackageError(`${spec.file}: ${side} "${meta.name}" is ${meta.type}, manifest.json says ${want.dtype}`);
      }
      if (meta.shape.length && meta.shape.length !== want.shape.length) {
        throw new ModelPackageError(
          `${spec.file}: ${side} "${meta.name}" has rank ${meta.shape.length}, manifest.json says ${want.shape.length}`,
        );
      }
      meta.shape.forEach((dim, i) => {
        const w = want.shape[i];
        if (typeof dim === 'number' && typeof w === 'number' && dim !== w) {
          throw new ModelPackageError(
            `${spec.file}: ${side} "${meta.name}" dimension ${i} is ${dim}, manifest.json says ${w}`,
          );
        }
      });
    }
  }
}
