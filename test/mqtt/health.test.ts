// The Stale problem sensor and the diagnostic sensors over the embedded aedes broker with real mqtt.js
// clients: the retained health status follows stills and failures, turns stale exactly when the newest
// still becomes overdue (a fake clock drives the publisher's timer), and is republished on HA birth and
// on reconnect. Discovery as received over MQTT passes the HA schema check.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../../src/app.ts';
import { CameraError, type Camera } from '../../src/camera/types.ts';
import { staleAfter } from '../../src/health/status.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { freePort, makeJpeg, quietLogger, tempDir, testConfig, until } from '../helpers/setup.ts';
import { FAKE_RPICAM } from '../camera/fakes.ts';
import { COMPONENT_KEYS, isPlatform, unknownKeys } from './ha-schema.ts';

const TOPIC = 'moncam/garden/health';
/** Yearly (1 January): a real tick never falls inside the test; the fake clock jumps the years. */
const CRON = '0 0 1 1 *';

class BreakableCamera implements Camera {
  readonly backend = 'rpicam';
  readonly description = 'test camera that can break';
  broken = false;
  jpeg: Buffer = Buffer.alloc(0);
  async capture() {
    if (this.broken) throw new CameraError('no_camera', 'no camera available');
    return { jpeg: this.jpeg };
  }
}

interface Status {
  backend: string;
  synthetic: boolean;
  state: string;
  stale: boolean;
  reason: string | null;
  advice: string | null;
  latest_at: string | null;
  next_at: string | null;
  free_bytes: number | null;
  stills_kept: number;
  last_error: { code: string; message: string; at: string } | null;
}

const parse = (m: { payload: Buffer }) => JSON.parse(m.payload.toString()) as Status;

describe('MQTT health: Stale and diagnostics', () => {
  let daemon: Daemon;
  let sub: Recorder;
  const camera = new BreakableCamera();
  const clock = new FakeClock();
  before(async () => {
    camera.jpeg = await makeJpeg(320, 240);
    daemon = await startDaemon(
      camera,
      { MONCAM_CAMERA_ID: 'garden', MONCAM_SCHEDULE_ENABLED: 'true', MONCAM_SCHEDULE_CRON: CRON, MONCAM_CAMERA_BACKOFF_AFTER: '0' },
      // No periodic refresh: every publish in this test is caused by a still, a failure, the timer or a connect.
      { healthTiming: { now: clock.now, timers: clock.timers, refreshMs: 10 * 365 * 86_400_000 } },
    );
    sub = await Recorder.connect(daemon.url, [TOPIC, 'homeassistant/device/#']);
  });
  after(async () => {
    await sub?.close();
    await daemon?.stop();
  });

  const statuses = () => sub.on(TOPIC).map(parse);
  const last = () => statuses().at(-1)!;
  const waitFor = async (pred: (s: Status) => boolean, what: string) => {
    await until(() => statuses().some(pred), 5000, what);
    return statuses().filter(pred).at(-1)!;
  };

  test('retained at start: no still yet, not stale, the diagnostics', async () => {
    const first = await waitFor((s) => s.state === 'no_stills', 'the first status');
    // Retained: a subscriber that comes later gets it at once (the first one may have seen it live). A
    // publish of the same status (the connect's) may reach it live just before the retained copy.
    const late = await Recorder.connect(daemon.url, [TOPIC]);
    try {
      const kept = await late.retained(TOPIC, 5000);
      // free_bytes may move between two publishes (other tests write to the same disk).
      const { free_bytes: _keptFree, ...keptRest } = parse(kept!);
      const { free_bytes: _firstFree, ...firstRest } = first;
      assert.deepEqual(keptRest, firstRest);
    } finally {
      await late.close();
    }
    assert.equal(first.stale, false);
    assert.equal(first.backend, 'rpicam');
    assert.equal(first.synthetic, false);
    assert.equal(first.reason, 'No still has been taken yet.');
    assert.equal(first.advice, null);
    assert.equal(first.stills_kept, 0);
    assert.equal(first.last_error, null);
    const statfs = fs.statfsSync(daemon.app.store.dir);
    assert.ok(first.free_bytes !== null && Math.abs(first.free_bytes - statfs.bavail * statfs.bsize) < 512 * 1024 * 1024, 'free space of the data dir');
    assert.match(String(first.next_at), /^\d{4}-01-01T00:00:00\.000[+-]\d{2}:\d{2}$/);
  });

  test('discovery received over MQTT has the Stale and diagnostic entities, with keys HA accepts', async () => {
    const [msg] = await sub.waitFor('homeassistant/device/moncam_garden/config');
    const components = (JSON.parse(msg!.payload.toString()) as { components: Record<string, Record<string, unknown>> }).components;
    for (const id of ['stale', 'free_space', 'stills_kept', 'camera_backend', 'last_error']) {
      const c = components[id];
      assert.ok(c, id);
      assert.ok(isPlatform(c.platform));
      assert.deepEqual(unknownKeys(c, COMPONENT_KEYS[c.platform]), [], id);
      assert.equal(c.state_topic, TOPIC);
    }
    assert.equal(components.stale!.platform, 'binary_sensor');
  });

  test('a still: ok with its count; stale exactly when it becomes overdue (the timer), with the reason; off with the next still', async () => {
    const record = await daemon.app.captures.capture('web');
    const ok = await waitFor((s) => s.stills_kept === 1, 'the status after the still');
    assert.equal(ok.state, 'ok');
    assert.equal(ok.stale, false);
    assert.equal(ok.latest_at, record.capture.capturedAtIso);

    const runs = daemon.app.scheduler!.runsAfter(record.capture.capturedAt, 2);
    const staleAt = staleAfter(record.capture.capturedAt, runs)!;
    clock.advanceTo(new Date(staleAt.getTime() - 1000));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!statuses().some((s) => s.stale), 'not stale before the threshold');
    clock.advance(1000 + 10);
    const stale = await waitFor((s) => s.stale, 'stale after the threshold');
    assert.equal(stale.state, 'stale');
    assert.match(String(stale.reason), /newest still is \d+ days old/);
    assert.ok(stale.advice);

    await daemon.app.captures.capture('web');
    const fresh = await waitFor((s) => s.stills_kept === 2, 'the status after the next still');
    assert.equal(fresh.stale, false);
    assert.equal(fresh.state, 'ok');
  });

  test('a failing camera: stale with the error at once; the last error stays after it works again', async () => {
    camera.broken = true;
    await daemon.app.captures.capture('web').catch(() => undefined);
    const failing = await waitFor((s) => s.state === 'failing', 'failing');
    assert.equal(failing.stale, true);
    assert.match(String(failing.reason), /no_camera: no camera available/);
    assert.match(String(failing.advice), /ribbon cable/);
    assert.equal(failing.last_error?.code, 'no_camera');
    camera.broken = false;
    await daemon.app.captures.capture('web');
    const ok = await waitFor((s) => s.stills_kept === 3, 'recovered');
    assert.equal(ok.stale, false);
    assert.equal(ok.last_error?.code, 'no_camera');
  });

  test('HA birth and a reconnect republish the status', async () => {
    const before = sub.on(TOPIC).length;
    await sub.publish('homeassistant/status', 'online');
    await sub.waitFor(TOPIC, before + 1);
    // Free space moves with whatever else writes to this disk; the rest is the same status again.
    const withoutFree = (s: Status) => ({ ...s, free_bytes: typeof s.free_bytes });
    assert.deepEqual(withoutFree(last()), withoutFree(statuses()[before - 1]!), 'the same status again');
    const count = sub.on(TOPIC).length;
    daemon.app.mqtt!.client!.stream.destroy();
    await sub.waitFor(TOPIC, count + 1);
    const late = await Recorder.connect(daemon.url, [TOPIC]);
    try {
      const retained = await late.retained(TOPIC);
      assert.equal(parse(retained).stills_kept, 3);
    } finally {
      await late.close();
    }
  });
});

