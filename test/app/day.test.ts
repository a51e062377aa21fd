// Issue 7's "done means": a real `moncam run` with a fast schedule and the fake rpicam-still yields
// brightness and change sensors in HA discovery, a `changed` event when the scene changes (and none for
// sensor noise), and a day timelapse that the page plays in Chromium.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launch } from '../helpers/chromium.ts';
import sharp from 'sharp';
import { ChildDaemon, PASSWORD } from '../helpers/daemon.ts';
import { Recorder } from '../helpers/mqtt.ts';
import { notNearMidnight, tempDir, until } from '../helpers/setup.ts';

const CAM = 'childcam';
const SHOTS = path.join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const T = {
  event: `moncam/${CAM}/event`,
  attributes: `moncam/${CAM}/image/attributes`,
  timelapse: `moncam/${CAM}/timelapse`,
  timelapseSet: `moncam/${CAM}/timelapse/set`,
  discovery: `homeassistant/device/moncam_${CAM}/config`,
};

/** A garden at 640x480 with per-pixel sensor noise (seeded); `parcel` adds a large box on the lawn. */
async function scene(seed: number, parcel: boolean): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
    <rect width="640" height="300" fill="#7fb2e5"/><rect y="300" width="640" height="180" fill="#3f7d2c"/>
    <rect x="400" y="180" width="160" height="120" fill="#8a4b2f"/>
    ${parcel ? '<rect x="60" y="250" width="200" height="170" fill="#d9c27a"/>' : ''}
  </svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = Math.max(0, Math.min(255, data[i]! + ((s >>> 0) % 41) - 20)); // ±20 levels
  }
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

