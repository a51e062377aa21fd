// Five cameras on one real Mosquitto: no discovery collisions, the shared command topic reaches every
// camera exactly once, and a command naming one camera reaches only that one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { instantCamera, Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { makeJpeg, tempDir, until } from '../helpers/setup.ts';

const CAMS = ['cam1', 'cam2', 'cam3', 'cam4', 'cam5'] as const;
const DISCOVERY = /^homeassistant\/device\/([^/]+)\/config$/;
const SETTLE_MS = 300; // after the expected messages: long enough for a duplicate to show up

interface Member {
  cam: string;
  camera: ReturnType<typeof instantCamera>;
  daemon: Daemon;
}

describe('a fleet of five cameras on one Mosquitto', () => {
  let broker: Mosquitto;
  let sub: Recorder;
  const fleet: Member[] = [];

  before(async () => {
    broker = await startMosquitto();
    sub = await Recorder.connect(broker.url, ['moncam/#', 'homeassistant/#']);
    const jpeg = await makeJpeg(640, 480);
    await Promise.all(
      CAMS.map(async (cam) => {
        const camera = instantCamera(jpeg);
        const daemon = await startDaemon(camera, {
          MONCAM_MQTT_URL: broker.url,
          MONCAM_BROKER_ENABLED: 'false',
          MONCAM_CAMERA_ID: cam,
          MONCAM_DATA_DIR: tempDir(`moncam-${cam}-`),
        });
        fleet.push({ cam, camera, daemon });
      }),
    );
    fleet.sort((a, b) => a.cam.localeCompare(b.cam));
  });
  after(async () => {
    await sub?.close();
    await Promise.allSettled(fleet.map((m) => m.daemon.stop()));
    await broker?.stop();
  });

  const eventsOf = (cam: string) => sub.json(`moncam/${cam}/event`);
  const runs = () => fleet.map((m) => m.camera.runs);

  test('five distinct discovery messages: no shared topics, device identifiers or unique ids', async () => {
    const discovery = () => sub.messages.filter((m) => DISCOVERY.test(m.topic) && m.payload.length > 0);
    await until(() => new Set(discovery().map((m) => m.topic)).size >= CAMS.length, 10_000, 'five discovery messages');
    await until(() => fleet.every((m) => sub.on(`moncam/${m.cam}/availability`).some((a) => a.payload.toString() === 'online')), 10_000, 'five `online`');

    const byTopic = new Map(discovery().map((m) => [m.topic, JSON.parse(m.payload.toString()) as Record<string, any>]));
    assert.deepEqual(
      [...byTopic.keys()].sort(),
      CAMS.map((c) => `homeassistant/device/moncam_${c}/config`),
    );

    const identifiers: string[] = [];
    const uniqueIds: string[] = [];
    const entityIds: string[] = [];
    const availability: string[] = [];
    for (const cam of CAMS) {
      const d = byTopic.get(`homeassistant/device/moncam_${cam}/config`)!;
      identifiers.push(...(d.device.identifiers as string[]));
      availability.push(d.availability_topic);
      assert.equal(d.availability_topic, `moncam/${cam}/availability`);
      const components = Object.values(d.components as Record<string, Record<string, any>>);
      assert.equal(components.length, 18); // no web.public_url here: no timelapse image entity
      for (const c of components) {
        uniqueIds.push(c.unique_id);
        entityIds.push(c.default_entity_id);
        // Every state topic a component reads is this camera's own.
        for (const key of ['image_topic', 'topic', 'state_topic', 'json_attributes_topic', 'url_topic']) {
          if (key in c) assert.ok(String(c[key]).startsWith(`moncam/${cam}/`), `${cam}: ${key} = ${c[key]}`);
        }
        // The capture button names its camera on the shared topic; the timelapse button has its camera's own topic.
        if (c.platform === 'button' && c.command_topic === 'moncam/capture/set')
          assert.equal(JSON.parse(c.payload_press).camera, cam, 'the button names its own camera');
        else if (c.platform === 'button') assert.equal(c.command_topic, `moncam/${cam}/timelapse/set`);
      }
    }
    const distinct = (xs: string[], what: string, n: number) => {
      assert.equal(xs.length, n, `${what} count`);
      assert.equal(new Set(xs).size, n, `${what} collide: ${xs.join(', ')}`);
    };
    distinct(identifiers, 'device identifiers', 5);
    distinct(uniqueIds, 'unique_ids', 90);
    distinct(entityIds, 'default_entity_ids', 90);
    distinct(availability, 'availability topics', 5);
  });

  test('a bare `moncam/capture/set` takes exactly one still on each of the five cameras', async () => {
    sub.clear();
    const before = runs();
    await sub.publish('moncam/capture/set', '');
    await until(() => CAMS.every((cam) => eventsOf(cam).length >= 1), 10_000, 'a captured event from every camera');
    await new Promise((r) => setTimeout(r, SETTLE_MS));

    assert.deepEqual(
      runs(),
      before.map((n) => n + 1),
      'each camera ran once',
    );
    for (const m of fleet) {
      const events = eventsOf(m.cam);
      assert.equal(events.length, 1, `${m.cam}: one event`);
      assert.equal(events[0]!.event_type, 'captured');
      assert.equal(events[0]!.trigger, 'mqtt');
      assert.equal(events[0]!.capture_id, m.daemon.app.store.latest()?.id, `${m.cam}: the event names its own stored still`);
      assert.equal(sub.on(`moncam/${m.cam}/image`).length, 1, `${m.cam}: one image`);
    }
    const all = sub.messages.filter((m) => /^moncam\/[^/]+\/event$/.test(m.topic));
    assert.equal(all.length, 5, 'five events in all');
  });

  test('`{"camera":"cam3"}` takes exactly one still, on cam3 only', async () => {
    sub.clear();
    const before = runs();
    await sub.publish('moncam/capture/set', JSON.stringify({ camera: 'cam3', id: 'only-3' }));
    await until(() => eventsOf('cam3').length >= 1, 10_000, 'the cam3 event');
    await new Promise((r) => setTimeout(r, SETTLE_MS));

    assert.deepEqual(
      runs(),
      before.map((n, i) => (CAMS[i] === 'cam3' ? n + 1 : n)),
      'only cam3 ran',
    );
    const [ev] = eventsOf('cam3');
    assert.equal(ev!.event_type, 'captured');
    assert.equal(ev!.id, 'only-3');
    const events = sub.messages.filter((m) => /^moncam\/[^/]+\/event$/.test(m.topic));
    assert.deepEqual(
      events.map((m) => m.topic),
      ['moncam/cam3/event'],
      'no other camera answered',
    );
    const images = sub.messages.filter((m) => /^moncam\/[^/]+\/image$/.test(m.topic));
    assert.deepEqual(
      images.map((m) => m.topic),
      ['moncam/cam3/image'],
    );
  });
});