describe('MQTT health: a Pi whose camera is not found', () => {
  test('auto falls back to the synthetic scene: backend synthetic, and the reason says why', async () => {
    // A loose ribbon: rpicam-still is installed but lists no camera.
    const bin = tempDir('moncam-bin-');
    fs.symlinkSync(FAKE_RPICAM, path.join(bin, 'rpicam-still'));
    const saved = { PATH: process.env.PATH, FAKE_CAMERA_SCENARIO: process.env.FAKE_CAMERA_SCENARIO };
    process.env.PATH = `${bin}:${path.dirname(process.execPath)}`;
    process.env.FAKE_CAMERA_SCENARIO = 'no_camera';
    const config = testConfig({
      MONCAM_CAMERA_ID: 'garden',
      MONCAM_CAMERA_BACKEND: 'auto',
      MONCAM_BROKER_HOST: '127.0.0.1',
      MONCAM_BROKER_PORT: String(await freePort()),
      MONCAM_WEB_ENABLED: 'false',
      MONCAM_SCHEDULE_ENABLED: 'false',
    });
    let app;
    try {
      app = await createApp({ config, logger: quietLogger() });
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.FAKE_CAMERA_SCENARIO === undefined) delete process.env.FAKE_CAMERA_SCENARIO;
      else process.env.FAKE_CAMERA_SCENARIO = saved.FAKE_CAMERA_SCENARIO;
    }
    await app.start();
    const sub = await Recorder.connect(`mqtt://127.0.0.1:${app.broker!.port}`, [TOPIC]);
    try {
      const [msg] = await sub.waitFor(TOPIC);
      const status = parse(msg!);
      assert.equal(status.backend, 'synthetic');
      assert.equal(status.synthetic, true);
      assert.equal(status.stale, false);
      assert.match(String(status.reason), /No camera was found.*synthetic test scene \(rpicam-still: No cameras available!/);
      assert.match(String(status.advice), /ribbon cable/);
    } finally {
      await sub.close();
      await app.stop();
    }
  });
});