describe('a day with a fast schedule and the fake camera', () => {
  let daemon: ChildDaemon;
  let sub: Recorder;
  let browser: Browser | undefined;
  const dir = tempDir('moncam-day-');
  const jpegFile = path.join(dir, 'camera.jpg');
  /** Atomic swap, so the fake camera never reads half a file. */
  const show = (jpeg: Buffer) => {
    fs.writeFileSync(jpegFile + '.new', jpeg);
    fs.renameSync(jpegFile + '.new', jpegFile);
  };
  const stored = () => daemon.logs.filter((l) => l.msg === 'still captured').length;

  before(async () => {
    await notNearMidnight(180_000); // the whole day of stills must be one day
    show(await scene(1, false));
    daemon = await ChildDaemon.start({
      env: {
        MONCAM_SCHEDULE_ENABLED: 'true',
        MONCAM_SCHEDULE_CRON: '* * * * * *', // a still every second: a "day" in seconds
        FAKE_CAMERA_JPEG: jpegFile,
        MONCAM_TIMELAPSE_FRAME_MS: '200',
      },
    });
    sub = await Recorder.connect(daemon.mqttUrl, [`moncam/${CAM}/#`, T.discovery]);
  });
  after(async () => {
    await browser?.close();
    await sub?.close();
    await daemon?.stop();
  });

  test('discovery offers the brightness and change sensors, the timelapse sensor and button, and the event types', async () => {
    const [msg] = await sub.waitFor(T.discovery);
    const components = JSON.parse(msg!.payload.toString()).components as Record<string, Record<string, unknown>>;
    assert.equal(components.brightness?.platform, 'sensor');
    assert.equal(components.brightness?.unit_of_measurement, '%');
    assert.equal(components.change?.platform, 'sensor');
    assert.equal(components.timelapse?.state_topic, T.timelapse);
    assert.equal(components.make_timelapse?.command_topic, T.timelapseSet);
    assert.deepEqual(components.capture_event?.event_types, ['captured', 'failed', 'changed', 'timelapse']);
  });

  test('noise alone fires no `changed`; a parcel on the lawn fires exactly one; brightness and change are published', async () => {
    // The same scene with fresh sensor noise on every still.
    for (let seed = 2; seed <= 5; seed++) {
      const before = stored();
      show(await scene(seed, false));
      await until(() => stored() > before + 1, 15_000, 'two more stills');
    }
    const events = () => sub.json(T.event);
    assert.ok(events().filter((e) => e.event_type === 'captured').length >= 5);
    assert.deepEqual(
      events().filter((e) => e.event_type === 'changed'),
      [],
      'sensor noise is not a scene change',
    );
    const quiet = sub.json(T.attributes).at(-1)!;
    assert.equal(typeof quiet.brightness, 'number');
    assert.ok((quiet.brightness as number) > 20 && (quiet.brightness as number) < 80, `brightness ${String(quiet.brightness)}`);
    assert.ok(typeof quiet.change === 'number' && quiet.change < 5, `change ${String(quiet.change)}`);

    show(await scene(6, true));
    const [changed] = await sub.waitFor(T.event, 1, 15_000, (m) => JSON.parse(m.payload.toString()).event_type === 'changed');
    const ev = JSON.parse(changed!.payload.toString());
    assert.ok(ev.change >= 5, `change ${ev.change}`);
    assert.equal(typeof ev.brightness, 'number');
    assert.equal(typeof ev.previous_brightness, 'number');
    assert.equal(ev.trigger, 'schedule');
    // The parcel stays: later stills compare with a still that has it, so nothing fires again.
    const before = stored();
    await until(() => stored() > before + 2, 15_000, 'three more stills');
    assert.equal(events().filter((e) => e.event_type === 'changed').length, 1);
  });

  let record: Record<string, unknown>;
  test('a timelapse command builds today so far: retained record with a URL path, and a `timelapse` event', async () => {
    await sub.publish(T.timelapseSet, 'today');
    const [msg] = await sub.waitFor(T.timelapse, 1, 30_000);
    record = JSON.parse(msg!.payload.toString());
    assert.match(String(record.url), /^\/timelapse\/\d{4}-\d\d-\d\d\.webp\?key=[\w-]{22}$/);
    assert.ok((record.frames as number) >= 10, `frames ${String(record.frames)}`);
    assert.equal(record.frame_ms, 200);
    await sub.waitFor(T.event, 1, 5000, (m) => JSON.parse(m.payload.toString()).event_type === 'timelapse');
    const file = path.join(daemon.dataDir, 'captures', String(record.day), 'timelapse.webp');
    const meta = await sharp(file, { animated: true }).metadata();
    assert.equal(meta.pages, record.frames);
    // Home Assistant's link works without a session; without the key it does not.
    const withKey = await fetch(`${daemon.webUrl}${String(record.url)}`);
    assert.equal(withKey.status, 200);
    assert.equal(withKey.headers.get('content-type'), 'image/webp');
    assert.equal((await fetch(`${daemon.webUrl}${String(record.url).replace(/\?.*$/, '')}`)).status, 401);
  });

  test('the page plays the timelapse in the history view (Chromium)', async () => {
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${daemon.webUrl}/login`);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${daemon.webUrl}/`);
    // The page's timelapse section, labelled with its day, plays it in the player (ui/assets/player.js).
    await page.waitForSelector('#player .mcp[data-mode]', { timeout: 10_000 });
    assert.equal(await page.textContent('#timelapse-title'), `Timelapse of ${String(record.day)}`);
    // Decoded by the browser: every frame is there.
    const frames = await page.evaluate(async (day) => {
      const t = (await (await fetch(`/api/days/${day}`)).json()).timelapse;
      const data = await (await fetch(t.url)).arrayBuffer();
      const decoder = new (globalThis as any).ImageDecoder({ data, type: 'image/webp' });
      await decoder.tracks.ready;
      return { count: decoder.tracks.selectedTrack.frameCount as number, animated: decoder.tracks.selectedTrack.animated as boolean, width: t.width as number };
    }, String(record.day));
    assert.ok(frames.count >= (record.frames as number), `frames in the page ${frames.count}`);
    assert.equal(frames.animated, true);
    assert.ok(frames.width > 0);
    // And it plays: the picture on screen changes (the parcel comes and goes as it loops).
    if (await page.isVisible('#player .mcp-play')) await page.click('#player .mcp-play');
    const screen = page.locator('#player .mcp-screen, #player .mcp img').first();
    const shots = new Set<string>();
    const deadline = Date.now() + 8000;
    while (shots.size < 2 && Date.now() < deadline) {
      shots.add((await screen.screenshot()).toString('base64'));
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.ok(shots.size >= 2, 'the timelapse is animated on the page');
    assert.match((await page.textContent('#timelapse-status'))!, /^\d+ stills · [\d.]+ s · made /);
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'timelapse.png'), fullPage: true });
    await page.close();
  });
});
