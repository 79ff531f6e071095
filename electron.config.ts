/**
 * Build and packaging of the desktop app (electron-builder). The app shell arrives with the
 * desktop-app issue; what is fixed now is what every package must get right: native modules
 * (onnxruntime-node, sharp and its @img binaries, better-sqlite3) are unpacked from the asar,
 * since shared libraries cannot be loaded from inside it.
 */
import type { Configuration } from 'electron-builder';

/** Native modules the app loads, unpacked from app.asar (see shared reference: Electron asar). */
export const ASAR_UNPACK = [
  'node_modules/onnxruntime-node/**',
  'node_modules/onnxruntime-common/**',
  'node_modules/sharp/**',
  'node_modules/@img/**',
  'node_modules/better-sqlite3/**',
  '**/*.node',
];

export const builderConfig: Configuration = {
  appId: 'org.omnifusion.desktop',
  productName: 'OmniFusion Desktop',
  directories: { output: 'out', buildResources: 'resources' },
  files: ['dist/**', 'bin/**', 'package.json', '!**/*.map'],
  asar: true,
  asarUnpack: ASAR_UNPACK,
  npmRebuild: true,
  linux: { target: ['AppImage', 'deb'], category: 'Office' },
  win: { target: 'nsis' },
  mac: { target: 'dmg' },
};

export default builderConfig;
