/**
 * Attachment files on disk, content-addressed: `<root>/<sha256[0:2]>/<sha256>`.
 *
 * The database never holds file bytes; it refers to files by hash, so identical
 * attachments are stored once. Files are written to a temporary name, synced and
 * renamed, so a crash never leaves a truncated file under a real hash.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { StoreError } from './errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = '.tmp-';

/**
 * The path of the file for `sha256` under `root`.
 * Throws StoreError('invalid_argument') unless `sha256` is 64 lowercase hex digits; the
 * hash arrives from the renderer and HTTP clients, and must never become `../`.
 */
export function attachmentFilePath(root: string, sha256: string): string {
  if (!SHA256_HEX.test(sha256)) {
    throw new StoreError('invalid_argument', `not an attachment hash: ${JSON.stringify(sha256.slice(0, 80))}`);
  }
  return path.join(root, sha256.slice(0, 2), sha256);
}

/**
 * Makes sure the file for `sha256` holds `bytes`: skipped when a file of the same size
 * is already there, otherwise written atomically. Throws the fs error (e.g. ENOSPC).
 */
export function writeAttachmentFile(root: string, sha256: string, bytes: Uint8Array): void {
  const target = attachmentFilePath(root, sha256);
  try {
    if (statSync(target).size === bytes.byteLength) return;
  } catch {
    // Missing: write it below.
  }
  mkdirSync(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `${TEMP_PREFIX}${sha256}-${process.pid}`);
  const fd = openSync(temp, 'w');
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, target);
}

/** Removes the file for `sha256`; a missing file is not an error. */
export function removeAttachmentFile(root: string, sha256: string): void {
  rmSync(attachmentFilePath(root, sha256), { force: true });
}

/**
 * Deletes files under `root` that `keep` rejects, and temporary files left by an
 * interrupted write. Returns the number of files removed.
 */
export function sweepAttachmentFiles(root: string, keep: (sha256: string) => boolean): number {
  let removed = 0;
  let shards: string[];
  try {
    shards = readdirSync(root);
  } catch {
    return 0; // no attachments folder yet
  }
  for (const shard of shards) {
    const dir = path.join(root, shard);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // not a folder
    }
    for (const name of names) {
      const orphan = name.startsWith(TEMP_PREFIX) || (SHA256_HEX.test(name) && name.startsWith(shard) && !keep(name));
      if (orphan) {
        rmSync(path.join(dir, name), { force: true });
        removed++;
      }
    }
  }
  return removed;
}
