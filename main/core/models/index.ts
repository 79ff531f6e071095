/** Model catalog, downloads and installs (pure Node; no Electron). */
export * from './catalog.js';
export * from './download.js';
export * from './install.js';
export { ModelError, formatBytes, type ModelErrorCode } from './errors.js';
export { ensureFreeSpace, freeBytes, type StatfsFn, type StatfsLike } from './disk.js';
export { DEFAULT_HUB_URL, resolveUrl, type FetchFn } from './hub.js';
export type { PullPhase, PullProgress } from './progress.js';
export type { RetryOptions, SleepFn } from './retry.js';
