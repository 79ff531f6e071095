/**
 * JSON on the web bridge's wire, browser side: Uint8Array values travel as {"$bytes": "<base64>"}
 * (main/server/wire.ts does the same in Node). No Node APIs here: base64 through btoa/atob.
 */

/** Base64 of bytes, in chunks so that large images do not overflow the argument list. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** Bytes of a base64 string. */
export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** JSON.stringify replacer: Uint8Array → {"$bytes": base64}. */
export function encodeBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $bytes: bytesToBase64(value) } : value;
}

/** JSON.parse reviver: {"$bytes": base64} → Uint8Array. */
export function decodeBytes(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const bytes = (value as { $bytes?: unknown }).$bytes;
    if (typeof bytes === 'string' && Object.keys(value).length === 1) return base64ToBytes(bytes);
  }
  return value;
}
