// The MQTT contract checks shared by the aedes and the Mosquitto suites: one definition, two brokers.
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Daemon } from './mqtt.ts';
import { Recorder } from './mqtt.ts';

export function contractTopics(cam: string) {
  return {
    all: 'moncam/capture/set',
    mine: `moncam/${cam}/capture/set`,
    availability: `moncam/${cam}/availability`,
    image: `moncam/${cam}/image`,
    attributes: `moncam/${cam}/image/attributes`,
    lastCapture: `moncam/${cam}/last_capture`,
    event: `moncam/${cam}/event`,
    discovery: `homeassistant/device/moncam_${cam}/config`,
  };
}

export type ContractTopics = ReturnType<typeof contractTopics>;

export const isText = (text: string) => (m: { payload: Buffer }) => m.payload.toString() === text;

/** Discovery and `online` arrive, and a late subscriber gets both retained. */
export async function expectDiscoveryAndOnline(sub: Recorder, url: string, cam: string): Promise<void> {
  const T = contractTopics(cam);
  const [disc] = await sub.waitFor(T.discovery);
  const payload = JSON.parse(disc!.payload.toString());
  assert.equal(payload.availability_topic, T.availability);
  assert.deepEqual(payload.device.identifiers, [`moncam_${cam}`]);
  assert.deepEqual(Object.keys(payload.components).sort(), [
    'brightness',
    'camera',
    'camera_backend',
    'capture',
    'capture_event',
    'change',
    'free_space',
    'image',
    'interval',
    'last_capture',
    'last_error',
    'make_timelapse',
    'night_exposure',
    'quality',
    'schedule',
    'stale',
    'stills_kept',
    'timelapse',
  ]);
  await sub.waitFor(T.availability, 1, 5000, isText('online'));
  const late = await Recorder.connect(url, [T.discovery, T.availability]);
  try {
    const d = await late.retained(T.discovery);
    const a = await late.retained(T.availability);
    assert.deepEqual(JSON.parse(d.payload.toString()), payload);
    assert.equal(a.payload.toString(), 'online');
  } finally {
    await late.close();
  }
}

/**
 * An empty command on `moncam/capture/set` takes one still (source 1600x1200): preview JPEG, attributes,
 * last_capture (all retained) and a `captured` event (not retained).
 */
export async function expectStillFromEmptyCommand(sub: Recorder, url: string, cam: string, daemon: Daemon, camera: { runs: number }): Promise<void> {
  const T = contractTopics(cam);
  sub.clear();
  const before = camera.runs;
  await sub.publish(T.all, '');
  const [image] = await sub.waitFor(T.image);
  const [event] = await sub.waitFor(T.event);
  await sub.waitFor(T.attributes);
  await sub.waitFor(T.lastCapture);
  assert.equal(camera.runs, before + 1);
  const meta = await sharp(image!.payload).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.equal(meta.width, 1280);
  assert.equal(image!.retain, false, 'live delivery clears the flag; retained-ness is checked below');
  const attrs = sub.json(T.attributes)[0]!;
  for (const key of ['captured_at', 'trigger', 'id', 'width', 'height', 'bytes', 'full_width', 'full_height']) assert.ok(key in attrs, `attributes.${key}`);
  assert.equal(attrs.trigger, 'mqtt');
  assert.equal(attrs.width, 1280);
  assert.equal(attrs.full_width, 1600);
  assert.equal(attrs.bytes, image!.payload.length);
  assert.match(String(attrs.captured_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/);
  assert.equal(sub.last(T.lastCapture)!.payload.toString(), attrs.captured_at);
  const ev = JSON.parse(event!.payload.toString());
  assert.equal(ev.event_type, 'captured');
  assert.equal(ev.trigger, 'mqtt');
  assert.equal(ev.capture_id, attrs.id);
  assert.equal(ev.captured_at, attrs.captured_at);
  assert.equal(daemon.app.store.latest()?.id, attrs.id);

  // A late subscriber gets the retained state; the event is not retained.
  const late = await Recorder.connect(url, [T.image, T.attributes, T.lastCapture, T.event]);
  try {
    assert.deepEqual((await late.retained(T.image)).payload, image!.payload);
    assert.equal(JSON.parse((await late.retained(T.attributes)).payload.toString()).id, attrs.id);
    await late.retained(T.lastCapture);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(late.on(T.event).length, 0, 'events are not retained');
  } finally {
    await late.close();
  }
}

/** A late subscriber gets discovery, `online` and the state of still `id` retained (after a broker restart). */
export async function expectRetainedState(url: string, T: ContractTopics, id: string): Promise<Recorder> {
  const late = await Recorder.connect(url, [T.discovery, T.availability, T.image, T.attributes, T.lastCapture]);
  try {
    for (const topic of [T.discovery, T.availability, T.image, T.attributes, T.lastCapture]) await late.retained(topic, 5000);
    assert.equal((await late.retained(T.availability)).payload.toString(), 'online');
    assert.equal(JSON.parse((await late.retained(T.attributes)).payload.toString()).id, id);
  } catch (err) {
    await late.close();
    throw err;
  }
  return late;
}
