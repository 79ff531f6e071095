/**
 * `omnifusion models verify DIR`: a package is complete and intact — every file present with the
 * size and sha256 the manifest lists, and every graph's inputs/outputs as the manifest declares.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadManifest } from './manifest.js';
import { ModelPackageError } from './errors.js';
import { GRAPH_NAMES, type ModelManifest } from './manifest-types.js';
import { checkGraphSignature, openSession } from '../session.js';
import { adoptKvDtype } from './hf-folder.js';

/** sha256 of a file as lowercase hex, streamed (graphs can be gigabytes). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** One line of a verification report. */
export interface VerifyLine {
  item: string;
  status: 'ok';
  detail: string;
}

/**
 * Verify a package folder; returns the checks that passed.
 * @throws ModelPackageError with a one-line message at the first failed check.
 */
export async function verifyPackage(dir: string): Promise<{ manifest: ModelManifest; lines: VerifyLine[] }> {
  const folder = path.resolve(dir);
  const manifest = await loadManifest(folder);
  const lines: VerifyLine[] = [];
  const files = Object.entries(manifest.files ?? {});
  if (manifest.origin === 'hf-config') {
    // A folder read as published (onnx-community layout) carries no checksums; the catalog's are checked at download.
    lines.push({ item: 'checksums', status: 'ok', detail: 'none in this folder (config.json model, onnx-community layout); verified against the catalog at download' });
  } else if (!files.length) throw new ModelPackageError(`${folder}/manifest.json: lists no files with checksums`);
  for (const [file, expected] of files) {
    const full = path.join(folder, file);
    const info = await stat(full);
    if (info.size !== expected.bytes) {
      throw new ModelPackageError(`${file}: size ${info.size} bytes, manifest.json says ${expected.bytes}`);
    }
    const digest = await sha256File(full);
    if (digest !== expected.sha256) throw new ModelPackageError(`${file}: sha256 mismatch (file ${digest.slice(0, 12)}…, manifest.json ${expected.sha256.slice(0, 12)}…)`);
    lines.push({ item: file, status: 'ok', detail: `${info.size} bytes, sha256 ${digest.slice(0, 12)}…` });
  }
  for (const name of GRAPH_NAMES) {
    const spec = manifest.graphs[name];
    const { session } = await openSession(path.join(folder, spec.file), 'cpu');
    try {
      if (name === 'decoder_model_merged' && manifest.origin === 'hf-config') adoptKvDtype(manifest, session);
      checkGraphSignature(name, spec, session);
    } finally {
      await session.release();
    }
    lines.push({
      item: name,
      status: 'ok',
      detail: `inputs ${Object.keys(spec.inputs).length}, outputs ${Object.keys(spec.outputs).length} as declared`,
    });
  }
  return { manifest, lines };
}
