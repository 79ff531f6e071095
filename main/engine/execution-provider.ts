/** The execution providers the engine knows, by name: a leaf (no onnxruntime), so protocol and host types need not load session.ts. */

/** Execution providers the engine knows. `auto` tries a GPU provider and falls back to CPU. */
export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml' | 'auto';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml', 'auto'];
