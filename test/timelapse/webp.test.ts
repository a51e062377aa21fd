import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { jpegMaker, pixel, type Rgb } from '../helpers/frames.ts';
import { encodeTimelapse, type TimelapseEncodeOptions } from '../../src/timelapse/webp.ts';

const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const ROOT = path.join(import.meta.dirname, '..', '..');
const OPTS: TimelapseEncodeOptions = { size: 160, frameMs: 250, quality: 90 };

let dir: string;
let jpeg: ReturnType<typeof jpegMaker>;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-timelapse-'));
  jpeg = jpegMaker(dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const out = (name: string) => path.join(dir, name);

/** Lossy WebP and YUV rounding move solid colours by a few levels. */
async function assertColour(file: string, page: number, x: number, y: number, want: Rgb): Promise<void> {
  const got = await pixel(file, page, x, y);
  assert.ok(
    got.every((v, i) => Math.abs(v - want[i]!) <= 24),
    `page ${page} (${x},${y}): got ${got}, want ${want}`,
  );
}

describe('encodeTimelapse', () => {
  test('writes one animated WebP: pages, delays, loop forever, canvas, colours in order', async () => {
    const colours = [RED, GREEN, BLUE, WHITE];
    const frames = await Promise.all(colours.map((c) => jpeg(160, 120, c)));
    const file = out('basic.webp');
    fs.writeFileSync(file, Buffer.alloc(2_000_000)); // an older, larger file is truncated
    const result = await encodeTimelapse(frames, file, OPTS);
    assert.deepEqual({ ...result, bytes: 0 }, { frames: 4, skipped: 0, width: 160, height: 120, bytes: 0 });
    const bytes = fs.readFileSync(file);
    assert.equal(result.bytes, bytes.length);
    assert.equal(bytes.toString('latin1', 0, 4), 'RIFF');
    assert.equal(bytes.readUInt32LE(4), bytes.length - 8);
    const meta = await sharp(file, { animated: true }).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(meta.pages, 4);
    assert.deepEqual(meta.delay, [250, 250, 250, 250]);
    assert.equal(meta.loop, 0);
    assert.equal(meta.width, 160);
    assert.equal(meta.pageHeight, 120);
    assert.equal(meta.height, 4 * 120); // animated: all pages stacked
    for (const [page, colour] of colours.entries()) await assertColour(file, page, 80, 60, colour);
  });

  test('accepts an async iterable', async () => {
    const [a, b] = await Promise.all([jpeg(64, 48, RED), jpeg(64, 48, BLUE)]);
    async function* paths() {
      yield a!;
      yield b!;
    }
    const result = await encodeTimelapse(paths(), out('async.webp'), OPTS);
    assert.equal(result.frames, 2);
    await assertColour(out('async.webp'), 1, 32, 24, BLUE);
  });

  test('size limits the long edge, upright (EXIF orientation applied), never enlarging', async () => {
    const landscape = await encodeTimelapse([await jpeg(400, 300, RED)], out('landscape.webp'), { ...OPTS, size: 100 });
    assert.deepEqual([landscape.width, landscape.height], [100, 75]);
    const portrait = await encodeTimelapse([await jpeg(300, 400, RED)], out('portrait.webp'), { ...OPTS, size: 100 });
    assert.deepEqual([portrait.width, portrait.height], [75, 100]);
    const rotated = await encodeTimelapse([await jpeg(400, 300, RED, 6)], out('rotated.webp'), { ...OPTS, size: 100 });
    assert.deepEqual([rotated.width, rotated.height], [75, 100]);
    const small = await encodeTimelapse([await jpeg(120, 90, RED)], out('small.webp'), { ...OPTS, size: 1000 });
    assert.deepEqual([small.width, small.height], [120, 90]);
    const meta = await sharp(out('landscape.webp')).metadata();
    assert.deepEqual([meta.width, meta.height], [100, 75]);
  });

  test('frames of another aspect or size are letterboxed on black to the first frame canvas, not enlarged', async () => {
    const frames = [
      await jpeg(160, 120, RED), // sets the canvas
      await jpeg(240, 240, GREEN), // square: scaled to 120x120, bars left and right
      await jpeg(640, 240, BLUE), // wide: scaled to 160x60, bars top and bottom
      await jpeg(40, 30, WHITE), // small: kept at 40x30, centred
    ];
    const file = out('letterbox.webp');
    const result = await encodeTimelapse(frames, file, OPTS);
    assert.deepEqual([result.width, result.height], [160, 120]);
    await assertColour(file, 1, 80, 60, GREEN);
    await assertColour(file, 1, 8, 60, BLACK);
    await assertColour(file, 1, 152, 60, BLACK);
    await assertColour(file, 2, 80, 60, BLUE);
    await assertColour(file, 2, 80, 8, BLACK);
    await assertColour(file, 2, 80, 112, BLACK);
    await assertColour(file, 3, 80, 60, WHITE);
    await assertColour(file, 3, 50, 60, BLACK); // would be white if the small frame had been enlarged
  });

  test('unreadable and undecodable frames are skipped and counted; the canvas comes from the first good one; onFrame names the inputs used', async () => {
    const good = await jpeg(160, 120, RED);
    const noisy = path.join(dir, 'noisy.jpg');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg()
      .toFile(noisy);
    const whole = fs.readFileSync(noisy);
    const truncated = path.join(dir, 'truncated.jpg');
    fs.writeFileSync(truncated, whole.subarray(0, whole.length >> 1));
    const garbage = path.join(dir, 'garbage.jpg');
    fs.writeFileSync(garbage, 'not a jpeg');
    const frames = [path.join(dir, 'missing.jpg'), truncated, good, garbage, dir, await jpeg(160, 120, GREEN)];
    const file = out('skipped.webp');
    const used: number[] = [];
    const result = await encodeTimelapse(frames, file, { ...OPTS, onFrame: (i) => used.push(i) });
    assert.deepEqual({ ...result, bytes: 0 }, { frames: 2, skipped: 4, width: 160, height: 120, bytes: 0 });
    assert.deepEqual(used, [2, 5], 'the inputs that became frames, so their capture times can be recorded');
    assert.equal((await sharp(file, { animated: true }).metadata()).pages, 2);
    await assertColour(file, 0, 80, 60, RED);
    await assertColour(file, 1, 80, 60, GREEN);
  });

  test('zero usable frames rejects and leaves no file', async () => {
    const garbage = path.join(dir, 'garbage-only.jpg');
    fs.writeFileSync(garbage, 'not a jpeg');
    const file = out('none.webp');
    fs.writeFileSync(file, 'an older timelapse');
    await assert.rejects(encodeTimelapse([path.join(dir, 'missing.jpg'), garbage], file, OPTS), /no usable frames \(2 could not be read or decoded\)/);
    assert.equal(fs.existsSync(file), false);
    await assert.rejects(encodeTimelapse([], file, OPTS), /no usable frames/);
    assert.equal(fs.existsSync(file), false);
  });

  test('abort stops between frames, rejects with the reason and leaves no file', async () => {
    const frame = await jpeg(64, 48, RED);
    const controller = new AbortController();
    const reason = new Error('stop now');
    let pulled = 0;
    function* paths() {
      for (;;) {
        if (++pulled === 3) controller.abort(reason);
        yield frame;
      }
    }
    const file = out('aborted.webp');
    await assert.rejects(encodeTimelapse(paths(), file, { ...OPTS, signal: controller.signal }), (err) => err === reason);
    assert.equal(pulled, 3);
    assert.equal(fs.existsSync(file), false);
    // Already aborted: nothing is read or created.
    await assert.rejects(encodeTimelapse(paths(), file, { ...OPTS, signal: AbortSignal.abort(reason) }), (err) => err === reason);
    assert.equal(pulled, 3);
    assert.equal(fs.existsSync(file), false);
  });

  test('bad options are refused before anything is written', async () => {
    const file = out('options.webp');
    for (const bad of [{ size: 0 }, { size: 20_000 }, { frameMs: 0 }, { frameMs: 2.5 }, { frameMs: 2 ** 24 }, { quality: 0 }, { quality: 101 }]) {
      await assert.rejects(encodeTimelapse([], file, { ...OPTS, ...bad }), RangeError, JSON.stringify(bad));
    }
    assert.equal(fs.existsSync(file), false);
  });
});

describe('encodeTimelapse memory', () => {
  test('each frame is on disk before the next path is even asked for: one frame in flight', async () => {
    const colours = [RED, GREEN, BLUE, WHITE, RED, GREEN];
    const frames = await Promise.all(colours.map((c) => jpeg(160, 120, c)));
    const file = out('streamed.webp');
    const sizeWhenPulled: number[] = [];
    async function* paths() {
      for (const frame of frames) {
        sizeWhenPulled.push(fs.existsSync(file) ? fs.statSync(file).size : 0);
        yield frame;
      }
    }
    const result = await encodeTimelapse(paths(), file, OPTS);
    assert.equal(sizeWhenPulled[0], 0);
    for (let i = 1; i < frames.length; i++)
      assert.ok(sizeWhenPulled[i]! > sizeWhenPulled[i - 1]!, `frame ${i - 1} was not written before frame ${i} was pulled: ${sizeWhenPulled}`);
    assert.ok(result.bytes > sizeWhenPulled.at(-1)!);
  });

  test('peak RSS growth for 288 frames is about that for 24 (child process, daemon memory settings)', async () => {
    // 24 distinct 320x240 frames, repeated: 288 decoded frames held at once would be 66 MB.
    const frames: string[] = [];
    for (let i = 0; i < 24; i++) {
      const file = path.join(dir, `rss-${i}.jpg`);
      const noise = { type: 'gaussian' as const, mean: 40 + i * 8, sigma: 30 };
      await sharp({ create: { width: 320, height: 240, channels: 3, background: '#000', noise } })
        .jpeg({ quality: 80 })
        .toFile(file);
      frames.push(file);
    }
    // A short warm-up first, so the baseline already has tsx's compile and libvips' threads in it.
    const script = `
      import { encodeTimelapse } from ${JSON.stringify(path.join(ROOT, 'src', 'timelapse', 'webp.ts'))};
      const frames = ${JSON.stringify(frames)};
      const encode = (count) => encodeTimelapse(Array.from({ length: count }, (_, i) => frames[i % frames.length]), ${JSON.stringify(out('rss.webp'))}, { size: 320, frameMs: 100, quality: 75 });
      const peak = () => process.resourceUsage().maxRSS * 1024;
      await encode(4);
      const base = peak();
      await encode(24);
      const after24 = peak();
      await encode(288);
      process.stdout.write(JSON.stringify([after24 - base, peak() - base]));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=2', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT, // where tsx resolves from
      env: { ...process.env, MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' },
    });
    const [small, large] = JSON.parse(stdout) as [number, number];
    assert.ok(large <= 1.5 * small + 16e6, `peak RSS growth: ${(small / 1e6).toFixed(1)} MB for 24 frames, ${(large / 1e6).toFixed(1)} MB for 288`);
  });
});
