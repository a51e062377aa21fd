// Camera Module 3 end to end: the real daemon (`moncam run` as a child) with the fake rpicam-still playing an
// IMX708, commands over the embedded broker from a real mqtt.js client. Checks the still size taken from
// `--list-cameras` (no camera.width/height), the configured autofocus, per-still focus from commands, and that
// HDR is not a per-still option.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { contractTopics } from '../helpers/contract.ts';
import { ChildDaemon } from '../helpers/daemon.ts';
import { Recorder } from '../helpers/mqtt.ts';
import { tempDir } from '../helpers/setup.ts';

const T = contractTopics('childcam');
const argvLog = path.join(tempDir('moncam-focus-'), 'argv.jsonl');
const runs = () =>
  fs
    .readFileSync(argvLog, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { argv: string[] });
const after_ = (argv: string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

describe('Camera Module 3 over MQTT (real daemon, fake IMX708)', () => {
  let daemon: ChildDaemon;
  let sub: Recorder;
  let pub: mqtt.MqttClient;
  const event = async (id: string) => {
    const [m] = await sub.waitFor(T.event, 1, 30_000, (x) => (JSON.parse(x.payload.toString()) as { id?: string }).id === id);
    return JSON.parse(m!.payload.toString()) as Record<string, unknown>;
  };

  before(async () => {
    // undefined drops the helper's 640x480 (spawn leaves undefined variables out): the sensor decides.
    const env = {
      FAKE_CAMERA_SENSOR: 'imx708',
      FAKE_CAMERA_ARGV_LOG: argvLog,
      MONCAM_CAMERA_AUTOFOCUS_MODE: 'continuous',
      MONCAM_CAMERA_WIDTH: undefined,
      MONCAM_CAMERA_HEIGHT: undefined,
    };
    daemon = await ChildDaemon.start({ env: env as unknown as Record<string, string> });
    sub = await Recorder.connect(daemon.mqttUrl, [T.event, T.attributes]);
    pub = await mqtt.connectAsync(daemon.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 });
  });
  after(async () => {
    await pub?.endAsync(true);
    await sub?.close();
    await daemon?.stop();
  });

  test('no camera.width/height: the still is the sensor full size from --list-cameras, with the configured autofocus', async () => {
    await pub.publishAsync(T.all, JSON.stringify({ id: 'full' }), { qos: 1 });
    const e = await event('full');
    assert.equal(e.event_type, 'captured');
    // The event carries the preview's size; the image attributes the original's.
    const attrs = sub.json(T.attributes).at(-1)!;
    assert.deepEqual([attrs.full_width, attrs.full_height], [4608, 2592]);
    const all = runs();
    assert.deepEqual(all[0]!.argv, ['--list-cameras'], 'listed once at start');
    const argv = all.at(-1)!.argv;
    assert.deepEqual([after_(argv, '--width'), after_(argv, '--height'), after_(argv, '--autofocus-mode')], ['4608', '2592', 'continuous']);
  });

  test('lens_position in a command: manual focus at that position for that still only', async () => {
    await pub.publishAsync(T.all, JSON.stringify({ id: 'near', lens_position: 2 }), { qos: 1 });
    assert.equal((await event('near')).event_type, 'captured');
    const argv = runs().at(-1)!.argv;
    assert.deepEqual([after_(argv, '--autofocus-mode'), after_(argv, '--lens-position')], ['manual', '2']);
    await pub.publishAsync(T.all, JSON.stringify({ id: 'scan', autofocus: true }), { qos: 1 });
    assert.equal((await event('scan')).event_type, 'captured');
    const scan = runs().at(-1)!.argv;
    assert.ok(scan.includes('--autofocus-on-capture') && !scan.includes('--lens-position'), scan.join(' '));
    assert.equal(after_(scan, '--autofocus-mode'), 'continuous');
  });

  test('hdr is not a per-still option: unknown_option, no camera run', async () => {
    const before_ = runs().length;
    await pub.publishAsync(T.all, JSON.stringify({ id: 'hdr', hdr: 'sensor' }), { qos: 1 });
    const e = await event('hdr');
    assert.deepEqual([e.event_type, e.error], ['failed', 'unknown_option']);
    assert.equal(runs().length, before_);
  });
});
