// The overrides file and the Settings service: bounded, validated reading (a bad file is reported, never
// fatal), write-before-apply, "back to the config's value removes the override", and refusals that change nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MAX_SETTINGS_BYTES, readOverrides, settingsFile, type Overrides } from '../../src/settings/overrides.ts';
import { Settings, SettingsError, type SettingsChange } from '../../src/settings/service.ts';
import { intervalOf, nightOf } from '../../src/settings/choices.ts';
import { quietLogger, tempDir, testConfig } from '../helpers/setup.ts';

function settings(env: Record<string, string> = {}, initial: Overrides = {}) {
  const dir = tempDir();
  const config = testConfig(env, dir);
  const file = settingsFile(dir);
  const s = new Settings({ config, file, initial, logger: quietLogger() });
  const changes: SettingsChange[] = [];
  s.on('change', (c) => changes.push(c));
  return { s, config, file, changes, stored: () => JSON.parse(fs.readFileSync(file, 'utf8')) as unknown };
}

describe('readOverrides', () => {
  const write = (text: string | Buffer) => {
    const file = path.join(tempDir(), 'settings.json');
    fs.writeFileSync(file, text);
    return file;
  };

  test('no file: no overrides, no problem', async () => {
    assert.deepEqual(await readOverrides(path.join(tempDir(), 'settings.json')), { overrides: {} });
  });

  test('a valid file', async () => {
    const file = write(JSON.stringify({ version: 1, overrides: { 'camera.quality': 70, 'schedule.exposure': null } }));
    assert.deepEqual(await readOverrides(file), { overrides: { 'camera.quality': 70, 'schedule.exposure': null } });
  });

  const BAD: Array<[string, string | Buffer, string]> = [
    ['truncated JSON', '{"version":1,"overrides":{', 'settings_bad_json'],
    ['binary junk', Buffer.from([0xff, 0x00, 0x13]), 'settings_bad_json'],
    ['an unknown key', JSON.stringify({ version: 1, overrides: { 'web.port': 80 } }), 'settings_invalid'],
    ['a value out of range', JSON.stringify({ version: 1, overrides: { 'camera.quality': 0 } }), 'settings_invalid'],
    ['a bad cron pattern', JSON.stringify({ version: 1, overrides: { 'schedule.cron': 'every minute' } }), 'settings_invalid'],
    ['another version', JSON.stringify({ version: 2, overrides: {} }), 'settings_invalid'],
    ['an array', '[]', 'settings_invalid'],
    ['too large', JSON.stringify({ version: 1, overrides: {}, pad: 'x'.repeat(MAX_SETTINGS_BYTES) }), 'settings_too_large'],
  ];
  for (const [name, text, code] of BAD) {
    test(`${name}: ignored, reported as ${code}`, async () => {
      const r = await readOverrides(write(text));
      assert.deepEqual(r.overrides, {});
      assert.equal(r.problem?.code, code);
      assert.ok(r.problem.message.length < 300);
    });
  }

  test('a folder in its place: reported, not thrown', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'settings.json'));
    const r = await readOverrides(path.join(dir, 'settings.json'));
    assert.deepEqual(r.overrides, {});
    assert.ok(r.problem);
  });
});

describe('Settings', () => {
  test('a change is written, then takes effect, then announced with the keys that changed', async () => {
    const { s, changes, stored } = settings();
    assert.deepEqual(await s.set({ 'camera.quality': 70 }), ['camera.quality']);
    assert.equal(s.config.camera.quality, 70);
    assert.deepEqual(stored(), { version: 1, overrides: { 'camera.quality': 70 } });
    assert.deepEqual(
      changes.map((c) => c.keys),
      [['camera.quality']],
    );
    assert.equal(changes[0]!.config, s.config);
  });

  test('the config`s own value removes the override; an unchanged value writes and announces nothing', async () => {
    const { s, config, changes, stored, file } = settings({ MONCAM_SCHEDULE_EXPOSURE: 'night' });
    await s.set({ 'schedule.exposure': null, 'schedule.cron': '*/5 * * * *' });
    assert.equal(s.config.schedule.exposure, undefined, 'null: unset, camera.exposure applies');
    assert.equal(nightOf(s.config), 'off');
    assert.equal(intervalOf(s.config), '5 min');
    await s.set({ 'schedule.exposure': 'night', 'schedule.cron': config.schedule.cron });
    assert.deepEqual(stored(), { version: 1, overrides: {} });
    assert.deepEqual(s.config, config);
    fs.rmSync(file);
    assert.deepEqual(await s.set({ 'camera.quality': config.camera.quality }), []);
    assert.equal(fs.existsSync(file), false, 'nothing to write');
    assert.equal(changes.length, 2);
  });

  test('invalid values are refused with invalid_value and change nothing', async () => {
    const { s, config, file } = settings();
    const before = s.config;
    for (const bad of [
      { 'camera.quality': 101 },
      { 'schedule.cron': 'soon' },
      { 'schedule.exposure': 'moonlight' },
      { 'web.port': 1 },
    ] as unknown as Overrides[]) {
      await assert.rejects(s.set(bad), (e: SettingsError) => e instanceof SettingsError && e.code === 'invalid_value');
    }
    assert.equal(s.config, before);
    assert.deepEqual(s.config, config);
    assert.equal(fs.existsSync(file), false);
  });

  test('auto is refused while the config`s thresholds are crossed (conflicts_with_config)', async () => {
    const { s, config } = settings({ MONCAM_SCHEDULE_NIGHT_BELOW: '50', MONCAM_SCHEDULE_DAY_ABOVE: '40' });
    const before = s.config;
    await assert.rejects(s.set({ 'schedule.exposure': 'auto' }), (e: SettingsError) => e.code === 'conflicts_with_config');
    assert.equal(s.config, before);
    assert.equal(s.config.schedule.exposure, config.schedule.exposure);
  });

  test('a file that cannot be written: save_failed, nothing changed', async () => {
    const dir = tempDir();
    const config = testConfig({}, dir);
    const s = new Settings({ config, file: path.join(dir, 'missing', 'settings.json'), initial: {}, logger: quietLogger() });
    let announced = false;
    s.on('change', () => (announced = true));
    await assert.rejects(s.set({ 'camera.quality': 50 }), (e: SettingsError) => e.code === 'save_failed');
    assert.equal(s.config.camera.quality, config.camera.quality);
    assert.deepEqual(s.overrides, {});
    assert.equal(announced, false);
  });

  test('a flood of changes: at most 8 wait, the rest are refused as busy; the last accepted wins', async () => {
    const { s, stored } = settings();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.set({ 'camera.quality': 10 + i })));
    const busy = results.filter((r) => r.status === 'rejected' && (r.reason as SettingsError).code === 'busy').length;
    assert.equal(busy, 12);
    assert.equal(s.config.camera.quality, 17);
    assert.deepEqual(stored(), { version: 1, overrides: { 'camera.quality': 17 } });
  });

  test('initial overrides apply from the start', () => {
    const { s } = settings({}, { 'schedule.enabled': false, 'camera.quality': 55 });
    assert.equal(s.config.schedule.enabled, false);
    assert.equal(s.config.camera.quality, 55);
    assert.equal(intervalOf(s.config), 'off');
  });
});
