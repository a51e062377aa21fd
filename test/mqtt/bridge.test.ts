// The whole MQTT topic contract against the real embedded broker (aedes) and real mqtt.js clients.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { setPassword } from '../../src/auth/password.ts';
import { LoginLimiter } from '../../src/auth/limiter.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { authenticateClient, isLoopback } from '../../src/mqtt/broker-auth.ts';
import { freePort, makeJpeg, memoryLogger, tempDir, until } from '../helpers/setup.ts';
import { contractTopics, expectDiscoveryAndOnline, expectStillFromEmptyCommand } from '../helpers/contract.ts';
import { instantCamera, Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';

const CAM = 'testcam';
const T = contractTopics(CAM);

describe('MQTT contract (embedded aedes broker)', () => {
  let daemon: Daemon;
  let sub: Recorder;
  let camera: ReturnType<typeof instantCamera>;
  const log = memoryLogger();

  before(async () => {
    camera = instantCamera(await makeJpeg(1600, 1200));
    daemon = await startDaemon(camera, {}, { logger: log.logger });
    sub = await Recorder.connect(daemon.url, ['moncam/#', 'homeassistant/#']);
  });
  after(async () => {
    await sub?.close();
    await daemon?.stop();
  });

  test('on connect: retained discovery and `online`', () => expectDiscoveryAndOnline(sub, daemon.url, CAM));

  test('an empty command takes a still: preview JPEG, attributes, last_capture (retained) and a captured event', () =>
    expectStillFromEmptyCommand(sub, daemon.url, CAM, daemon, camera));

  test('PRESS / ON / CAPTURE in any case, the per-camera topic, and JSON naming this camera with an id', async () => {
    for (const [topic, payload] of [
      [T.all, 'press'],
      [T.mine, 'ON'],
      [T.all, ' Capture '],
      [T.all, JSON.stringify({ camera: CAM, id: 'door-1', source: 'automation.front_door' })],
    ] as const) {
      sub.clear();
      await sub.publish(topic, payload);
      const [event] = await sub.waitFor(T.event);
      assert.equal(JSON.parse(event!.payload.toString()).event_type, 'captured', `${topic} ${payload}`);
    }
    const ev = sub.json(T.event)[0]!;
    assert.equal(ev.id, 'door-1');
    assert.equal(ev.source, 'automation.front_door');
  });

  test('a command naming another camera is ignored here', async () => {
    sub.clear();
    const before = camera.runs;
    await sub.publish(T.all, JSON.stringify({ camera: 'other_cam', id: 'x' }));
    await sub.publish(T.all, JSON.stringify({ camera: 'other_cam', gain: 999 })); // invalid, but not ours to answer
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(camera.runs, before);
    assert.equal(sub.on(T.event).length, 0);
  });

  const BAD: Array<[string, string | Buffer, string]> = [
    ['bad JSON', '{"camera":', 'bad_json'],
    ['an array', '[1,2]', 'not_object'],
    ['a JSON string', '"capture"', 'unknown_command'],
    ['an unknown word', 'SNAP', 'unknown_command'],
    ['oversize', 'x'.repeat(5000), 'too_large'],
    ['oversize JSON', JSON.stringify({ id: 'y'.repeat(5000) }), 'too_large'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_encoding'],
    ['an unknown option', '{"flash":true}', 'unknown_option'],
    ['gain out of range', '{"gain":65}', 'invalid_option'],
    ['a bad exposure', '{"exposure":"moonlight"}', 'invalid_option'],
    ['a wrong type', '{"shutter_us":"fast"}', 'invalid_option'],
    ['a bad camera id', '{"camera":"Bad Cam!"}', 'invalid_option'],
  ];
  for (const [name, payload, error] of BAD) {
    test(`refused: ${name} -> failed event "${error}", no capture`, async () => {
      sub.clear();
      const before = camera.runs;
      await sub.publish(T.all, payload);
      const [event] = await sub.waitFor(T.event);
      const ev = JSON.parse(event!.payload.toString());
      assert.equal(ev.event_type, 'failed');
      assert.equal(ev.error, error);
      assert.equal(typeof ev.message, 'string');
      assert.equal(camera.runs, before);
    });
  }

  test('a refused JSON command echoes its id', async () => {
    sub.clear();
    await sub.publish(T.mine, JSON.stringify({ id: 'abc', gain: 0 }));
    const [event] = await sub.waitFor(T.event);
    assert.deepEqual(JSON.parse(event!.payload.toString()).id, 'abc');
  });

  test('HA birth (`online` on homeassistant/status) republishes discovery and state', async () => {
    sub.clear();
    await sub.publish('homeassistant/status', 'online');
    await sub.waitFor(T.discovery);
    await sub.waitFor(T.availability);
    await sub.waitFor(T.image);
    await sub.waitFor(T.lastCapture);
  });

  test('nothing but config topics under the discovery prefix; logs carry no image bytes', () => {
    const underPrefix = sub.messages.filter((m) => m.topic.startsWith('homeassistant/') && m.topic !== 'homeassistant/status');
    assert.ok(underPrefix.length > 0);
    for (const m of underPrefix) assert.match(m.topic, /\/config$/);
    const text = JSON.stringify(log.lines());
    assert.ok(!text.includes('\\u00ff\\u00d8') && !text.includes('/9j/'), 'no JPEG bytes or base64 in logs');
    assert.ok(
      log.lines().every((l) => JSON.stringify(l).length < 2000),
      'log lines stay short',
    );
  });

  test('a dropped connection: the broker publishes the will `offline`, the daemon reconnects and is `online` again', async () => {
    sub.clear();
    const client = (daemon.app.mqtt as unknown as { client: mqtt.MqttClient }).client;
    client.stream.destroy();
    await sub.waitFor(T.availability, 1, 5000, (m) => m.payload.toString() === 'offline');
    await sub.waitFor(T.availability, 1, 10_000, (m) => m.payload.toString() === 'online');
    await sub.waitFor(T.discovery);
  });
});

describe('MQTT lifecycle', () => {
  test('clean stop publishes `offline` (retained) first; a restart republishes the last still', async () => {
    const dataDir = tempDir();
    const camera = instantCamera(await makeJpeg(800, 600));
    const first = await startDaemon(camera, { MONCAM_DATA_DIR: dataDir });
    const sub = await Recorder.connect(first.url, ['moncam/#']);
    await sub.publish(T.all, '');
    const [image] = await sub.waitFor(T.image);
    await sub.close();
    await first.stop();

    const port = await freePort();
    const second = await startDaemon(camera, { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_PORT: String(port) });
    try {
      // A brand-new broker (nothing retained): the daemon republishes the stored still on connect.
      const fresh = await Recorder.connect(second.url, ['moncam/#']);
      await fresh.waitFor(T.image);
      assert.deepEqual(fresh.last(T.image)!.payload, image!.payload);
      await fresh.waitFor(T.lastCapture);
      await second.app.mqtt!.stop();
      await fresh.waitFor(T.availability, 1, 5000, (m) => m.payload.toString() === 'offline');
      await fresh.close();
    } finally {
      await second.stop();
    }
    // Offline is retained: a new subscriber sees it... on a broker that still runs. Checked on a shared broker:
    const shared = await startDaemon(camera);
    const watcher = await Recorder.connect(shared.url, ['moncam/+/availability']);
    const other = await startDaemon(camera, { MONCAM_MQTT_URL: shared.url, MONCAM_CAMERA_ID: 'second', MONCAM_BROKER_ENABLED: 'false' });
    await watcher.waitFor('moncam/second/availability', 1, 5000, (m) => m.payload.toString() === 'online');
    await other.stop();
    await watcher.close();
    const late = await Recorder.connect(shared.url, ['moncam/second/availability']);
    const [retained] = await late.waitFor('moncam/second/availability');
    assert.equal(retained!.payload.toString(), 'offline');
    assert.equal(retained!.retain, true);
    await late.close();
    await shared.stop();
  });

  test('legacy discovery: one retained config per entity, no device message', async () => {
    const daemon = await startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_MQTT_LEGACY_DISCOVERY: 'true' });
    try {
      const configs = [
        ['image', 'image'],
        ['camera', 'camera'],
        ['button', 'capture'],
        ['event', 'capture_event'],
        ['sensor', 'last_capture'],
      ].map(([platform, key]) => `homeassistant/${platform}/moncam_${CAM}/${key}/config`);
      // Published (live or retained), then a late subscriber gets each one retained.
      const first = await Recorder.connect(daemon.url, configs);
      for (const topic of configs) await first.waitFor(topic);
      await first.close();
      const sub = await Recorder.connect(daemon.url, ['homeassistant/#']);
      for (const topic of configs) {
        const m = await sub.retained(topic);
        assert.equal(JSON.parse(m.payload.toString()).availability_topic, T.availability);
      }
      assert.equal(sub.on(T.discovery).length, 0);
      await sub.close();
    } finally {
      await daemon.stop();
    }
  });

  test('a retained command found on subscribe is ignored', async () => {
    const camera = instantCamera(await makeJpeg(320, 240));
    const host = await startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_CAMERA_ID: 'host' });
    const pub = await Recorder.connect(host.url, ['moncam/late/event']);
    await pub.publish('moncam/capture/set', JSON.stringify({ camera: 'late' }), { retain: true });
    const late = await startDaemon(camera, { MONCAM_MQTT_URL: host.url, MONCAM_CAMERA_ID: 'late', MONCAM_BROKER_ENABLED: 'false' });
    try {
      await until(() => late.app.mqtt!.connected, 5000, 'connected');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(camera.runs, 0, 'the retained command did not take a still');
      assert.equal(pub.on('moncam/late/event').length, 0);
    } finally {
      await pub.publish('moncam/capture/set', '', { retain: true }); // clear it
      await pub.close();
      await late.stop();
      await host.stop();
    }
  });

  test('broker unreachable: the daemon starts, captures and stores, and does not crash', async () => {
    const port = await freePort(); // nothing listens there
    const camera = instantCamera(await makeJpeg(320, 240));
    // A short backoff so several refused connection attempts happen at once; counted, not slept for.
    const daemon = await startDaemon(
      camera,
      { MONCAM_MQTT_URL: `mqtt://127.0.0.1:${port}`, MONCAM_BROKER_ENABLED: 'false' },
      { mqttTiming: { birthDelayMs: [50, 150], reconnectMs: [20, 100] } },
    );
    try {
      const record = await daemon.app.captures.capture('web');
      assert.ok(record.capture.id);
      assert.equal(daemon.app.mqtt!.connected, false);
      const attempts = () => (daemon.app.mqtt as unknown as { connection: { attempt: number } }).connection.attempt;
      await until(() => attempts() >= 4, 5000, 'four refused connection attempts');
      assert.equal(daemon.app.mqtt!.connected, false);
      assert.equal(daemon.app.store.latest()?.id, record.capture.id);
    } finally {
      await daemon.stop();
    }
  });

  test('changing camera.id removes the old device from HA (empty retained discovery)', async () => {
    const dataDir = tempDir();
    const host = await startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_CAMERA_ID: 'host' });
    const a = await startDaemon(instantCamera(await makeJpeg(320, 240)), {
      MONCAM_DATA_DIR: dataDir,
      MONCAM_MQTT_URL: host.url,
      MONCAM_CAMERA_ID: 'old_name',
      MONCAM_BROKER_ENABLED: 'false',
    });
    const sub = await Recorder.connect(host.url, ['homeassistant/device/#']);
    await sub.waitFor('homeassistant/device/moncam_old_name/config');
    await a.stop();
    const b = await startDaemon(instantCamera(await makeJpeg(320, 240)), {
      MONCAM_DATA_DIR: dataDir,
      MONCAM_MQTT_URL: host.url,
      MONCAM_CAMERA_ID: 'new_name',
      MONCAM_BROKER_ENABLED: 'false',
    });
    try {
      await sub.waitFor('homeassistant/device/moncam_new_name/config');
      await sub.waitFor('homeassistant/device/moncam_old_name/config', 1, 5000, (m) => m.payload.length === 0);
      const late = await Recorder.connect(host.url, ['homeassistant/device/#']);
      await late.waitFor('homeassistant/device/moncam_new_name/config');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(late.on('homeassistant/device/moncam_old_name/config').length, 0, 'the old device is gone from the broker');
      await late.close();
      // Its retained state too: availability and the settings controls' states.
      const state = await Recorder.connect(host.url, ['moncam/old_name/#']);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        state.messages.map((m) => m.topic),
        [],
        'nothing retained under the old camera id',
      );
      await state.close();
    } finally {
      await sub.close();
      await b.stop();
      await host.stop();
    }
  });
});

