// The order an automation relies on: a still's `captured` event arrives after its image, its image
// attributes and `last_capture`, so an automation that reads the image entity on the event gets the new
// still. Checked by a real mqtt.js subscriber on the embedded aedes broker, which sees one ordered stream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Trigger } from '../../src/capture/service.ts';
import { contractTopics } from '../helpers/contract.ts';
import { instantCamera, Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, until } from '../helpers/setup.ts';

const CAM = 'ordercam';
const T = contractTopics(CAM);

describe('captured event order', () => {
  let daemon: Daemon;
  let sub: Recorder;

  before(async () => {
    daemon = await startDaemon(instantCamera(await makeJpeg(1600, 1200)), { MONCAM_CAMERA_ID: CAM });
    sub = await Recorder.connect(daemon.url, ['moncam/#']);
    await until(() => daemon.app.mqtt!.connected, 5000, 'daemon connected');
  });
  after(async () => {
    await sub?.close();
    await daemon?.stop();
  });

  /** Index in the subscriber's stream of the first message on `topic` that `pred` accepts. */
  const indexOf = (topic: string, pred: (payload: Buffer) => boolean) => sub.messages.findIndex((m) => m.topic === topic && pred(m.payload));

  async function expectOrdered(trigger: Trigger, take: () => Promise<unknown>): Promise<void> {
    sub.clear();
    await take();
    const [event] = await sub.waitFor(T.event, 1, 5000, (m) => JSON.parse(m.payload.toString()).event_type === 'captured');
    const ev = JSON.parse(event!.payload.toString()) as Record<string, unknown>;
    assert.equal(ev.trigger, trigger, 'the event carries the trigger');
    const id = String(ev.capture_id);
    const latest = daemon.app.store.latest()!;
    assert.equal(latest.id, id);
    const preview = await import('node:fs/promises').then((fs) => fs.readFile(latest.files.preview));

    const at = {
      event: indexOf(T.event, (p) => JSON.parse(p.toString()).capture_id === id && JSON.parse(p.toString()).event_type === 'captured'),
      image: indexOf(T.image, (p) => p.equals(preview)),
      attributes: indexOf(T.attributes, (p) => JSON.parse(p.toString()).id === id),
      lastCapture: indexOf(T.lastCapture, (p) => p.toString() === ev.captured_at),
    };
    for (const [what, i] of Object.entries(at)) assert.ok(i >= 0, `${what} of still ${id} was published`);
    for (const what of ['image', 'attributes', 'lastCapture'] as const)
      assert.ok(at[what] < at.event, `${what} (#${at[what]}) arrives before the captured event (#${at.event}): ${JSON.stringify(at)}`);
    // The attributes carry the same trigger, so the automation can read it from the entity too.
    assert.equal(JSON.parse(sub.messages[at.attributes]!.payload.toString()).trigger, trigger);
  }

  test('a still commanded over MQTT', () => expectOrdered('mqtt', () => sub.publish(T.all, '')));
  test('a scheduled still', () => expectOrdered('schedule', () => daemon.app.captures.capture('schedule')));
  test('a web still, and a page-visit still (trigger visit: automations can leave those out)', async () => {
    await expectOrdered('web', () => daemon.app.captures.capture('web'));
    await expectOrdered('visit', () => daemon.app.captures.capture('visit'));
  });
  test('five stills one after another: each event after its own state', async () => {
    for (let i = 0; i < 5; i++) await expectOrdered('mqtt', () => sub.publish(T.mine, JSON.stringify({ id: `n${i}` })));
  });
});
