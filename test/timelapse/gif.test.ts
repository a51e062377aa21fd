// The animated GIF timelapse (phone notifications): a valid GIF89a decoded back by libvips' own GIF loader
// (libnsgif, not the writer), frames in order, letterboxed, bounded in size by leaving stills out evenly.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { jpegMaker, pixel, type Rgb } from '../helpers/frames.ts';
import { encodeGif, GIF_MAX_BYTES, nextInput, parseStill } from '../../src/timelapse/gif.ts';
import { NoFramesError } from '../../src/timelapse/webp.ts';
import { GARDEN_8MP } from '../helpers/setup.ts';

const COLOURS: Rgb[] = [
  [220, 40, 40],
  [40, 200, 60],
  [40, 60, 220],
  [240, 240, 240],
];

let dir: string;
let jpeg: ReturnType<typeof jpegMaker>;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-gif-'));
  jpeg = jpegMaker(dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const out = (name: string) => path.join(dir, name);

function near(got: Rgb, want: Rgb, what: string): void {
  assert.ok(
    got.every((v, i) => Math.abs(v - want[i]!) <= 12),
    `${what}: got ${got.join(',')}, want ${want.join(',')}`,
  );
}

describe('encodeGif', () => {
  test('one frame per still, in order, each with its frame time (1/100 s), looping forever', async () => {
    const files = await Promise.all(COLOURS.map((c) => jpeg(400, 300, c)));
    const used: number[] = [];
    const r = await encodeGif(files, out('order.gif'), { size: 200, frameMs: 250, onFrame: (i) => used.push(i) });
    assert.deepEqual(r, { frames: 4, skipped: 0, left_out: 0, width: 200, height: 150, bytes: fs.statSync(out('order.gif')).size });
    assert.deepEqual(used, [0, 1, 2, 3]);
    const md = await sharp(out('order.gif'), { animated: true }).metadata();
    assert.equal(md.format, 'gif');
    assert.equal(md.pages, 4);
    assert.equal(md.width, 200);
    assert.equal(md.pageHeight, 150);
    assert.deepEqual(md.delay, [250, 250, 250, 250]);
    assert.equal(md.loop, 0);
    for (let i = 0; i < 4; i++) near(await pixel(out('order.gif'), i, 100, 75), COLOURS[i]!, `frame ${i}`);
    const head = fs.readFileSync(out('order.gif'));
    assert.equal(head.toString('latin1', 0, 6), 'GIF89a');
    assert.equal(head.at(-1), 0x3b, 'ends with the trailer');
  });

  test('frame times round to the 1/100 s GIF counts in, never under 20 ms (browsers slow faster frames down)', async () => {
    const files = await Promise.all([jpeg(64, 48, COLOURS[0]!), jpeg(64, 48, COLOURS[1]!)]);
    await encodeGif(files, out('fast.gif'), { size: 64, frameMs: 5 });
    assert.deepEqual((await sharp(out('fast.gif'), { animated: true }).metadata()).delay, [20, 20]);
    await encodeGif(files, out('odd.gif'), { size: 64, frameMs: 333 });
    assert.deepEqual((await sharp(out('odd.gif'), { animated: true }).metadata()).delay, [330, 330]);
  });

  test('a frame of another shape is letterboxed on black into the first frame’s canvas', async () => {
    const files = [await jpeg(400, 300, COLOURS[0]!), await jpeg(300, 300, COLOURS[1]!)];
    const r = await encodeGif(files, out('box.gif'), { size: 200, frameMs: 100 });
    assert.equal(r.frames, 2);
    assert.deepEqual([r.width, r.height], [200, 150]);
    near(await pixel(out('box.gif'), 1, 100, 75), COLOURS[1]!, 'centre of the square frame');
    near(await pixel(out('box.gif'), 1, 5, 75), [0, 0, 0], 'left bar');
    near(await pixel(out('box.gif'), 1, 195, 75), [0, 0, 0], 'right bar');
  });

  test('unreadable stills are skipped and counted; none usable rejects with NoFramesError and leaves no file', async () => {
    const garbage = out('garbage.jpg');
    fs.writeFileSync(garbage, 'not a jpeg');
    const files = [out('missing.jpg'), await jpeg(80, 60, COLOURS[0]!), garbage, await jpeg(80, 60, COLOURS[2]!)];
    const used: number[] = [];
    const r = await encodeGif(files, out('skip.gif'), { size: 80, frameMs: 100, onFrame: (i) => used.push(i) });
    assert.equal(r.frames, 2);
    assert.equal(r.skipped, 2);
    assert.equal(r.left_out, 0);
    assert.deepEqual(used, [1, 3]);
    assert.equal((await sharp(out('skip.gif'), { animated: true }).metadata()).pages, 2);

    await assert.rejects(encodeGif([garbage, out('missing.jpg')], out('none.gif'), { size: 80, frameMs: 100 }), NoFramesError);
    assert.equal(fs.existsSync(out('none.gif')), false);
  });

  test('a small maxBytes: stills are left out evenly, the first and last kept, and the file stays under it', async () => {
    const files: string[] = [];
    for (let i = 0; i < 40; i++) files.push(await jpeg(160, 120, COLOURS[i % 4]!));
    const whole = await encodeGif(files, out('whole.gif'), { size: 160, frameMs: 100 });
    assert.equal(whole.frames, 40);
    const maxBytes = Math.round(whole.bytes / 4);
    const used: number[] = [];
    const r = await encodeGif(files, out('small.gif'), { size: 160, frameMs: 100, maxBytes, onFrame: (i) => used.push(i) });
    assert.ok(r.bytes <= maxBytes, `${r.bytes} > ${maxBytes}`);
    assert.equal(fs.statSync(out('small.gif')).size, r.bytes);
    assert.ok(r.frames >= 6 && r.frames <= 10, `about a quarter of the stills, got ${r.frames}`);
    assert.equal(r.left_out, 40 - r.frames);
    assert.equal(used[0], 0, 'the first still');
    assert.ok(used.at(-1)! >= 36, `reaches the end of the day, last ${used.at(-1)}`);
    const gaps = used.slice(1).map((u, i) => u - used[i]!);
    assert.ok(Math.max(...gaps) - Math.min(...gaps) <= 2, `evenly spaced: ${gaps.join(',')}`);
    const md = await sharp(out('small.gif'), { animated: true }).metadata();
    assert.equal(md.pages, r.frames);
    for (const [page, input] of used.entries()) near(await pixel(out('small.gif'), page, 80, 60), COLOURS[input % 4]!, `frame ${page} = still ${input}`);

    await assert.rejects(encodeGif(files, out('tiny.gif'), { size: 160, frameMs: 100, maxBytes: 200 }), NoFramesError);
    assert.equal(fs.existsSync(out('tiny.gif')), false);
  });

  test('a day of 288 camera stills at the default 320 px: under 10 MB, first to last still, decodable', async () => {
    // Real photo content (noise defeats GIF's LZW, as in camera frames), a little different in each still.
    const base = await sharp(GARDEN_8MP).resize(480).raw().toBuffer({ resolveWithObject: true });
    const files: string[] = [];
    for (let i = 0; i < 288; i++) {
      const file = out(`day-${i}.jpg`);
      await sharp(base.data, { raw: base.info })
        .linear(0.7 + i / 900, (i % 7) - 3)
        .jpeg({ quality: 80 })
        .toFile(file);
      files.push(file);
    }
    const used: number[] = [];
    const r = await encodeGif(files, out('day.gif'), { size: 320, frameMs: 250, onFrame: (i) => used.push(i) });
    assert.ok(r.bytes < 10_000_000 && r.bytes <= GIF_MAX_BYTES, `${r.bytes} bytes`);
    assert.equal(fs.statSync(out('day.gif')).size, r.bytes);
    assert.ok(r.left_out > 0, 'a day of camera stills does not fit whole');
    assert.ok(r.frames >= 96, `at least every third still, got ${r.frames}`);
    assert.ok(r.bytes > GIF_MAX_BYTES * 0.85, `the budget is used, not wasted: ${r.bytes}`);
    assert.equal(used[0], 0);
    assert.ok(used.at(-1)! >= 285, `reaches the end of the day: ${used.at(-1)}`);
    const md = await sharp(out('day.gif'), { animated: true }).metadata();
    assert.equal(md.pages, r.frames);
    assert.equal(md.width, 320);
    await sharp(out('day.gif'), { page: r.frames - 1 })
      .raw()
      .toBuffer(); // the last frame decodes
  });

  test('an aborted build stops between frames, rejects with the reason and leaves no file', async () => {
    const files = await Promise.all(COLOURS.map((c) => jpeg(64, 48, c)));
    const ac = new AbortController();
    const p = encodeGif(files, out('abort.gif'), { size: 64, frameMs: 100, signal: ac.signal, onFrame: (i) => i === 1 && ac.abort(new Error('stop now')) });
    await assert.rejects(p, /stop now/);
    assert.equal(fs.existsSync(out('abort.gif')), false);
  });

  test('bad options are refused before any file is written', async () => {
    await assert.rejects(encodeGif([], out('bad.gif'), { size: 0, frameMs: 100 }), RangeError);
    await assert.rejects(encodeGif([], out('bad.gif'), { size: 64, frameMs: 0 }), RangeError);
    assert.equal(fs.existsSync(out('bad.gif')), false);
  });
});

describe('nextInput', () => {
  test('every still while they all fit; evenly spaced towards the last when not; none when nothing fits', () => {
    assert.equal(nextInput(0, 10, 20), 1);
    assert.equal(nextInput(0, 10, 9), 1, 'exactly the nine left fit');
    assert.equal(nextInput(0, 289, 96), 3);
    assert.equal(nextInput(10, 100, 44.9), 13, 'slots are whole frames');
    assert.equal(nextInput(5, 10, 0.5), 10, 'no room: done');
    assert.equal(nextInput(9, 10, 5), 10, 'the last still was used');
    // Walking with a steady budget reaches the last still.
    let i = 0;
    const seen = [0];
    for (let slots = 95; i < 288; slots--) {
      i = nextInput(i, 288, slots);
      if (i < 288) seen.push(i);
    }
    assert.ok(seen.length <= 96 && seen.at(-1)! >= 285, `${seen.length} frames, last ${seen.at(-1)}`);
  });
});

describe('parseStill', () => {
  test('takes the palette and image data of a still GIF; refuses what is not one', async () => {
    const gif = await sharp({ create: { width: 8, height: 4, channels: 3, background: '#f00' } })
      .gif()
      .toBuffer();
    const frame = parseStill(gif);
    assert.deepEqual([frame.width, frame.height], [8, 4]);
    assert.equal(frame.table.length, 3 * (2 << (frame.tableFlags & 7)));
    assert.equal(frame.data.at(-1), 0, 'the data ends with its block terminator');
    assert.throws(() => parseStill(Buffer.from('GIF89a')), /cannot be read/);
    assert.throws(() => parseStill(Buffer.from('not a gif at all')), /no GIF header/);
    assert.throws(() => parseStill(gif.subarray(0, gif.length - 4)), /truncated|no image/);
  });
});
