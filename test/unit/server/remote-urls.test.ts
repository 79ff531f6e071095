/** serve --host 0.0.0.0 --allow-remote prints URLs other machines can open, not the wildcard. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { reachableUrls } from '../../../main/server/remote-urls.js';

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({ address, family, internal, netmask: '', mac: '00:00:00:00:00:00', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const interfaces = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('192.0.2.2', 'IPv4'), nic('2001:db8::2', 'IPv6'), nic('fe80::1', 'IPv6')],
};

test('0.0.0.0: one URL per external IPv4 address, token kept', () => {
  assert.deepEqual(reachableUrls('http://0.0.0.0:4310/?token=abc', '0.0.0.0', interfaces), ['http://192.0.2.2:4310/?token=abc']);
});

test('::: external IPv4 and IPv6 (not link-local)', () => {
  assert.deepEqual(reachableUrls('http://[::]:4310/?token=abc', '::', interfaces), ['http://192.0.2.2:4310/?token=abc', 'http://[2001:db8::2]:4310/?token=abc']);
});

test('a named host, or no external interface: the server URL as it is', () => {
  assert.deepEqual(reachableUrls('http://192.0.2.2:4310/?token=abc', '192.0.2.2', interfaces), ['http://192.0.2.2:4310/?token=abc']);
  assert.deepEqual(reachableUrls('http://0.0.0.0:4310/?token=abc', '0.0.0.0', { lo: interfaces.lo }), ['http://0.0.0.0:4310/?token=abc']);
});
