// The MQTT contract against a REAL Mosquitto (not the embedded aedes): retained state, commands,
// the will, and recovery after the broker restarts and has lost every retained message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { contractTopics, expectDiscoveryAndOnline, expectRetainedState, expectStillFromEmptyCommand, isText } from '../helpers/contract.ts';
import { instantCamera, Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { expectControlsRoundTrip, recordingCamera, restartWithSameSettings } from '../helpers/controls.ts';
import { MOSQUITTO_INSTALL, startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { makeJpeg, quietLogger, tempDir, until } from '../helpers/setup.ts';
import { LoginLimiter } from '../../src/auth/limiter.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { EmbeddedBroker } from '../../src/mqtt/broker.ts';

function daemonEnv(broker: Mosquitto, cam: string): Record<string, string> {
  return { MONCAM_MQTT_URL: broker.url, MONCAM_BROKER_ENABLED: 'false', MONCAM_CAMERA_ID: cam, MONCAM_DATA_DIR: tempDir() };
}

/** Stops the daemon's MQTT client under the test's feet, as a crash or a cut cable would. */
function dropConnection(daemon: Daemon): void {
  const client = (daemon.app.mqtt as unknown as { client: MqttClient }).client;
  client.stream.destroy();
}

let broker: Mosquitto;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
});

test('an MQTT 3.1.1-only broker: the daemon falls back from MQTT 5 and works', async () => {
  // aedes speaks 3.1.1 only: as an *external* broker it stands in for an old Mosquitto.
  const old = new EmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    username: 'moncam',
    passwordFiles: ['/nonexistent'],
    limiter: new LoginLimiter({ attempts: 10, windowMs: 60_000 }),
    verifier: new PasswordVerifier(),
    maxPacketSize: 2 * 1024 * 1024,
    maxConnections: 64,
    isCommandTopic: () => false,
    logger: quietLogger(),
  });
  await old.start();
  const camera = instantCamera(await makeJpeg(1600, 1200));
  const daemon = await startDaemon(camera, {
    MONCAM_MQTT_URL: `mqtt://127.0.0.1:${old.port}`,
    MONCAM_BROKER_ENABLED: 'false',
    MONCAM_CAMERA_ID: 'oldbroker',
    MONCAM_DATA_DIR: tempDir(),
  });
  try {
    await until(() => daemon.app.mqtt!.connected, 10_000, 'a 3.1.1 connection');
    assert.equal((daemon.app.mqtt as unknown as { client: MqttClient }).client.options.protocolVersion, 4);
    const sub = await Recorder.connect(`mqtt://127.0.0.1:${old.port}`, ['moncam/#']);
    await expectStillFromEmptyCommand(sub, `mqtt://127.0.0.1:${old.port}`, 'oldbroker', daemon, camera).finally(() => sub.close());
  } finally {
    await daemon.stop();
    await old.stop();
  }
});

test('the helper fails loudly, with the install command, when Mosquitto is missing', async () => {
  await assert.rejects(startMosquitto({ bin: '/nonexistent/mosquitto' }), (err: Error) => err.message.includes(MOSQUITTO_INSTALL));
});

describe('MQTT contract (real Mosquitto)', () => {
  const CAM = 'mosqcam';
  const T = contractTopics(CAM);
  let daemon: Daemon;
  let stopped = false;
  let sub: Recorder;
  let camera: ReturnType<typeof instantCamera>;

  before(async () => {
    camera = instantCamera(await makeJpeg(1600, 1200));
    sub = await Recorder.connect(broker.url, ['moncam/#', 'homeassistant/#']);
    daemon = await startDaemon(camera, daemonEnv(broker, CAM));
  });
  after(async () => {
    await sub?.close();
    if (!stopped) await daemon?.stop();
  });

  test('on connect: retained discovery and `online`', () => expectDiscoveryAndOnline(sub, broker.url, CAM));

  test('an empty command takes a still: preview JPEG, attributes, last_capture (retained) and a captured event', () =>
    expectStillFromEmptyCommand(sub, broker.url, CAM, daemon, camera));

  const BAD: Array<[string, string, string]> = [
    ['bad JSON', '{"camera":', 'bad_json'],
    ['an array', '[1,2]', 'not_object'],
    ['oversize', 'x'.repeat(5000), 'too_large'],
  ];
  for (const [name, payload, error] of BAD) {
    test(`refused: ${name} -> failed event "${error}", no camera run`, async () => {
      sub.clear();
      const runs = camera.runs;
      await sub.publish(T.all, payload);
      const [event] = await sub.waitFor(T.event);
      const ev = JSON.parse(event!.payload.toString());
      assert.equal(ev.event_type, 'failed');
      assert.equal(ev.error, error);
      assert.equal(typeof ev.message, 'string');
      assert.equal(camera.runs, runs);
      assert.equal(sub.on(T.image).length, 0, 'no still published');
    });
  }

  test('MQTT 5: a retained command published while moncam is connected (and the empty one clearing it) is not honoured', async () => {
    assert.equal((daemon.app.mqtt as unknown as { client: MqttClient }).client.options.protocolVersion, 5);
    sub.clear();
    const runs = camera.runs;
    await sub.publish(T.all, 'PRESS', { retain: true });
    await sub.publish(T.mine, '{"id":"retained-live"}', { retain: true });
    await sub.publish(T.all, '', { retain: true }); // `mosquitto_pub -r -n`, as the log advises
    await sub.publish(T.mine, '', { retain: true });
    await sub.publish(T.mine, '{"id":"after"}'); // a live one, as an ordering marker
    const [event] = await sub.waitFor(T.event);
    assert.equal(JSON.parse(event!.payload.toString()).id, 'after', 'only the live command was answered');
    assert.equal(camera.runs, runs + 1);
  });

  test('the will: an unclean drop makes Mosquitto publish `offline`; the daemon reconnects and is `online` again', async (t) => {
    sub.clear();
    const t0 = Date.now();
    dropConnection(daemon);
    const [offline] = await sub.waitFor(T.availability, 1, 5000, isText('offline'));
    const tOffline = Date.now() - t0;
    await sub.waitFor(T.availability, 1, 10_000, isText('online'));
    const tOnline = Date.now() - t0;
    await sub.waitFor(T.discovery);
    const seq = sub.on(T.availability).map((m) => m.payload.toString());
    assert.ok(seq.indexOf('offline') < seq.lastIndexOf('online'), `offline before online: ${seq.join(',')}`);
    assert.ok(offline);
    t.diagnostic(`will: offline after ${tOffline} ms, online again after ${tOnline} ms`);

    const late = await Recorder.connect(broker.url, [T.availability]);
    try {
      const [a] = await late.waitFor(T.availability);
      assert.equal(a!.payload.toString(), 'online', 'the retained availability is `online` again');
    } finally {
      await late.close();
    }
  });

  test('clean stop publishes `offline` (retained)', async () => {
    sub.clear();
    stopped = true;
    await daemon.stop();
    await sub.waitFor(T.availability, 1, 5000, isText('offline'));
    const late = await Recorder.connect(broker.url, [T.availability]);
    try {
      const [a] = await late.waitFor(T.availability);
      assert.equal(a!.payload.toString(), 'offline');
      assert.equal(a!.retain, true);
    } finally {
      await late.close();
    }
  });
});