describe('embedded broker authentication', () => {
  test('loopback detection', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
    for (const a of [undefined, '192.168.1.20', '10.0.0.1', '::ffff:192.168.1.2', 'fe80::1']) assert.ok(!isLoopback(a), String(a));
  });

  test('anonymous only from loopback; remote clients need the user name and the moncam password', async () => {
    const dir = tempDir();
    const passwordFile = `${dir}/private/pass_user`;
    const deps = {
      username: 'moncam',
      passwordFiles: [passwordFile],
      limiter: new LoginLimiter({ attempts: 100, windowMs: 60_000 }),
      verifier: new PasswordVerifier(),
    };
    assert.equal(await authenticateClient(deps, '127.0.0.1', undefined, undefined), null);
    assert.equal((await authenticateClient(deps, '192.168.1.20', undefined, undefined))?.returnCode, 5);
    assert.equal((await authenticateClient(deps, '192.168.1.20', 'moncam', Buffer.from('whatever1')))?.returnCode, 4, 'no password set yet');
    await setPassword(passwordFile, 'garden-secret');
    assert.equal((await authenticateClient(deps, '192.168.1.20', 'moncam', Buffer.from('wrong-pass')))?.returnCode, 4);
    assert.equal((await authenticateClient(deps, '192.168.1.20', 'admin', Buffer.from('garden-secret')))?.returnCode, 4);
    assert.equal(await authenticateClient(deps, '192.168.1.20', 'moncam', Buffer.from('garden-secret')), null);
    await setPassword(passwordFile, 'changed-secret'); // `moncam passwd` takes effect without restart
    assert.equal((await authenticateClient(deps, '192.168.1.20', 'moncam', Buffer.from('garden-secret')))?.returnCode, 4);
  });

  test('a real client with wrong credentials is refused; right ones connect', async () => {
    const dataDir = tempDir();
    await setPassword(`${dataDir}/private/pass_user`, 'garden-secret');
    const daemon = await startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_DATA_DIR: dataDir });
    try {
      await assert.rejects(
        mqtt.connectAsync(daemon.url, { username: 'moncam', password: 'nope-nope', reconnectPeriod: 0, connectTimeout: 3000 }),
        /Bad username or password|Not authorized/i,
      );
      const ok = await mqtt.connectAsync(daemon.url, { username: 'moncam', password: 'garden-secret', reconnectPeriod: 0 });
      await ok.endAsync();
    } finally {
      await daemon.stop();
    }
  });
});
