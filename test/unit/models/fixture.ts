/** A tiny Hub-hosted model for the download tests: a local hub server, a catalog entry, options. */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CatalogModel } from '../../../main/core/models/catalog.js';
import type { PullOptions } from '../../../main/core/models/download.js';
import type { PullProgress } from '../../../main/core/models/progress.js';
import { HubServer, testBytes } from '../../helpers/hub-server.js';

export const REPO = 'test-org/tiny-vlm';
export const REV = '0123456789abcdef0123456789abcdef01234567';
export const CONFIG = 'config.json';
export const VISION = 'onnx/vision_encoder.onnx';
export const DECODER = 'onnx/decoder_model_merged.onnx';

export const CONTENT: Record<string, Buffer> = {
  [CONFIG]: Buffer.from(JSON.stringify({ model_type: 'idefics3', hidden_size: 32 }, null, 2)),
  [VISION]: testBytes(300_000, 2),
  [DECODER]: testBytes(1_000_000, 3),
};
export const TOTAL_BYTES = Object.values(CONTENT).reduce((s, b) => s + b.length, 0);

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * The catalog entry of the test model.
 * @param facts which facts the catalog carries: exact sizes, sha256.
 */
export function testModel(facts: { sizes?: boolean; sha256?: boolean } = {}, id = 'tiny-vlm'): CatalogModel {
  const file = (p: string): CatalogModel['files'][number] => ({
    path: p,
    ...(facts.sizes ? { bytes: CONTENT[p]!.length } : {}),
    ...(facts.sha256 ? { sha256: sha256(CONTENT[p]!) } : {}),
  });
  return {
    id,
    name: 'Tiny VLM',
    family: 'idefics3',
    description: 'test model',
    source: { kind: 'hub', repo: REPO, revision: REV },
    licence: { id: 'apache-2.0' },
    strengths: ['documents'],
    files: [file(CONFIG), file(VISION), file(DECODER)],
    common: [CONFIG],
    dtypes: { fp32: { files: [VISION, DECODER], memoryBytes: 10_000_000 } },
    defaultDtype: { cpu: 'fp32', gpu: 'fp32' },
    verified: true,
  };
}

export interface Env {
  hub: HubServer;
  root: string;
  modelsDir: string;
  sleeps: number[];
  events: PullProgress[];
  options: PullOptions;
  cleanup(): Promise<void>;
}

/** Start a hub serving the test model, a temp models folder, and pull options for them. */
export async function makeEnv(extra: Partial<PullOptions> = {}): Promise<Env> {
  const hub = await HubServer.start(Object.entries(CONTENT).map(([p, content]) => ({ repo: REPO, revision: REV, path: p, content })));
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-models-'));
  const modelsDir = path.join(root, 'models');
  const sleeps: number[] = [];
  const events: PullProgress[] = [];
  const options: PullOptions = {
    modelsDir,
    baseUrl: hub.url,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    statfs: async () => ({ bavail: 1e12, bsize: 1 }),
    progressIntervalMs: 0,
    stallTimeoutMs: 5000,
    onProgress: (p) => events.push(p),
    ...extra,
  };
  return {
    hub,
    root,
    modelsDir,
    sleeps,
    events,
    options,
    async cleanup() {
      await hub.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Assert progress events are monotonic and end at the total; returns the last event. */
export function checkProgress(events: PullProgress[], assertFn: (cond: boolean, msg: string) => void): PullProgress {
  assertFn(events.length > 0, 'no progress events');
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1]!;
    const b = events[i]!;
    assertFn(b.bytesDone >= a.bytesDone, `bytesDone went back: ${a.bytesDone} → ${b.bytesDone} (event ${i})`);
    assertFn(b.bytesTotal >= a.bytesTotal, `bytesTotal went back: ${a.bytesTotal} → ${b.bytesTotal} (event ${i})`);
    assertFn(b.bytesDone <= b.bytesTotal, `bytesDone ${b.bytesDone} > bytesTotal ${b.bytesTotal} (event ${i})`);
    assertFn(b.rateBytesPerSec >= 0 && (b.etaSec === null || b.etaSec >= 0), `bad rate/eta in event ${i}`);
  }
  const last = events[events.length - 1]!;
  assertFn(last.phase === 'done', `last phase is ${last.phase}`);
  assertFn(last.bytesDone === last.bytesTotal, `last event ${last.bytesDone}/${last.bytesTotal}`);
  return last;
}