describe('Mosquitto stops and restarts (retained messages lost)', () => {
  const CAM = 'restartcam';
  const T = contractTopics(CAM);
  let daemon: Daemon;

  before(async () => {
    daemon = await startDaemon(instantCamera(await makeJpeg(1024, 768, '#884422')), daemonEnv(broker, CAM));
  });
  after(async () => {
    await daemon?.stop();
    if (!broker.running) await broker.restart(); // leave a working broker for anything after
  });

  test('a still taken while the broker is down is published, with discovery and `online`, once it is back', async (t) => {
    await until(() => daemon.app.mqtt!.connected, 5000, 'the daemon to connect');
    const before = await daemon.app.captures.capture('web'); // some state from before the outage
    const watcher = await Recorder.connect(broker.url, [T.attributes]);
    await watcher.waitFor(T.attributes, 1, 5000, (m) => JSON.parse(m.payload.toString()).id === before.capture.id);
    await watcher.close();

    const tDown = Date.now();
    await broker.stop();
    await until(() => !daemon.app.mqtt!.connected, 5000, 'the daemon to notice the broker is gone');
    const during = await daemon.app.captures.capture('web');
    assert.notEqual(during.capture.id, before.capture.id);
    assert.equal(daemon.app.store.latest()?.id, during.capture.id, 'the still taken during the outage is stored');
    // Stay down until reconnects were refused (backoff 200, 400, 800 ms in tests): recovery must come
    // from the backoff timer after failures, not from a lucky first retry.
    const bridge = daemon.app.mqtt as unknown as { connection: { attempt: number } };
    await until(() => bridge.connection.attempt >= 3, 5000, 'two refused reconnects');
    const refused = bridge.connection.attempt - 1; // the first attempt counts the drop itself

    const tRestart = Date.now();
    await broker.restart();
    const tUp = Date.now();
    const fresh = await Recorder.connect(broker.url, ['moncam/#', 'homeassistant/#']);
    try {
      const deadline = tUp + 15_000;
      const left = () => Math.max(1, deadline - Date.now());
      const [disc] = await fresh.waitFor(T.discovery, 1, left());
      assert.equal(JSON.parse(disc!.payload.toString()).availability_topic, T.availability);
      await fresh.waitFor(T.availability, 1, left(), isText('online'));
      const [attrMsg] = await fresh.waitFor(T.attributes, 1, left(), (m) => JSON.parse(m.payload.toString()).id === during.capture.id);
      const [image] = await fresh.waitFor(T.image, 1, left());
      const [last] = await fresh.waitFor(T.lastCapture, 1, left());
      const tRecovered = Date.now();

      const attrs = JSON.parse(attrMsg!.payload.toString());
      assert.equal(attrs.id, daemon.app.store.latest()?.id, 'attributes name the stored capture');
      assert.equal(attrs.trigger, 'web');
      assert.equal(attrs.bytes, image!.payload.length);
      assert.deepEqual(image!.payload, during.preview, 'the image is the preview of the still taken during the outage');
      assert.equal(last!.payload.toString(), during.capture.capturedAtIso);
      assert.equal(fresh.on(T.image).length, 1, 'only the latest still is republished');

      t.diagnostic(
        `broker restart: down for ${tRestart - tDown} ms (${refused} refused reconnects), restart took ${tUp - tRestart} ms, state recovered ${tRecovered - tUp} ms after the broker accepted connections`,
      );
    } finally {
      await fresh.close();
    }

    // ...and it is retained again on the new broker.
    const late = await expectRetainedState(broker.url, T, during.capture.id);
    await late.close();
  });
});

describe('settings controls (real Mosquitto)', () => {
  const CAM = 'mosqctl';

  test('each control: set -> retained state -> effect -> restart -> same state', async () => {
    const camera = recordingCamera(await makeJpeg(640, 480));
    const env = { ...daemonEnv(broker, CAM), MONCAM_SCHEDULE_ENABLED: 'true' };
    let daemon = await startDaemon(camera, env);
    const sub = await Recorder.connect(broker.url, ['moncam/#']);
    try {
      await expectControlsRoundTrip(sub, daemon, CAM, camera);
      daemon = await restartWithSameSettings(daemon, camera, env, CAM);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });
});
