// Settings from Home Assistant over the embedded broker (aedes) with real mqtt.js clients: each control
// round-trips (set -> state -> effect -> restart -> same state), bad payloads change nothing and get a
// `failed` event, retained commands are never honoured, and HA's birth republishes the states.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isCommandTopic } from '../../src/mqtt/topics.ts';
import { controlTopics, expectControlsRoundTrip, expectState, recordingCamera, restartWithSameSettings, retainedStates } from '../helpers/controls.ts';
import { Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, memoryLogger, tempDir, until } from '../helpers/setup.ts';

const CAM = 'testcam';
const T = controlTopics(CAM);
const ENV = { MONCAM_SCHEDULE_ENABLED: 'true' };

test('the embedded broker guards every setting command topic (of any camera), not the state topics', () => {
  for (const name of ['schedule', 'interval', 'night_exposure', 'quality']) {
    assert.equal(isCommandTopic('moncam', `moncam/testcam/${name}/set`), true, name);
    assert.equal(isCommandTopic('moncam', `moncam/other_cam/${name}/set`), true, name);
    assert.equal(isCommandTopic('home/moncam', `home/moncam/testcam/${name}/set`), true, name);
    assert.equal(isCommandTopic('moncam', `moncam/testcam/${name}`), false, `${name}: state, not a command`);
    assert.equal(isCommandTopic('moncam', `moncam/${name}/set`), false, `${name}: no all-cameras setting`);
    assert.equal(isCommandTopic('moncam', `moncam/a/b/${name}/set`), false);
  }
});

