// Runs the real capture pipeline N times in its own process, from the built dist/ like the daemon,
// and prints JSON timings and peak RSS. Camera time is excluded: the camera hands over the fixture at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { CaptureService } from '../dist/capture/service.js';
import { drawTimeTag } from '../dist/image/timetag.js';
import { sceneStats } from '../dist/scene/scene.js';
import { loadSharp } from '../dist/sharp.js';
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
  await sharp(jpeg)
    .resize(Math.ceil(3280 / 2))
    .raw()
    .toBuffer();
  decode.push(performance.now() - t);
}
// Where the overhead goes: derive.ts's steps one after another (in the pipeline the store's write overlaps
// them), with moncam's sharp settings. Medians of `runs` passes, ms.
const steps = await breakdown(runs);
fs.rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ overhead, decode, steps, rssIdle, peakRss: peak, sharpConcurrency: sharp.concurrency() }) + '\n');

async function breakdown(n) {
  const s = await loadSharp();
  const size = config.mqtt.preview_size;
  const times = {};
  const lap = async (name, f) => {
    const t = performance.now();
    const r = await f();
    (times[name] ??= []).push(performance.now() - t);
    return r;
  };
  for (let i = 0; i < n + 1; i++) {
    const meta = await lap('metadata', () => s(jpeg, { failOn: 'truncated' }).metadata());
    const { data, info } = await lap('decode at 1/2 + resize to preview (raw)', () =>
      s(jpeg, { failOn: 'truncated' })
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true }),
    );
    const raw = { width: info.width, height: info.height, channels: 3 };
    const w = config.storage.thumb_width;
    const th = Math.round((raw.height * w) / raw.width);
    const small = await lap('thumbnail resize (raw)', () => s(data, { raw }).resize(w, th, { fit: 'fill' }).raw().toBuffer());
    await lap('scene stats', () => sceneStats(small, { width: w, height: th, channels: 3 }));
    const copy = await lap('preview copy + time tags', () => {
      const c = Buffer.from(data);
      drawTimeTag(c, raw.width, raw.height, 3, '2026-01-01 12:00:00');
      drawTimeTag(small, w, th, 3, '2026-01-01 12:00:00');
      return c;
    });
    await lap('preview JPEG encode', () => s(copy, { raw }).jpeg({ quality: config.mqtt.preview_quality, optimiseCoding: false }).toBuffer());
    await lap('thumbnail JPEG encode', () =>
      s(small, { raw: { width: w, height: th, channels: 3 } })
        .jpeg({ quality: config.storage.thumb_quality, optimiseCoding: false })
        .toBuffer(),
    );
    await lap('write + fsync the original', async () => {
      const f = path.join(dataDir, `o-${i}.jpg`);
      const h = await fs.promises.open(f, 'w');
      await h.writeFile(jpeg);
      await h.sync();
      await h.close();
    });
    if (i === 0) for (const k of Object.keys(times)) times[k] = []; // warm-up pass
    void meta;
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, med(v)]));
}
