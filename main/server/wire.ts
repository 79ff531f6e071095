/**
 * JSON on the web bridge's wire: Uint8Array values travel as {"$bytes": "<base64>"} (the renderer's
 * web-bridge client does the same in the browser).
 */

/** JSON.stringify replacer: Uint8Array → {"$bytes": base64}. */
export function encodeBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') } : value;
}

/** JSON.parse reviver: {"$bytes": base64} → Uint8Array. */
export function decodeBytes(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const bytes = (value as { $bytes?: unknown }).$bytes;
    if (typeof bytes === 'string' && Object.keys(value).length === 1) return new Uint8Array(Buffer.from(bytes, 'base64'));
  }
  return value;
}
