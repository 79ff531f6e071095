/**
 * The environment an engine process starts with: an allow-list, not the parent's whole
 * environment. The engine reads images and model files and runs native code (onnxruntime and its
 * GPU providers); it needs no secrets (API keys, HF_TOKEN, cloud credentials) and must not take
 * NODE_OPTIONS or other variables that inject code or change how Node starts.
 */

/** Exact names passed through: paths the OS and native libraries need, locale and time zone. */
const NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TMPDIR',
  'TEMP',
  'TMP',
  'LANG',
  'LANGUAGE',
  'TZ',
  // Windows: DLL search and the profile folders.
  'SYSTEMROOT',
  'WINDIR',
  'SYSTEMDRIVE',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
  'PROGRAMDATA',
  'PROGRAMFILES',
  'PATHEXT',
  'COMSPEC',
  'NUMBER_OF_PROCESSORS',
  'PROCESSOR_ARCHITECTURE',
  // Where native libraries (CUDA, ROCm) are found.
  'LD_LIBRARY_PATH',
  'DYLD_LIBRARY_PATH',
  'DYLD_FALLBACK_LIBRARY_PATH',
]);

/**
 * Name prefixes passed through: locale (LC_*), XDG folders, and the knobs of the native compute
 * stack: onnxruntime (ORT_*), CUDA/NVIDIA drivers, ROCm/HIP, Vulkan and Mesa (the WebGPU
 * provider's adapter, VK_ICD_FILENAMES among them), OpenMP and BLAS thread settings.
 */
const PREFIXES = ['LC_', 'XDG_', 'ORT_', 'CUDA_', 'NVIDIA_', 'CUDNN_', 'TRT_', 'HIP_', 'ROCR_', 'HSA_', 'VK_', 'MESA_', 'LIBGL_', 'GALLIUM_', 'DXG', 'OMP_', 'KMP_', 'OPENBLAS_', 'MKL_', 'GOMP_'];

/** Whether the engine process may see variable `name` (case-insensitive on Windows names). */
export function engineMayInherit(name: string): boolean {
  const upper = name.toUpperCase();
  return NAMES.has(upper) || PREFIXES.some((p) => upper.startsWith(p));
}

/**
 * The engine's environment: the allowed variables of `parent`, then `extra` (the caller's own,
 * always kept).
 */
export function engineEnvironment(parent: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && engineMayInherit(name)) env[name] = value;
  }
  return { ...env, ...extra };
}
