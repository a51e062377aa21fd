// Animated WebP timelapses of 24 and 288 stills (a day and 12 days of hourly 480-px thumbnails) from the built
// encoder (dist/), each in a fresh process so its peak RSS is its own; sharp's `join: { animated: true }` on
// the same frames for comparison; and the GIF made beside it (320 px, bounded to < 10 MB). Prints one JSON line.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { encodeGif } from '../dist/timelapse/gif.js';
import { encodeTimelapse } from '../dist/timelapse/webp.js';

const CASES = [24, 288];
const OPTS = { size: 480, frameMs: 200, quality: 75 };
const [mode, dir, count] = process.argv.slice(2);

/** 480x360 JPEGs of gradients, a moving wave and noise: ~28 KB each, like real thumbnails, not solid colour. */
async function writeFrames(into, n) {
  const [w, h] = [480, 360];
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(w * h * 3);
    let seed = i * 7919 + 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const noise = ((seed >> 16) % 24) - 12;
        const o = (y * w + x) * 3;
        px[o] = Math.min(255, Math.max(0, (x / w) * 200 + 30 * Math.sin((i / n) * 6.28) + noise + 20));
        px[o + 1] = Math.min(255, Math.max(0, (y / h) * 180 + noise + 40));
        px[o + 2] = Math.min(255, Math.max(0, 128 + 50 * Math.sin((x + y) / 40 + (i / n) * 6.28) + noise));
      }
    }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 80 })
      .toFile(path.join(into, `f${String(i).padStart(4, '0')}.jpg`));
  }
}

/** One case in this (fresh) process: time, peak RSS and output size. */
async function runCase(encoder) {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, Number(count))
    .map((f) => path.join(dir, f));
  const out = path.join(dir, `${encoder}-${count}.${encoder === 'gif' ? 'gif' : 'webp'}`);
  const t = performance.now();
  let frames = files.length;
  if (encoder === 'moncam') await encodeTimelapse(files, out, OPTS);
  else if (encoder === 'gif') frames = (await encodeGif(files, out, { size: 320, frameMs: OPTS.frameMs })).frames;
  else
    await sharp(files, { join: { animated: true } })
      .webp({ quality: OPTS.quality, delay: OPTS.frameMs, loop: 0 })
      .toFile(out);
  const ms = performance.now() - t;
  return { stills: files.length, frames, ms, peakRss: process.resourceUsage().maxRSS * 1024, bytes: fs.statSync(out).size };
}

if (mode) {
  process.stdout.write(JSON.stringify(await runCase(mode)) + '\n');
} else {
  const frames = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-timelapse-'));
  await writeFrames(frames, Math.max(...CASES));
  const jpegBytes = fs.readdirSync(frames).reduce((n, f) => n + fs.statSync(path.join(frames, f)).size, 0) / Math.max(...CASES);
  const run = (encoder, n) =>
    JSON.parse(execFileSync(process.execPath, [...process.execArgv, import.meta.filename, encoder, frames, String(n)], { encoding: 'utf8' }));
  const result = { jpegBytes, moncam: CASES.map((n) => run('moncam', n)), join: CASES.map((n) => run('join', n)), gif: CASES.map((n) => run('gif', n)) };
  fs.rmSync(frames, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(result) + '\n');
}
