/**
 * Files under the top-level resources/ folder (model catalog, helper graphs), found from the
 * module that asks: under tsx the sources sit in main/…, once built in dist/main/…, and packaged
 * inside app.asar (Electron's fs reads from it; native code such as onnxruntime cannot, so read
 * the bytes in JS and hand them over).
 * Rule: every layer (core, engine, cli, server, app) may import main/base; main/base imports none of them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The first `resources/<relative>` found walking up from the calling module's folder (at most 6
 * levels), else the nearest candidate (so a missing file gets a plain ENOENT naming it).
 * @param moduleUrl the caller's `import.meta.url`.
 */
export function resourcePath(moduleUrl: string, relative: string): string {
  const from = path.dirname(fileURLToPath(moduleUrl));
  const wanted = path.join('resources', relative);
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, wanted);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.join(from, wanted);
}
