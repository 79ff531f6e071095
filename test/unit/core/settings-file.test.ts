/** main/core/settings.ts: a damaged, hand-edited or older settings file never stops the app; writes are atomic. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Settings } from '../../../main/api/contract.js';
import { readSettingsFile, settingProblem, writeSettingsFile } from '../../../main/core/settings.js';
import { createApiService } from '../../../main/core/api-service.js';

const DEFAULTS: Settings = { theme: 'system', systemPrompt: null, maxNewTokens: 512, greedy: true, temperature: null, top_p: null, captureHotkey: 'Control+Alt+Shift+M', captureMode: 'ask', captureOpens: 'quick-ask', device: 'auto' };

function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnifusion-settings-'));
  return run(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('settingProblem: one line per bad value, unknown keys named', () => {
  assert.equal(settingProblem('theme', 'dark'), undefined);
  assert.equal(settingProblem('theme', 5), 'theme must be system, light or dark');
  assert.equal(settingProblem('device', 'tpu'), 'device must be auto, cpu, webgpu, cuda, dml or coreml');
  assert.equal(settingProblem('maxNewTokens', 0), "maxNewTokens must be a whole number from 1 to 32768, or null for the model's default");
  assert.equal(settingProblem('captureHotkey', 'M'), '"M" is not a shortcut: use modifiers and one key, e.g. Control+Alt+Shift+M');
  assert.equal(settingProblem('zzz', 1), 'unknown setting "zzz"');
});

test('an empty or truncated file is moved aside and the defaults are used; bad and unknown values fall back one by one', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'settings.json');
    for (const damaged of ['', '{bad', '[1,2]', 'null']) {
      writeFileSync(file, damaged);
      const { settings, notes } = await readSettingsFile(file, DEFAULTS);
      assert.deepEqual(settings, DEFAULTS, JSON.stringify(damaged));
      assert.match(notes[0] ?? '', /damaged; it was moved to .*settings\.json\.damaged-\d+/);
    }
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('settings.json.damaged-')).length >= 1, true, 'kept for a look');
    writeFileSync(file, JSON.stringify({ theme: 5, maxNewTokens: 64, zzz: 1, activeModel: 'smolvlm-256m-instruct', device: 'cuda' }));
    const { settings, notes } = await readSettingsFile(file, DEFAULTS);
    assert.deepEqual(settings, { ...DEFAULTS, maxNewTokens: 64, device: 'cuda', activeModel: 'smolvlm-256m-instruct' });
    assert.deepEqual(notes, ['settings.json: theme must be system, light or dark; using the default', 'settings.json: unknown setting "zzz"; using the default']);
  });
});

test('a file of the app before the answer options: decoding becomes greedy, without a note; the new fields are read and checked', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify({ theme: 'dark', maxNewTokens: 300, decoding: 'model' }));
    let read = await readSettingsFile(file, DEFAULTS);
    assert.deepEqual(read.settings, { ...DEFAULTS, theme: 'dark', maxNewTokens: 300, greedy: false });
    assert.deepEqual(read.notes, []);
    writeFileSync(file, JSON.stringify({ decoding: 'greedy' }));
    assert.equal((await readSettingsFile(file, { ...DEFAULTS, greedy: false })).settings.greedy, true);
    writeFileSync(file, JSON.stringify({ decoding: 'model', greedy: true }));
    assert.equal((await readSettingsFile(file, DEFAULTS)).settings.greedy, true, 'a greedy saved by this version wins');

    writeFileSync(file, JSON.stringify({ systemPrompt: 'Be brief.', temperature: 0.7, top_p: 5, maxNewTokens: null, greedy: 'no' }));
    read = await readSettingsFile(file, DEFAULTS);
    assert.deepEqual(read.settings, { ...DEFAULTS, systemPrompt: 'Be brief.', temperature: 0.7, maxNewTokens: null });
    assert.deepEqual(read.notes, [
      "settings.json: top_p must be a number above 0 and at most 1, or null for the model's default; using the default",
      'settings.json: greedy must be true or false; using the default',
    ]);
  });
});

test('writes replace the file whole; the service starts on a damaged file and refuses unknown or mistyped settings', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'settings.json');
    await writeSettingsFile(file, { ...DEFAULTS, theme: 'dark' });
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).theme, 'dark');
    assert.deepEqual(readdirSync(dir), ['settings.json'], 'no temporary file left');
    writeFileSync(file, '{bad');
    const service = await createApiService({ dataDir: dir, readImageText: false });
    try {
      assert.equal((await service.call('settings.get', {})).theme, 'system');
      for (const [patch, message] of [
        [{ zzz: 1 }, 'unknown setting "zzz"'],
        [{ theme: 5 }, 'theme must be system, light or dark'],
        [{ maxNewTokens: '9' }, "maxNewTokens must be a whole number from 1 to 32768, or null for the model's default"],
      ] as const) {
        await assert.rejects(service.call('settings.set', patch as never), (e) => service.describeError(e).code === 'bad_request' && service.describeError(e).message === message);
      }
      assert.equal('zzz' in (await service.call('settings.get', {})), false);
    } finally {
      await service.close();
    }
  });
});
