// Soak: the real daemon with a schedule of one still per second for 10 minutes in `npm run test:long`
// (1 minute in `npm test`; MONCAM_SOAK_MINUTES sets any length), the fake camera and an MQTT subscriber.
// RSS and open file descriptors must stay flat, and every still must be stored and published exactly once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ChildDaemon } from '../helpers/daemon.ts';
import { longOr } from '../helpers/long.ts';
import { Recorder } from '../helpers/mqtt.ts';
import { tempDir } from '../helpers/setup.ts';

const MINUTES = longOr(1, 10, 'MONCAM_SOAK_MINUTES');
const SAMPLE_MS = Math.min(30_000, (MINUTES * 60_000) / 20); // about 20 samples
const MB = 1024 * 1024;
const EVENT = 'moncam/childcam/event';
const IMAGE = 'moncam/childcam/image';
const ATTRIBUTES = 'moncam/childcam/image/attributes';
const SCHEDULE = 'moncam/childcam/schedule';

interface Sample {
  s: number;
  rssMb: number;
  fds: number;
  stills: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test(
  `soak: one still per second for ${MINUTES} min; RSS and fds flat; every still stored and published once`,
  { timeout: (MINUTES + 3) * 60_000 },
  async (t) => {
    const dir = tempDir('moncam-soak-');
    const jpegFile = path.join(dir, 'still.jpg');
    // A 2 MP still: big enough that leaks of image buffers would show within minutes.
    await sharp({ create: { width: 1640, height: 1232, channels: 3, background: '#3a6f4a' } })
      .composite([{ input: Buffer.from('<svg width="1640" height="1232"><circle cx="820" cy="616" r="400" fill="#dfe8a0"/></svg>') }])
      .jpeg({ quality: 90 })
      .toFile(jpegFile);
    const argvLog = path.join(dir, 'argv.jsonl');
    const daemon = await ChildDaemon.start({
      // As `npm start` runs it.
      nodeArgs: ['--max-semi-space-size=2'],
      env: {
        MALLOC_ARENA_MAX: '2',
        MALLOC_MMAP_THRESHOLD_: '131072',
        // Turned on from MQTT below, once the subscriber is there: no still before it is listening.
        MONCAM_SCHEDULE_ENABLED: 'false',
        MONCAM_SCHEDULE_CRON: '* * * * * *',
        MONCAM_CAMERA_WIDTH: '1640',
        MONCAM_CAMERA_HEIGHT: '1232',
        FAKE_CAMERA_JPEG: jpegFile,
        FAKE_CAMERA_ARGV_LOG: argvLog,
      },
    });
    const sub = await Recorder.connect(daemon.mqttUrl, [EVENT, IMAGE, ATTRIBUTES, SCHEDULE]);
    await sub.publish(`${SCHEDULE}/set`, 'ON');
    await sub.waitFor(SCHEDULE, 1, 10_000, (m) => m.payload.toString() === 'ON');
    const samples: Sample[] = [];
    const t0 = Date.now();
    const captured = () => sub.json(EVENT).filter((e) => e.event_type === 'captured');
    try {
      const end = t0 + MINUTES * 60_000;
      for (;;) {
        samples.push({
          s: Math.round((Date.now() - t0) / 1000),
          rssMb: Math.round((daemon.rss() / MB) * 10) / 10,
          fds: daemon.fds(),
          stills: captured().length,
        });
        const left = end - Date.now();
        if (left <= 0) break;
        await new Promise((r) => setTimeout(r, Math.min(SAMPLE_MS, left)));
      }
    } finally {
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, 'clean exit after the soak');
    }
    await new Promise((r) => setTimeout(r, 500)); // the last events in flight
    await sub.close();

    t.diagnostic('   s   rss MB  fds  stills');
    for (const s of samples)
      t.diagnostic(`${String(s.s).padStart(4)}  ${s.rssMb.toFixed(1).padStart(7)}  ${String(s.fds).padStart(3)}  ${String(s.stills).padStart(6)}`);

    // Stored and published once each.
    const events = captured();
    const ids = events.map((e) => String(e.capture_id));
    const stored = fs
      .readdirSync(path.join(daemon.dataDir, 'captures'), { recursive: true })
      .map(String)
      .filter((f) => /\/\d{8}T\d{6}\.\d{3}Z\.jpg$/.test(f))
      .map((f) => path.basename(f, '.jpg'));
    const cameraRuns = fs.readFileSync(argvLog, 'utf8').trim().split('\n').length;
    const failures = sub.json(EVENT).filter((e) => e.event_type === 'failed');
    t.diagnostic(
      `camera runs ${cameraRuns}, stored ${stored.length}, captured events ${events.length}, images ${sub.on(IMAGE).length}, failed ${failures.length}`,
    );
    assert.deepEqual(failures, [], 'no capture failed');
    assert.equal(new Set(ids).size, ids.length, 'no still published twice');
    assert.deepEqual([...ids].sort(), [...stored].sort(), 'every stored still was published, and only those');
    assert.equal(stored.length, cameraRuns, 'every camera run was stored');
    assert.equal(sub.on(IMAGE).length, events.length, 'one image message per still');
    const seconds = MINUTES * 60;
    // The schedule kept up: each second's tick took a still, or was skipped (logged) because the one before
    // was still running, which a loaded machine makes common (each still starts the fake camera program).
    const skipped = daemon.logs.filter((l) => String(l.msg).startsWith('schedule tick skipped')).length;
    const kept = `${stored.length} stills and ${skipped} ticks skipped for a running still in ${seconds} s`;
    assert.ok(stored.length + skipped >= seconds * 0.9, `the schedule kept up: ${kept}`);
    assert.ok(stored.length >= seconds * 0.25, `stills were taken all along: ${kept}`);

    // Flat: after a minute of warm-up, the end of the run is no higher than its start beyond a small margin.
    const warm = samples.filter((s) => s.s >= Math.min(60, MINUTES * 10));
    assert.ok(warm.length >= 3 || MINUTES < 3, 'enough samples');
    if (warm.length >= 6) {
      const first = warm.slice(0, 3);
      const last = warm.slice(-3);
      const rssGrowth = median(last.map((s) => s.rssMb)) - median(first.map((s) => s.rssMb));
      const fdGrowth = median(last.map((s) => s.fds)) - median(first.map((s) => s.fds));
      t.diagnostic(`growth after warm-up: rss ${rssGrowth.toFixed(1)} MB, fds ${fdGrowth}`);
      assert.ok(rssGrowth < 15, `RSS grew ${rssGrowth.toFixed(1)} MB`);
      assert.ok(fdGrowth <= 2, `open files grew by ${fdGrowth}`);
      assert.ok(Math.max(...samples.map((s) => s.rssMb)) < 200, 'peak RSS stays under 200 MB (tsx included)');
    }
  },
);
