/**
 * Where other machines reach `serve --host 0.0.0.0 --allow-remote`: a wildcard address is not one
 * a browser can open, so the URL is given for each of this machine's external interfaces.
 */
import type { NetworkInterfaceInfo } from 'node:os';

/**
 * The URLs other machines can open for a server bound to `host` whose own URL is `url`
 * (`http://<host>:<port>/?token=…`): for a wildcard host ('0.0.0.0', '::'), one per external
 * address of `interfaces` (IPv4 only for 0.0.0.0; both for '::'); for any other host, just `url`.
 * @param interfaces os.networkInterfaces() (injected for tests).
 */
export function reachableUrls(url: string, host: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]';
  if (!wildcard) return [url];
  const parsed = new URL(url);
  const out: string[] = [];
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal || (host === '0.0.0.0' && info.family !== 'IPv4')) continue;
      // Link-local IPv6 needs a zone id a browser URL cannot carry.
      if (info.family === 'IPv6' && info.address.toLowerCase().startsWith('fe80:')) continue;
      const u = new URL(parsed);
      u.hostname = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      out.push(u.toString());
    }
  }
  return out.length ? out : [url];
}
