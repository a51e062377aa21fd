// Warm vs single-shot still latency, from the built camera code (dist/) against the fake rpicam-still with
// its modelled costs: single-shot pays a 1 s settle every time (rpicam-still -t 1000); warm pays start-up,
// readiness and settle once, then only the capture (FAKE_CAMERA_WARM_CAPTURE_MS). On a Pi, run the same
// with MONCAM_BENCH_CAMERA=rpicam-still to time the real camera.
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { RpicamCamera } from '../dist/camera/rpicam.js';
import { WarmRpicamCamera } from '../dist/camera/warm.js';

const program = process.env.MONCAM_BENCH_CAMERA ?? path.join(import.meta.dirname, '..', 'test', 'fixtures', 'fake-rpicam-still.mjs');
const env = { ...process.env, FAKE_CAMERA_WARM_START_MS: '300', FAKE_CAMERA_WARM_CAPTURE_MS: '200' };
const req = { width: 1640, height: 1232, quality: 93, rotation: 0, hflip: false, vflip: false, exposure: 'normal', settleMs: 1000, timeoutMs: 30_000 };
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const time = async (f) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};

const single = new RpicamCamera({ program, env });
const singleMs = [];
for (let i = 0; i < 5; i++) singleMs.push(await time(() => single.capture(req)));
const warm = new WarmRpicamCamera({ program, env, profile: req, logger: pino({ level: 'silent' }) });
const firstWarm = await time(() => warm.capture(req));
const warmMs = [];
for (let i = 0; i < 10; i++) warmMs.push(await time(() => warm.capture(req)));
await warm.stop();
process.stdout.write(
  JSON.stringify({ program: path.basename(program), single: median(singleMs), firstWarm, warm: median(warmMs), cpus: os.cpus().length }) + '\n',
);