describe('controls over the embedded broker', () => {
  let daemon: Daemon;
  let sub: Recorder;
  let camera: ReturnType<typeof recordingCamera>;

  before(async () => {
    camera = recordingCamera(await makeJpeg(640, 480));
    daemon = await startDaemon(camera, ENV);
    sub = await Recorder.connect(daemon.url, ['moncam/#']);
  });
  after(async () => {
    await sub?.close();
    await daemon?.stop();
  });

  test('each control: set -> retained state -> effect -> restart -> same state', async () => {
    await expectControlsRoundTrip(sub, daemon, CAM, camera);
    await sub.close();
    daemon = await restartWithSameSettings(daemon, camera, ENV, CAM);
    sub = await Recorder.connect(daemon.url, ['moncam/#']);
  });

  test('setting a value back to the config file`s removes its override', async () => {
    const file = path.join(daemon.app.config.data_dir, 'settings.json');
    await sub.publish(T.quality.set, '93');
    await expectState(sub, T.quality.state, '93');
    await sub.publish(T.night.set, 'off');
    await expectState(sub, T.night.state, 'off');
    await sub.publish(T.interval.set, 'hourly');
    await expectState(sub, T.interval.state, 'hourly');
    await until(() => daemon.app.scheduler.cron === '0 * * * *', 2000, 'hourly again');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).overrides, {});
    assert.deepEqual(daemon.app.settings.config, daemon.app.config, 'the effective config is the file`s again');
  });

  const BAD: Array<[keyof typeof T, string | Buffer, string]> = [
    ['schedule', 'MAYBE', 'invalid_value'],
    ['schedule', '', 'invalid_value'],
    ['schedule', '{"state":"ON"}', 'invalid_value'],
    ['interval', 'custom', 'not_selectable'],
    ['interval', '10 min', 'invalid_value'],
    ['interval', 'HOURLY', 'invalid_value'],
    ['night', 'custom', 'not_selectable'],
    ['night', 'night', 'invalid_value'],
    ['quality', '0', 'invalid_value'],
    ['quality', '101', 'invalid_value'],
    ['quality', '80.5', 'invalid_value'],
    ['quality', '-5', 'invalid_value'],
    ['quality', '1e2', 'invalid_value'],
    ['quality', 'NaN', 'invalid_value'],
    ['quality', '9'.repeat(65), 'too_large'],
    ['quality', Buffer.from([0x38, 0xff, 0x30]), 'bad_encoding'],
  ];
  for (const [control, payload, error] of BAD) {
    test(`refused: ${control} ${JSON.stringify(payload.toString()).slice(0, 30)} -> failed event "${error}", nothing changed`, async () => {
      const file = path.join(daemon.app.config.data_dir, 'settings.json');
      const before = fs.existsSync(file) ? fs.readFileSync(file) : undefined;
      const config = daemon.app.settings.config;
      const stateTopic = (T[control] as { state: string; set: string }).state;
      const state = sub.last(stateTopic)?.payload.toString();
      sub.clear();
      await sub.publish((T[control] as { set: string }).set, payload);
      // The schedule is live (hourly by default): a scheduled still's `captured` may come first.
      const [event] = await sub.waitFor(T.event, 1, 10_000, (m) => JSON.parse(m.payload.toString()).what === 'setting');
      const ev = JSON.parse(event!.payload.toString());
      assert.equal(ev.event_type, 'failed');
      assert.equal(ev.what, 'setting');
      assert.equal(ev.setting, control === 'night' ? 'night_exposure' : control);
      assert.equal(ev.error, error);
      assert.equal(ev.trigger, 'mqtt');
      assert.ok(typeof ev.message === 'string' && ev.message.length > 0 && ev.message.length < 200, ev.message);
      // The real state is published again (HA shows what it sent until then), unchanged.
      const [again] = await sub.waitFor(stateTopic);
      assert.equal(again!.payload.toString(), state);
      assert.equal(daemon.app.settings.config, config, 'the effective config is the same object');
      assert.deepEqual(fs.existsSync(file) ? fs.readFileSync(file) : undefined, before, 'settings.json untouched');
    });
  }

  test('a retained setting command is stored by the broker but never honoured, now or on reconnect', async () => {
    const log = memoryLogger();
    const own = await startDaemon(recordingCamera(await makeJpeg(64, 48)), ENV, { logger: log.logger });
    try {
      const s = await Recorder.connect(own.url, ['moncam/#']);
      await s.waitFor(T.quality.state);
      await s.publish(T.quality.set, '42', { retain: true });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(own.app.settings.config.camera.quality, 93, 'not delivered live');
      // Reconnect: the daemon sees the retained command on subscribe and ignores it.
      own.app.mqtt!.client!.stream.destroy();
      await until(() => log.lines().some((l) => String(l.msg).includes('ignored a retained command')), 5000, 'the retained command is ignored');
      assert.equal(own.app.settings.config.camera.quality, 93);
      await s.close();
    } finally {
      await own.stop();
    }
  });

  test('HA birth (`homeassistant/status` online) republishes the states', async () => {
    const ha = await Recorder.connect(daemon.url, [T.quality.state, T.interval.state]);
    await ha.waitFor(T.quality.state);
    ha.clear();
    await ha.publish('homeassistant/status', 'online');
    await ha.waitFor(T.quality.state, 1, 5000);
    await ha.waitFor(T.interval.state, 1, 5000);
    await ha.close();
  });
});

test('a corrupt settings.json is reported and ignored: the config applies, and the next change replaces it', async () => {
  const dataDir = tempDir();
  const file = path.join(dataDir, 'settings.json');
  fs.writeFileSync(file, '{"version":1,"overrides":{"camera.quality":');
  const log = memoryLogger();
  const daemon = await startDaemon(recordingCamera(await makeJpeg(64, 48)), { ...ENV, MONCAM_DATA_DIR: dataDir }, { logger: log.logger });
  try {
    assert.ok(log.lines().some((l) => l.code === 'settings_bad_json' && l.level === 40));
    assert.equal(daemon.app.settings.config.camera.quality, 93);
    assert.deepEqual(await retainedStates(daemon.url, CAM), { schedule: 'ON', interval: 'hourly', night_exposure: 'off', quality: '93' });
    const sub = await Recorder.connect(daemon.url, ['moncam/#']);
    await sub.publish(T.quality.set, '60');
    await expectState(sub, T.quality.state, '60');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { version: 1, overrides: { 'camera.quality': 60 } });
    await sub.close();
  } finally {
    await daemon.stop();
  }
});
