// How models and downloads are described in the window: sizes in decimal units (as the Hub lists
// them), download progress lines, time left, and a model's size and strengths. Plain functions, no
// state (lib/state/models.svelte.ts holds that).

import type { ModelEntry, ModelProgress } from '../../main/api/contract.js';

/** Bytes in decimal units, as the Hub lists them: 512 B, 94.2 MB, 1.87 GB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

/** Time left in words: "12 s left", "about 3 min left", "about 1 h 5 min left". */
export function formatEta(sec: number | null): string {
  if (sec === null) return '';
  if (sec < 60) return `${Math.max(0, Math.round(sec))} s left`;
  const min = Math.round(sec / 60);
  if (min < 60) return `about ${min} min left`;
  return `about ${Math.floor(min / 60)} h ${min % 60} min left`;
}

/** One line of a download's progress: "12.3 MB of 27.1 MB · 3.2 MB/s · 5 s left". */
export function describeProgress(p: ModelProgress): string {
  if (p.phase === 'resolving') return p.bytesDone > 0 ? `Resuming from ${formatBytes(p.bytesDone)}…` : 'Starting…';
  if (p.phase === 'installing') return 'Installing…';
  if (p.phase === 'done') return 'Installed';
  const parts = [p.bytesTotal > 0 ? `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone)];
  if (p.rateBytesPerSec > 0) parts.push(`${formatBytes(p.rateBytesPerSec)}/s`);
  const eta = formatEta(p.etaSec);
  if (eta) parts.push(eta);
  return parts.join(' · ');
}

/** Percent done, 0..100 (0 while the total is unknown). */
export function percentOf(p: ModelProgress): number {
  if (p.phase === 'done' || p.phase === 'installing') return 100;
  return p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100)) : 0;
}

/** A weight variant's download size as the window says it: exact, "about …", or not known yet. */
export function variantSize(v: ModelEntry['variants'][number]): string {
  return v.unknownSizeFiles > 0 ? 'size known once the download starts' : `${v.exact ? '' : 'about '}${formatBytes(v.downloadBytes)}`;
}

/**
 * The download size and memory need of a model's default variant (or what is installed). Where the
 * catalog does not know the size of every file (sizes the Hub lists only once the download asks
 * for them), the size is said to be unknown rather than shown as the sum of the few known files.
 */
export function sizeOf(m: ModelEntry): { download: string; memory: string } {
  const v = m.variants.find((x) => x.dtype === (m.installed?.dtype ?? m.defaultDtype));
  const download = m.installed ? formatBytes(m.installed.bytes) : v ? variantSize(v) : '';
  return { download, memory: v ? formatBytes(v.memoryBytes) : '' };
}

/** Capitalised strengths for display: "Documents, handwriting". */
export function strengthsText(m: ModelEntry): string {
  const s = m.strengths.join(', ');
  return s ? s[0]!.toUpperCase() + s.slice(1) : '';
}
