// Runs the real capture pipeline N times in its own process, from the built dist/ like the daemon,
// and prints JSON timings and peak RSS. Camera time is excluded: the camera hands over the fixture at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { CaptureService } from '../dist/capture/service.js';
import { loadConfig } from '../dist/config/load.js';
import { CaptureStore } from '../dist/storage/store.js';

const [fixture, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 10);
const jpeg = fs.readFileSync(fixture);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-'));
const config = loadConfig({ env: { MONCAM_DATA_DIR: dataDir, MONCAM_CAMERA_ID: 'bench' }, cwd: dataDir }).config;
const logger = pino({ level: 'silent' });
const camera = { backend: 'fixture', description: 'fixture', capture: async () => ({ jpeg }) };
const store = new CaptureStore({ dir: config.storage.dir, retentionDays: 0, maxBytes: 0, logger });
await store.start();
const service = new CaptureService({ camera, store, config, logger });

const rssIdle = process.memoryUsage().rss;
let peak = rssIdle;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
const overhead = [];
for (let i = 0; i < runs + 1; i++) {
  const r = await service.capture('cli');
  if (i > 0) overhead.push(r.pipelineMs); // the first run warms up sharp and the page cache
}
clearInterval(sampler);
// Peak of the capture path itself (the reference decode below is not part of it).
peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
// The least work sharp itself needs: decode at 1/2 scale (shrink-on-load), no resize or encode.
const decode = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  await sharp(jpeg).resize(Math.ceil(3280 / 2)).raw().toBuffer();
  decode.push(performance.now() - t);
}
fs.rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ overhead, decode, rssIdle, peakRss: peak, sharpConcurrency: sharp.concurrency() }) + '\n');
