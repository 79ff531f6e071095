/** Free-disk checks before a download or import writes anything. */
import { statfs as fsStatfs } from 'node:fs/promises';
import path from 'node:path';
import { ModelError, formatBytes } from './errors.js';

/** The fields of fs.statfs the check reads: free blocks for unprivileged users and block size. */
export interface StatfsLike {
  bavail: number | bigint;
  bsize: number | bigint;
}

/** fs.statfs, or a stand-in for tests. */
export type StatfsFn = (dir: string) => Promise<StatfsLike>;

export const defaultStatfs: StatfsFn = (dir) => fsStatfs(dir);

/**
 * Bytes free for this user on the file system that holds `dir`. `dir` need not exist yet:
 * the nearest existing ancestor is asked (so nothing is created to find out).
 * @throws the statfs error when no ancestor can be read.
 */
export async function freeBytes(dir: string, statfs: StatfsFn = defaultStatfs): Promise<number> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const s = await statfs(current);
      return Number(s.bavail) * Number(s.bsize);
    } catch (err) {
      const parent = path.dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

/**
 * Check that `neededBytes` (plus `marginBytes` of headroom) fit on the disk holding `dir`.
 * @param neededBytes bytes still to write.
 * @param marginBytes headroom kept free beyond the download (default 0).
 * @throws ModelError('disk_full') "not enough free disk space in DIR for WHAT: need X, Y free".
 */
export async function ensureFreeSpace(
  dir: string,
  neededBytes: number,
  what: string,
  options: { statfs?: StatfsFn; marginBytes?: number } = {},
): Promise<{ freeBytes: number }> {
  const free = await freeBytes(dir, options.statfs);
  const margin = options.marginBytes ?? 0;
  if (neededBytes + margin > free) {
    throw new ModelError(
      'disk_full',
      `not enough free disk space in ${path.resolve(dir)} for ${what}: need ${formatBytes(neededBytes + margin)} (${neededBytes + margin} bytes), ${formatBytes(free)} (${free} bytes) free`,
      { details: { neededBytes: neededBytes + margin, freeBytes: free, dir: path.resolve(dir) } },
    );
  }
  return { freeBytes: free };
}
