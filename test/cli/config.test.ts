// `moncam config [--json]`: every effective value with its source (default, config file, env, HA override).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { configFields } from '../../src/config/fields.ts';
import { moncam } from '../helpers/cli.ts';
import { tempDir } from '../helpers/setup.ts';

function setup(overrides?: string): string {
  const cwd = tempDir();
  fs.writeFileSync(path.join(cwd, 'moncam.yaml'), 'camera:\n  quality: 80\n  extra_args: [--foo]\nmqtt:\n  url: mqtt://broker:1883\n  password: hunter2\n');
  if (overrides !== undefined) {
    fs.mkdirSync(path.join(cwd, 'data'));
    fs.writeFileSync(path.join(cwd, 'data', 'settings.json'), overrides);
  }
  return cwd;
}

const HA = JSON.stringify({ version: 1, overrides: { 'camera.quality': 70, 'schedule.enabled': false } });

describe('moncam config', () => {
  test('--json: the effective values (HA overrides applied, secrets hidden) and a source for every key', async () => {
    const r = await moncam(['config', '--json'], { cwd: setup(HA), env: { MONCAM_WEB_PORT: '8080' } });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { config: Record<string, any>; sources: Record<string, string>; file: string; overrides_file: string };
    assert.equal(out.config.camera.quality, 70);
    assert.equal(out.config.schedule.enabled, false);
    assert.equal(out.config.web.port, 8080);
    assert.equal(out.config.mqtt.password, '***');
    assert.ok(!r.stdout.includes('hunter2'));
    assert.equal(out.sources['camera.quality'], 'ha');
    assert.equal(out.sources['schedule.enabled'], 'ha');
    assert.equal(out.sources['camera.extra_args'], 'file');
    assert.equal(out.sources['mqtt.url'], 'file');
    assert.equal(out.sources['web.port'], 'env');
    assert.equal(out.sources['schedule.cron'], 'default');
    assert.deepEqual(
      Object.keys(out.sources).sort(),
      configFields()
        .map((f) => f.key)
        .sort(),
      'every setting has a source',
    );
    assert.match(out.file, /moncam\.yaml$/);
    assert.match(out.overrides_file, /data\/settings\.json$/);
  });

  test('text: YAML with the source as a comment on every line', async () => {
    const r = await moncam(['config'], { cwd: setup(HA), env: { MONCAM_WEB_PORT: '8080' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}quality: 70 # HA override$/m);
    assert.match(r.stdout, /^ {2}enabled: false # HA override$/m);
    assert.match(r.stdout, /^ {2}port: 8080 # env MONCAM_WEB_PORT$/m);
    assert.match(r.stdout, /^ {2}url: mqtt:\/\/broker:1883 # config file$/m);
    assert.match(r.stdout, /^ {2}extra_args: # config file$/m);
    assert.match(r.stdout, /^ {2}cron: 0 \* \* \* \* # default$/m);
    assert.match(r.stdout, /password: "\*\*\*" # config file/);
    const parsed = YAML.parse(r.stdout) as Record<string, any>;
    assert.equal(parsed.camera.quality, 70, 'still plain YAML');
  });

  test('a corrupt settings.json: reported on stderr with its code, the config file`s values shown', async () => {
    const r = await moncam(['config', '--json'], { cwd: setup('{"version":1,') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\(settings_bad_json\)/);
    const out = JSON.parse(r.stdout) as { config: Record<string, any>; sources: Record<string, string> };
    assert.equal(out.config.camera.quality, 80);
    assert.equal(out.sources['camera.quality'], 'file');
  });

  test('--json goes with config only', async () => {
    const r = await moncam(['passwd', '--json'], { cwd: tempDir() });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--json goes with "moncam config"/);
  });
});
