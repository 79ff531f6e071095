/**
 * The Idefics3 benchmark model of npm run bench:engine (parts 2 and 4): a random-weight model with
 * SmolVLM-256M-Instruct's shapes (native-models/idefics3/export.py --tiny --size bench), built once
 * into .cache/bench/idefics3-bench, and the photo and question the parts ask about.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { REAL_DATA_DIR, REPO_ROOT } from '../fixtures/reference-cases.js';

export const I3_DIR = path.join(REPO_ROOT, '.cache/bench/idefics3-bench');
const I3_SEED = 1;
/** A real receipt photo (864×1296: 4 × 3 tiles and the global image, 13 frames). */
export const I3_PHOTO = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');
export const I3_QUESTION = 'What is the total amount on this receipt?';

/** Export the bench model once (into a .partial folder renamed when complete, so an interrupted build is redone). */
export function ensureIdefics3Model(): void {
  const config = path.join(I3_DIR, 'config.json');
  if (existsSync(config) && JSON.parse(readFileSync(config, 'utf8')).idefics3_random_size === 'bench') return;
  const partial = `${I3_DIR}.partial`;
  rmSync(partial, { recursive: true, force: true });
  process.stdout.write(`building the Idefics3 benchmark model in ${path.relative(REPO_ROOT, I3_DIR)} (once; several minutes) …\n`);
  execFileSync(
    '/usr/bin/python3',
    ['native-models/idefics3/export.py', '--tiny', '--size', 'bench', '--seed', String(I3_SEED), '--out', partial],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  rmSync(I3_DIR, { recursive: true, force: true });
  renameSync(partial, I3_DIR);
}
