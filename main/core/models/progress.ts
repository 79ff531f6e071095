/** Throttled download progress: bytes done/total, rate (bytes/s) and time left (s). */

/** What a download is doing when a progress event is sent. */
export type PullPhase = 'resolving' | 'downloading' | 'installing' | 'done';

/** One progress event of a pull or import. */
export interface PullProgress {
  modelId: string;
  phase: PullPhase;
  /** Repository path of the file being transferred, when there is one. */
  file?: string;
  /** 0-based index of `file` among `fileCount`. */
  fileIndex: number;
  fileCount: number;
  /**
   * Bytes done, never decreasing: bytes already on disk from an earlier attempt count at the
   * start, and bytes that must be fetched again (a corrupt file, a server that ignored Range)
   * grow `bytesTotal` instead of shrinking `bytesDone`. At `phase: 'done'` it equals bytesTotal.
   */
  bytesDone: number;
  /** Bytes of the whole pull (all files), plus any bytes that had to be fetched again. */
  bytesTotal: number;
  /** Transfer rate over the last few seconds, bytes per second (0 before any byte arrives). */
  rateBytesPerSec: number;
  /** Seconds left at the current rate; null while the rate is unknown (0 bytes/s). */
  etaSec: number | null;
}

/** Tracks bytes and sends throttled PullProgress events. */
export class ProgressMeter {
  private done = 0;
  private total = 0;
  private lastEmit = -Infinity;
  private samples: { t: number; bytes: number }[] = [];
  private transferred = 0;
  private current: { phase: PullPhase; file?: string; fileIndex: number } = { phase: 'resolving', fileIndex: 0 };

  /**
   * @param intervalMs minimum time between two events of the same phase (ms); phase changes
   *   and the final event are always sent.
   * @param windowMs time window of the rate average (ms).
   */
  constructor(
    private readonly modelId: string,
    private readonly fileCount: number,
    private readonly onProgress: ((p: PullProgress) => void) | undefined,
    private readonly intervalMs = 250,
    private readonly now: () => number = () => performance.now(),
    private readonly windowMs = 3000,
  ) {}

  get bytesDone(): number {
    return this.done;
  }

  get bytesTotal(): number {
    return this.total;
  }

  /** Set the total (bytes) once the sizes are known; bytes already on disk count as done. */
  start(totalBytes: number, alreadyDoneBytes: number): void {
    this.total = totalBytes;
    this.done = Math.min(alreadyDoneBytes, totalBytes);
  }

  /** Bytes that must be transferred again (discarded data): the total grows by that much. */
  redo(bytes: number): void {
    if (bytes > 0) this.total += bytes;
  }

  /** Bytes that turned out to be needed beyond the planned total (a size learnt late). */
  grow(bytes: number): void {
    if (bytes > 0) this.total += bytes;
  }

  /** Record `bytes` received from the network and maybe send an event. */
  add(bytes: number): void {
    this.done += bytes;
    if (this.done > this.total) this.total = this.done;
    this.transferred += bytes;
    const t = this.now();
    this.samples.push({ t, bytes: this.transferred });
    while (this.samples.length > 2 && this.samples[0]!.t < t - this.windowMs) this.samples.shift();
    this.emit(false);
  }

  /** Switch phase or file; always sends an event. */
  phase(phase: PullPhase, file?: string, fileIndex = this.current.fileIndex): void {
    this.current = { phase, file, fileIndex };
    if (phase === 'done') this.done = this.total;
    this.emit(true);
  }

  private rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const dt = (last.t - first.t) / 1000;
    if (dt <= 0) return 0;
    return (last.bytes - first.bytes) / dt;
  }

  private emit(force: boolean): void {
    if (!this.onProgress) return;
    const t = this.now();
    if (!force && t - this.lastEmit < this.intervalMs) return;
    this.lastEmit = t;
    const rate = this.rate();
    const left = Math.max(0, this.total - this.done);
    this.onProgress({
      modelId: this.modelId,
      phase: this.current.phase,
      ...(this.current.file !== undefined ? { file: this.current.file } : {}),
      fileIndex: this.current.fileIndex,
      fileCount: this.fileCount,
      bytesDone: this.done,
      bytesTotal: this.total,
      rateBytesPerSec: Math.round(rate),
      etaSec: left === 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
    });
  }
}
