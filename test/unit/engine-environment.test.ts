/**
 * The engine process's environment is an allow-list (issue 11): secrets and variables that inject
 * code into Node never reach it; what native GPU and BLAS libraries read does. Both launchers
 * (the Node child process and Electron's utility process) use it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineEnvironment } from '../../main/engine/process/environment.js';
import { engineForkOptions } from '../../main/app/engine-launcher.js';

const PARENT: NodeJS.ProcessEnv = {
  PATH: '/usr/bin',
  HOME: '/home/u',
  LANG: 'de_DE.UTF-8',
  LC_ALL: 'C',
  TMPDIR: '/tmp',
  XDG_CACHE_HOME: '/home/u/.cache',
  LD_LIBRARY_PATH: '/usr/local/cuda/lib64',
  CUDA_VISIBLE_DEVICES: '1',
  ORT_LOGGING_LEVEL: '3',
  VK_ICD_FILENAMES: '/nowhere.json',
  OMP_NUM_THREADS: '2',
  SystemRoot: 'C:\\Windows',
  // Never passed:
  NODE_OPTIONS: '--require /tmp/evil.js',
  NODE_PATH: '/tmp',
  ELECTRON_RUN_AS_NODE: '1',
  OMNIFUSION_API_KEY: 'sk-secret',
  HF_TOKEN: 'hf_secret',
  AWS_SECRET_ACCESS_KEY: 'aws',
  GITHUB_TOKEN: 'gh',
  LD_PRELOAD: '/tmp/evil.so',
  DYLD_INSERT_LIBRARIES: '/tmp/evil.dylib',
};

test('engineEnvironment keeps the allow-list and drops secrets and code injection', () => {
  const env = engineEnvironment(PARENT);
  assert.deepEqual(Object.keys(env).sort(), [
    'CUDA_VISIBLE_DEVICES',
    'HOME',
    'LANG',
    'LC_ALL',
    'LD_LIBRARY_PATH',
    'OMP_NUM_THREADS',
    'ORT_LOGGING_LEVEL',
    'PATH',
    'SystemRoot',
    'TMPDIR',
    'VK_ICD_FILENAMES',
    'XDG_CACHE_HOME',
  ]);
  assert.equal(env.PATH, '/usr/bin');
});

test("the caller's own variables are always kept", () => {
  assert.deepEqual(engineEnvironment({ HF_TOKEN: 'x' }, { OMNIFUSION_ENGINE_TEST: '1' }), { OMNIFUSION_ENGINE_TEST: '1' });
});

test("Electron's utility process gets the same allow-list", () => {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, { OMNIFUSION_API_KEY: 'sk-secret', NODE_OPTIONS: '--require x' });
    const env = engineForkOptions().env as NodeJS.ProcessEnv;
    assert.equal(env.OMNIFUSION_API_KEY, undefined);
    assert.equal(env.NODE_OPTIONS, undefined);
    assert.equal(env.PATH, process.env.PATH);
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});
