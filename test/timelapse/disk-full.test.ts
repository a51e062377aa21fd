// A timelapse built on a full disk fails with `disk_full` (not `internal`), leaves no partial file, keeps
// the previous timelapse, and works again once there is room. The disk is a really small tmpfs mounted
// for the test (root or CAP_SYS_ADMIN, as test/storage/disk-full.test.ts); where mounting is not
// permitted the tests are skipped with the reason. Real parts: CaptureStore, TimelapseService, the WebP
// encoder, sharp; the stills are noise so that each frame is tens of KB.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { TIMELAPSE_FILE } from '../../src/storage/layout.ts';
import { CaptureStore } from '../../src/storage/store.ts';
import { TimelapseFiles } from '../../src/timelapse/files.ts';
import { TimelapseError, TimelapseService, type TimelapseFailure } from '../../src/timelapse/service.ts';
import { prng, quietLogger, testConfig } from '../helpers/setup.ts';
import { recorded } from '../storage/helpers.ts';

const run = promisify(execFile);
const NOW = new Date('2026-11-23T11:00:00.000Z');
const DAY = '2026-11-23';
const DISK_BYTES = 6 * 1024 * 1024;

/** Mounts a tmpfs of `bytes`, or skips the test (with why) when that is not permitted. */
async function smallDisk(t: TestContext, bytes: number): Promise<string | undefined> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-tl-diskfull-'));
  const dir = path.join(root, 'disk');
  fs.mkdirSync(dir);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024)}k,mode=0755`, 'tmpfs', dir]);
  } catch (err) {
    await fsp.rm(root, { recursive: true, force: true });
    t.skip(`cannot mount a small tmpfs: ${String((err as { stderr?: string }).stderr || (err as Error).message).trim()}`);
    return undefined;
  }
  t.after(async () => {
    await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    await fsp.rm(root, { recursive: true, force: true });
  });
  return dir;
}

/** A 480x360 JPEG of noise (it does not compress: ~100 KB as a JPEG, tens of KB as a WebP frame). */
async function noise(seed: number, width = 480, height = 360): Promise<Buffer> {
  const rnd = prng(seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(rnd() * 256);
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function freeBytes(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

/** Fills the disk up to `leave` free bytes with one file; returns its path. */
async function fill(dir: string, leave: number): Promise<string> {
  const filler = path.join(dir, 'filler.bin');
  const size = Math.max(0, (await freeBytes(dir)) - leave);
  await fsp.writeFile(filler, Buffer.alloc(size, 0xaa));
  return filler;
}

async function setup(t: TestContext) {
  const disk = await smallDisk(t, DISK_BYTES);
  if (!disk) return undefined;
  const dataDir = path.join(disk, 'data');
  const config = testConfig({ MONCAM_SCHEDULE_TIMEZONE: 'Europe/Berlin', MONCAM_TIMELAPSE_SIZE: '480', MONCAM_TIMELAPSE_QUALITY: '90' }, dataDir);
  const store = new CaptureStore({
    dir: config.storage.dir!,
    timeZone: config.schedule.timezone,
    retentionDays: 0,
    maxBytes: 0,
    logger: quietLogger(),
    now: () => NOW,
  });
  await store.start();
  for (let i = 0; i < 6; i++) {
    const jpeg = await noise(i + 1);
    await store.save({ capturedAt: new Date(Date.parse(`${DAY}T07:00:00.000Z`) + i * 600_000), original: jpeg, thumb: jpeg, preview: jpeg, meta: recorded() });
  }
  const service = new TimelapseService({
    store,
    files: new TimelapseFiles({ context: store.context, retentionDays: 0 }),
    clock: store.clock,
    config,
    logger: quietLogger(),
    link: (day) => `/timelapse/${day}.webp`,
    now: () => NOW,
  });
  const failed: TimelapseFailure[] = [];
  service.on('failed', (f) => failed.push(f));
  t.after(() => service.stop());
  const dayDir = path.join(config.storage.dir!, DAY);
  const files = async () => (await fsp.readdir(dayDir)).sort();
  return { disk, service, failed, dayDir, files };
}

async function failsWith(p: Promise<unknown>): Promise<TimelapseFailure> {
  const err = await p.then(
    () => assert.fail('the build succeeded on a full disk'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TimelapseError, `a TimelapseError, got ${String(err)}`);
  return err.failure;
}

describe('timelapse on a full disk', () => {
  test('the disk fills up during the build: disk_full naming the folder, the failed event says so, no partial file; room again: built', async (t) => {
    const h = await setup(t);
    if (!h) return;
    const before = await h.files();
    const filler = await fill(h.disk, 40 * 1024); // the first frame or two fit, the animation does not
    const failure = await failsWith(h.service.build(DAY, 'web'));
    assert.equal(failure.error.code, 'disk_full', failure.error.message);
    assert.match(failure.error.message, new RegExp(`disk full: .*${DAY.replace(/-/g, '\\-')}`), 'the message names the folder to make room in');
    assert.deepEqual(
      h.failed.map((f) => f.error.code),
      ['disk_full'],
    );
    assert.deepEqual(await h.files(), before, 'no partial timelapse or temp file');

    await fsp.rm(filler);
    const record = await h.service.build(DAY, 'web');
    assert.equal(record.frames, 6);
    assert.ok(record.bytes > 100 * 1024, `a real animation (${record.bytes} bytes)`);
  });

  test('a disk already full (0 bytes left): disk_full; the previous timelapse is kept byte for byte', async (t) => {
    const h = await setup(t);
    if (!h) return;
    await h.service.build(DAY, 'web');
    const video = path.join(h.dayDir, TIMELAPSE_FILE.video);
    const previous = await fsp.readFile(video);
    const filesBefore = await h.files();
    await fill(h.disk, 0);
    assert.ok((await freeBytes(h.disk)) < 8192, 'the disk is full');
    const failure = await failsWith(h.service.build(DAY, 'mqtt'));
    assert.equal(failure.error.code, 'disk_full', failure.error.message);
    assert.ok((await fsp.readFile(video)).equals(previous), 'the previous timelapse is intact');
    assert.deepEqual(await h.files(), filesBefore);
  });
});
