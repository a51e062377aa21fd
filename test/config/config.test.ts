import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { configFields } from '../../src/config/fields.ts';
import { ConfigError, loadConfig, redactConfig } from '../../src/config/load.ts';
import { sanitizeId } from '../../src/config/schema.ts';
import { tempDir } from '../helpers/setup.ts';

const tmpdir = () => tempDir('moncam-config-');

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  test('defaults: web 5000, broker 1883, hourly, ./data, auto camera', () => {
    const cwd = tmpdir();
    const { config, file } = loadConfig({ env: {}, cwd });
    assert.equal(file, undefined);
    assert.equal(config.web.port, 5000);
    assert.equal(config.broker.port, 1883);
    assert.equal(config.schedule.cron, '0 * * * *');
    assert.equal(config.camera.backend, 'auto');
    assert.equal(config.data_dir, path.join(cwd, 'data'));
    assert.equal(config.storage.dir, path.join(cwd, 'data', 'captures'));
    assert.equal(config.web.password_file, path.join(cwd, 'data', 'private', 'pass_user'));
    assert.equal(config.camera.id, sanitizeId(os.hostname()));
    assert.match(config.camera.id, /^[a-z0-9_]+$/);
    assert.equal(config.mqtt.base_topic, 'moncam');
    assert.equal(config.mqtt.preview_size, 1280);
  });

  test('camera id is the sanitized host name', () => {
    assert.equal(sanitizeId('Garden-Pi.local'), 'garden_pi_local');
    assert.equal(sanitizeId('---'), 'moncam');
  });

  test('YAML file, then env overrides win', () => {
    const cwd = tmpdir();
    fs.writeFileSync(
      path.join(cwd, 'moncam.yaml'),
      'data_dir: /srv/cam\nweb:\n  port: 8080\ncamera:\n  id: garden\n  rotation: 90\nstorage:\n  max_bytes: 2GiB\n',
    );
    const { config, file } = loadConfig({ env: { MONCAM_WEB_PORT: '8081', MONCAM_CAMERA_HFLIP: 'true', MONCAM_STORAGE_RETENTION_DAYS: '7' }, cwd });
    assert.equal(file, path.join(cwd, 'moncam.yaml'));
    assert.equal(config.web.port, 8081);
    assert.equal(config.camera.id, 'garden');
    assert.equal(config.camera.name, 'moncam garden');
    assert.equal(config.camera.rotation, 90);
    assert.equal(config.camera.hflip, true);
    assert.equal(config.storage.retention_days, 7);
    assert.equal(config.storage.max_bytes, 2 * 1024 ** 3);
    assert.equal(config.storage.dir, '/srv/cam/captures');
  });

  test('--config and MONCAM_CONFIG name the file; a missing named file is an error', () => {
    const cwd = tmpdir();
    fs.writeFileSync(path.join(cwd, 'a.yaml'), 'web: { port: 1234 }\n');
    fs.writeFileSync(path.join(cwd, 'b.yaml'), 'web: { port: 4321 }\n');
    assert.equal(loadConfig({ file: 'a.yaml', env: { MONCAM_CONFIG: 'b.yaml' }, cwd }).config.web.port, 1234);
    assert.equal(loadConfig({ env: { MONCAM_CONFIG: 'b.yaml' }, cwd }).config.web.port, 4321);
    assert.match(problems(() => loadConfig({ file: 'nope.yaml', env: {}, cwd }))[0]!, /nope\.yaml: cannot read config file \(ENOENT\)/);
  });

  test('every env name maps to exactly one setting', () => {
    const names = configFields().map((f) => f.env);
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.includes('MONCAM_WEB_PORT'));
    assert.ok(names.includes('MONCAM_MQTT_URL'));
    assert.ok(names.includes('MONCAM_STORAGE_DIR'));
    assert.ok(names.includes('MONCAM_DATA_DIR'));
    assert.equal(loadConfig({ env: { MONCAM_DATA_DIR: '/x' }, cwd: tmpdir() }).config.data_dir, '/x');
    assert.equal(loadConfig({ env: { MONCAM_MQTT_URL: 'mqtt://h:1883' }, cwd: tmpdir() }).config.mqtt.url, 'mqtt://h:1883');
    assert.equal(loadConfig({ env: { MONCAM_STORAGE_DIR: '/y' }, cwd: tmpdir() }).config.storage.dir, '/y');
  });

  test('bad values: one readable line each, with key path and what was given', () => {
    const cwd = tmpdir();
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), 'camera:\n  rotation: 45\n  quality: 0\nschedule:\n  cron: "every hour"\n  timezone: Mars/Olympus\n');
    const lines = problems(() => loadConfig({ env: { MONCAM_WEB_PORT: '99999', MONCAM_CAMERA_HFLIP: 'maybe' }, cwd }));
    assert.ok(lines.includes('web.port: expected 1..65535, got 99999 (from MONCAM_WEB_PORT)'), lines.join('\n'));
    assert.ok(
      lines.some((l) => l.startsWith('camera.rotation: expected 0, 90, 180 or 270, got 45')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('camera.quality: expected 1..100, got 0')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('camera.hflip:') && l.includes('"maybe"')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('schedule.cron: expected a cron pattern')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('schedule.timezone: expected an IANA time zone')),
      lines.join('\n'),
    );
    assert.equal(lines.length, 6);
  });

  test('unknown keys and unknown MONCAM_ variables are reported, not ignored', () => {
    const cwd = tmpdir();
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), 'web:\n  prot: 80\ncamrea: {}\n');
    const lines = problems(() => loadConfig({ env: { MONCAM_WEB_PROT: '1' }, cwd }));
    assert.ok(lines.includes('web.prot: unknown setting'), lines.join('\n'));
    assert.ok(lines.includes('camrea: unknown setting'), lines.join('\n'));
    assert.ok(
      lines.some((l) => l.startsWith('MONCAM_WEB_PROT: unknown environment variable')),
      lines.join('\n'),
    );
  });

  test('broken YAML and a non-mapping file are clear errors', () => {
    const cwd = tmpdir();
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), 'web:\n  port: [1,\n');
    assert.match(problems(() => loadConfig({ env: {}, cwd }))[0]!, /moncam\.yaml:\d+:\d+: /);
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), '- a\n- b\n');
    assert.match(problems(() => loadConfig({ env: {}, cwd }))[0]!, /expected a mapping/);
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), '');
    assert.equal(loadConfig({ env: {}, cwd }).config.web.port, 5000);
  });

  test('byte sizes accept units; bad sizes are explained', () => {
    const cwd = tmpdir();
    assert.equal(loadConfig({ env: { MONCAM_STORAGE_MAX_BYTES: '500MB' }, cwd }).config.storage.max_bytes, 500e6);
    assert.equal(loadConfig({ env: { MONCAM_STORAGE_MAX_BYTES: '1024' }, cwd }).config.storage.max_bytes, 1024);
    assert.match(problems(() => loadConfig({ env: { MONCAM_STORAGE_MAX_BYTES: 'lots' }, cwd }))[0]!, /^storage\.max_bytes: expected a byte size/);
  });

  test('secrets are redacted; other values shown', () => {
    const { config } = loadConfig({ env: { MONCAM_MQTT_PASSWORD: 's3cret', MONCAM_MQTT_USERNAME: 'ha' }, cwd: tmpdir() });
    const red = redactConfig(config);
    assert.equal(red.mqtt.password, '***');
    assert.equal(red.mqtt.username, 'ha');
    assert.equal(config.mqtt.password, 's3cret', 'the original is untouched');
    assert.ok(!JSON.stringify(red).includes('s3cret'));
  });

  test('extra_args from env: JSON array or words', () => {
    const cwd = tmpdir();
    assert.deepEqual(loadConfig({ env: { MONCAM_CAMERA_EXTRA_ARGS: '--denoise cdn_off' }, cwd }).config.camera.extra_args, ['--denoise', 'cdn_off']);
    assert.deepEqual(loadConfig({ env: { MONCAM_CAMERA_EXTRA_ARGS: '["--awb", "daylight"]' }, cwd }).config.camera.extra_args, ['--awb', 'daylight']);
  });
});

describe('config reference in docs/configuration.md', () => {
  test('docs/configuration.md carries the reference generated from the schema (run `npm run docs` to update)', async () => {
    const { withReference } = await import('../../src/config/reference.ts');
    const doc = fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    assert.ok(withReference(doc) === doc, 'docs/configuration.md config reference is out of date: run `npm run docs`');
  });
});

describe('config cross-checks', () => {
  test('the base topic must not overlap the discovery prefix', () => {
    const lines = problems(() => loadConfig({ env: { MONCAM_MQTT_BASE_TOPIC: 'homeassistant' }, cwd: tmpdir() }));
    assert.match(lines[0]!, /^mqtt\.base_topic: must not overlap mqtt\.discovery_prefix \("homeassistant"\), got "homeassistant"/);
  });
});
