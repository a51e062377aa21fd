// Scene sensors over MQTT (embedded aedes broker, real mqtt.js clients): brightness and change in the image
// attributes and the captured event, the `changed` event when the picture changed, scene.change_threshold,
// and the comparison with the still stored before a restart.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import type { Camera, Shot as CameraShot, StillRequest } from '../../src/camera/types.ts';
import { contractTopics } from '../helpers/contract.ts';
import { Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { freePort, prng, tempDir } from '../helpers/setup.ts';

const CAM = 'testcam';
const T = contractTopics(CAM);
/** How long a `changed` event would take to follow its `captured` event (they are published back to back). */
const SETTLE_MS = 400;

// --- stills: a rendered garden with sensor noise; the change scores below were measured on them ---
const W = 800;
const H = 600;

function garden(extra: string, lights: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="${W}" height="${H}" fill="#000"/><g opacity="${lights}">
    <rect width="${W}" height="260" fill="#8ab8e0"/><rect y="260" width="${W}" height="340" fill="#5d8a3a"/>
    <rect x="480" y="120" width="250" height="160" fill="#c9b79c"/><polygon points="465,125 605,40 745,125" fill="#8a3b2a"/>
    <rect x="120" y="150" width="26" height="150" fill="#5b4026"/><circle cx="133" cy="130" r="75" fill="#2f6b2a"/>
    <path d="M 300 600 L 380 300 L 430 300 L 540 600 Z" fill="#b8ad96"/>${extra}</g></svg>`;
}

/** A JPEG of the garden with ±12 levels of per-pixel noise (a different seed: different noise). */
async function still(opts: { extra?: string; lights?: number; seed: number }): Promise<Buffer> {
  const { data, info } = await sharp(Buffer.from(garden(opts.extra ?? '', opts.lights ?? 1)))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rnd = prng(opts.seed);
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, data[i]! + Math.round((rnd() - 0.5) * 24)));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** A light crate a fifth of the width wide: ≈ 8 % of the picture changes when it appears, ≈ 17 % when it moves. */
const crate = (x: number) => `<rect x="${x}" y="380" width="160" height="160" fill="#e8e0d0"/>`;

let seed = 1;
const scene = {
  plain: () => still({ seed: seed++ }),
  crateLeft: () => still({ extra: crate(100), seed: seed++ }),
  crateRight: () => still({ extra: crate(560), seed: seed++ }),
  lightsOff: () => still({ lights: 0.08, seed: seed++ }),
};

class SceneCamera implements Camera {
  readonly backend = 'scene';
  readonly description = 'test camera showing the scene the test chooses';
  readonly requests: StillRequest[] = [];
  next?: Buffer;
  async capture(req: StillRequest): Promise<CameraShot> {
    this.requests.push(req);
    if (!this.next) throw new Error('no scene set');
    return { jpeg: this.next };
  }
}

interface Shot {
  captured: Record<string, unknown>;
  changed: Record<string, unknown>[];
  attributes: Record<string, unknown>;
}

let shotId = 0;
/** Takes a still by MQTT command with `jpeg` in front of the camera; what the subscriber saw for it. */
async function shoot(sub: Recorder, camera: SceneCamera, jpeg: Buffer, command: Record<string, unknown> = {}): Promise<Shot> {
  camera.next = jpeg;
  sub.clear();
  const id = `shot-${++shotId}`;
  await sub.publish(T.mine, JSON.stringify({ id, ...command }));
  await sub.waitFor(T.event, 1, 10_000, (m) => JSON.parse(m.payload.toString()).id === id);
  await sub.waitFor(T.attributes);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const events = sub.json(T.event);
  const captured = events.find((e) => e.id === id)!;
  assert.equal(captured.event_type, 'captured');
  const attributes = sub.json(T.attributes).at(-1)!;
  assert.equal(attributes.id, captured.capture_id, 'the attributes describe this still');
  return { captured, changed: events.filter((e) => e.event_type === 'changed'), attributes };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

async function start(camera: SceneCamera, dataDir: string, env: Record<string, string> = {}): Promise<{ daemon: Daemon; sub: Recorder }> {
  const daemon = await startDaemon(camera, { MONCAM_DATA_DIR: dataDir, MONCAM_WEB_ENABLED: 'false', MONCAM_BROKER_PORT: String(await freePort()), ...env });
  const sub = await Recorder.connect(daemon.url, [`moncam/${CAM}/#`]);
  return { daemon, sub };
}

describe('scene sensors over MQTT', () => {
  test('first still: brightness, change null, no changed event; same scene: small change, no event; a new object and lights off: changed events; a restart compares with the stored still', async (t) => {
    const camera = new SceneCamera();
    const dataDir = tempDir();
    let { daemon, sub } = await start(camera, dataDir);
    try {
      const first = await shoot(sub, camera, await scene.plain());
      assert.ok(
        isNum(first.attributes.brightness) && first.attributes.brightness > 40 && first.attributes.brightness < 70,
        `brightness ${first.attributes.brightness}`,
      );
      assert.equal(first.attributes.change, null, 'no previous still: change unknown');
      assert.ok('change' in first.attributes);
      assert.equal(first.attributes.exposure, 'normal');
      assert.equal(first.captured.brightness, first.attributes.brightness);
      assert.equal(first.captured.change, null);
      assert.deepEqual(first.changed, []);

      const again = await shoot(sub, camera, await scene.plain());
      t.diagnostic(`same scene, new noise: change ${again.captured.change} %`);
      assert.ok(isNum(again.attributes.change), 'change is a number from the second still on');
      assert.ok(again.attributes.change < 5, `noise is no change (${again.attributes.change} %)`);
      assert.equal(again.captured.change, again.attributes.change);
      assert.ok(isNum(again.attributes.brightness) && Math.abs(again.attributes.brightness - (first.attributes.brightness as number)) < 2);
      assert.deepEqual(again.changed, [], 'no changed event below the threshold');

      const crateShot = await shoot(sub, camera, await scene.crateLeft());
      t.diagnostic(`a crate appears: change ${crateShot.captured.change} %`);
      assert.ok(isNum(crateShot.captured.change) && crateShot.captured.change >= 5, `change ${crateShot.captured.change} % reaches the default threshold (5)`);
      assert.equal(crateShot.changed.length, 1, 'one changed event');
      const changed = crateShot.changed[0]!;
      assert.equal(changed.capture_id, crateShot.captured.capture_id);
      assert.equal(changed.change, crateShot.captured.change);
      assert.equal(changed.brightness, crateShot.captured.brightness);
      assert.equal(changed.previous_brightness, again.captured.brightness, 'previous_brightness is the still before');
      assert.equal(changed.trigger, 'mqtt');
      assert.equal(changed.captured_at, crateShot.captured.captured_at);

      const dark = await shoot(sub, camera, await scene.lightsOff());
      t.diagnostic(`lights off: change ${dark.captured.change} %, brightness ${dark.captured.brightness} %`);
      assert.equal(dark.changed.length, 1);
      assert.ok((dark.changed[0]!.change as number) >= 90, 'lights off changes nearly everything');
      assert.ok((dark.changed[0]!.brightness as number) < 10);
      assert.equal(dark.changed[0]!.previous_brightness, crateShot.captured.brightness);

      // The metadata keeps what the next start needs.
      const meta = await daemon.app.store.readMeta(String(dark.captured.capture_id));
      assert.equal(meta?.brightness, dark.captured.brightness);
      assert.equal(meta?.change, dark.captured.change);
      assert.equal(meta?.exposure, 'normal');
      assert.match(String(meta?.scene_signature), /^[A-Za-z0-9+/]+=*$/);
      assert.equal(Buffer.from(String(meta?.scene_signature), 'base64').length, 32 * 24);

      // A late subscriber gets the retained attributes with the scene sensors.
      const late = await Recorder.connect(daemon.url, [T.attributes]);
      try {
        const attrs = JSON.parse((await late.retained(T.attributes)).payload.toString());
        assert.equal(attrs.id, dark.captured.capture_id);
        assert.equal(attrs.brightness, dark.captured.brightness);
        assert.equal(attrs.change, dark.captured.change);
      } finally {
        await late.close();
      }
      // Events are moments: nothing retained on the event topic.
      const lateEvents = await Recorder.connect(daemon.url, [T.event]);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(lateEvents.on(T.event).length, 0);
      await lateEvents.close();
    } finally {
      await sub.close();
      await daemon.stop();
    }

    // A restart on a brand-new broker (nothing retained there): the stored still's attributes are republished
    // from its metadata, and the first still is compared with it.
    ({ daemon, sub } = await start(camera, dataDir));
    try {
      const [m] = await sub.waitFor(T.attributes);
      const attrs = JSON.parse(m!.payload.toString());
      assert.ok(isNum(attrs.brightness) && attrs.brightness < 10, 'brightness of the stored (dark) still');
      assert.ok(isNum(attrs.change) && attrs.change >= 90, 'change of the stored still');
      const storedBrightness = attrs.brightness;

      const lightsOn = await shoot(sub, camera, await scene.plain());
      assert.ok(isNum(lightsOn.captured.change), 'the first still after a restart has a change score');
      assert.ok(lightsOn.captured.change >= 90);
      assert.equal(lightsOn.changed.length, 1, 'lights on since the stored still: changed');
      assert.equal(lightsOn.changed[0]!.previous_brightness, storedBrightness);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });

  test('a night-exposure still among normal ones is compared with night stills only: no change fires twice', async () => {
    const camera = new SceneCamera();
    const { daemon, sub } = await start(camera, tempDir());
    try {
      // Dusk: the normal exposure sees a dark garden; a night exposure of the same garden comes out bright.
      await shoot(sub, camera, await scene.lightsOff());
      const night = await shoot(sub, camera, await scene.plain(), { exposure: 'night' });
      assert.equal(night.captured.change, null, 'the first night still has no night still to compare with');
      assert.deepEqual(night.changed, [], 'a different exposure is no change of the scene');
      const back = await shoot(sub, camera, await scene.lightsOff());
      assert.ok(isNum(back.captured.change) && back.captured.change < 5, `compared with the last normal still (${back.captured.change} %)`);
      assert.deepEqual(back.changed, [], 'back to normal exposure: no change either');
      // A real change seen by the night exposure fires once, at the night still, and not again at the next normal one.
      const crate = await shoot(sub, camera, await scene.crateLeft(), { exposure: 'night' });
      assert.equal(crate.changed.length, 1, 'the crate, against the previous night still');
      assert.equal(crate.changed[0]!.previous_brightness, night.captured.brightness, 'previous_brightness is the previous night still');
      const after = await shoot(sub, camera, await scene.lightsOff());
      assert.deepEqual(after.changed, []);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });

  test('scene.change_threshold: 0 never fires', async () => {
    const camera = new SceneCamera();
    const { daemon, sub } = await start(camera, tempDir(), { MONCAM_SCENE_CHANGE_THRESHOLD: '0' });
    try {
      await shoot(sub, camera, await scene.plain());
      const dark = await shoot(sub, camera, await scene.lightsOff());
      assert.ok(isNum(dark.captured.change) && dark.captured.change >= 90, 'the score is still measured and published');
      assert.equal(dark.attributes.change, dark.captured.change);
      assert.deepEqual(dark.changed, []);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });

  test('scene.change_threshold is honoured: at 50 a moved crate does not fire, lights off does', async (t) => {
    const camera = new SceneCamera();
    const { daemon, sub } = await start(camera, tempDir(), { MONCAM_SCENE_CHANGE_THRESHOLD: '50' });
    try {
      await shoot(sub, camera, await scene.crateLeft());
      const moved = await shoot(sub, camera, await scene.crateRight());
      t.diagnostic(`the crate moved: change ${moved.captured.change} %`);
      assert.ok(
        isNum(moved.captured.change) && moved.captured.change >= 5 && moved.captured.change < 50,
        `the move is a change by the default threshold, not by 50 (${moved.captured.change} %)`,
      );
      assert.deepEqual(moved.changed, []);
      const dark = await shoot(sub, camera, await scene.lightsOff());
      assert.equal(dark.changed.length, 1, 'a change above 50 % fires');
      assert.ok((dark.changed[0]!.change as number) >= 50);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });
});
