// TimelapseService with real parts: a CaptureStore on a temp dir, stills made by sharp and saved with
// store.save(), the real WebP encoder, the real config loader. Only the clock ("now") is injected.
import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Config } from '../../src/config/schema.ts';
import { TIMELAPSE_FILE } from '../../src/storage/layout.ts';
import { CaptureStore, type Still } from '../../src/storage/store.ts';
import { TimelapseFiles } from '../../src/timelapse/files.ts';
import { TimelapseError, TimelapseService, type TimelapseFailure, type TimelapseRecord, type TimelapseServiceDeps } from '../../src/timelapse/service.ts';
import { quietLogger, tempDir, testConfig, until } from '../helpers/setup.ts';
import { PALETTE, listTree, recorded, solidJpeg, treeBytes, type Rgb } from '../storage/helpers.ts';

// 12:00 in Berlin (UTC+1 in November): "today" is 2026-11-23.
const NOW = new Date('2026-11-23T11:00:00.000Z');
const TODAY = '2026-11-23';
const Y1 = '2026-11-22'; // yesterday
const Y2 = '2026-11-21'; // the day before
const Y3 = '2026-11-20'; // outside the finished days the catch-up looks at
const link = (day: string, format = 'webp') => `/timelapse/${day}.${format}?key=k-${day}`;

/** A still whose thumbnail (480x360) and preview (1280x960) are solid colours; `preview` defaults to `thumb`'s. */
async function still(store: CaptureStore, at: Date, thumb: Rgb, preview: Rgb = thumb): Promise<Still> {
  const [original, t, p] = await Promise.all([solidJpeg(640, 480, thumb), solidJpeg(480, 360, thumb), solidJpeg(1280, 960, preview)]);
  return store.save({ capturedAt: at, original, thumb: t, preview: p, meta: recorded() });
}

/** `n` stills on a local (Berlin) day from 08:00, `stepMin` minutes apart, palette colours in time order. */
async function dayStills(store: CaptureStore, day: string, n: number, stepMin = 60, offset = 0): Promise<Still[]> {
  const out: Still[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(Date.parse(`${day}T07:00:00.000Z`) + (offset + i) * stepMin * 60_000);
    out.push(await still(store, at, PALETTE[(offset + i) % PALETTE.length]!));
  }
  return out;
}

interface Harness {
  config: Config;
  store: CaptureStore;
  service: TimelapseService;
  built: TimelapseRecord[];
  failed: TimelapseFailure[];
  /** Every files.save() call (one per build that got that far), with how often its encoder ran. */
  saves: Array<{ day: string; start: number; end: number; encodes: number }>;
  dir: string;
  /** Another service on the same store and config (a restart). */
  restart: (deps?: Partial<TimelapseServiceDeps>) => { service: TimelapseService; built: TimelapseRecord[]; failed: TimelapseFailure[] };
}

async function setup(t: TestContext, env: Record<string, string> = {}, deps: Partial<TimelapseServiceDeps> = {}): Promise<Harness> {
  const dataDir = tempDir('moncam-tl-service-');
  const services: TimelapseService[] = [];
  // Services stop (their builds wind down) before their folder goes.
  t.after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await fsp.rm(dataDir, { recursive: true, force: true });
  });
  const config = testConfig({ MONCAM_SCHEDULE_TIMEZONE: 'Europe/Berlin', MONCAM_TIMELAPSE_FRAME_MS: '200', ...env }, dataDir);
  const store = new CaptureStore({
    dir: config.storage.dir!,
    timeZone: config.schedule.timezone,
    retentionDays: config.storage.retention_days,
    maxBytes: config.storage.max_bytes,
    logger: quietLogger(),
    now: () => NOW,
  });
  await store.start();
  const saves: Harness['saves'] = [];
  const files = new TimelapseFiles({ context: store.context, retentionDays: config.storage.retention_days });
  const saveTimelapse = files.save.bind(files);
  files.save = (async (day: string, build: (temp: string, tempGif: string) => Promise<unknown>, meta: (r: unknown, b: number) => Record<string, unknown>) => {
    const call = { day, start: performance.now(), end: 0, encodes: 0 };
    saves.push(call);
    try {
      return await saveTimelapse(day, (temp, tempGif) => (call.encodes++, build(temp, tempGif)), meta);
    } finally {
      call.end = performance.now();
    }
  }) as typeof files.save;
  const make = (more: Partial<TimelapseServiceDeps> = {}) => {
    const service = new TimelapseService({ store, files, clock: store.clock, config, logger: quietLogger(), link, now: () => NOW, ...deps, ...more });
    const built: TimelapseRecord[] = [];
    const failed: TimelapseFailure[] = [];
    service.on('built', (r) => built.push(r));
    service.on('failed', (f) => failed.push(f));
    services.push(service);
    return { service, built, failed };
  };
  const first = make();
  return { config, store, saves, dir: config.storage.dir!, ...first, restart: make };
}

const videoOf = (h: Harness, day: string) => path.join(h.dir, day, TIMELAPSE_FILE.video);
const metaOf = (h: Harness, day: string) => path.join(h.dir, day, TIMELAPSE_FILE.meta);
const exists = (file: string) =>
  fsp.stat(file).then(
    () => true,
    () => false,
  );
const tempFiles = async (h: Harness) => (await listTree(h.dir)).filter((f) => /\.tmp-/.test(path.basename(f)));
const readMeta = async (h: Harness, day: string) => JSON.parse(await fsp.readFile(metaOf(h, day), 'utf8')) as Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mean colour of one page of an animated WebP; lossy WebP moves solid colours by a few levels. */
async function assertPage(file: string, page: number, want: Rgb, what = ''): Promise<void> {
  const { channels } = await sharp(file, { page }).stats();
  const got = channels.slice(0, 3).map((c) => Math.round(c.mean));
  assert.ok(
    got.every((v, i) => Math.abs(v - want[i]!) <= 24),
    `${what} page ${page}: got ${got.join(',')}, want ${want.join(',')}`,
  );
}

/** The build rejects with a TimelapseError of `code`, and the same failure was emitted as `failed`. */
async function assertFails(h: { failed: TimelapseFailure[] }, p: Promise<TimelapseRecord>, code: string): Promise<TimelapseFailure> {
  const before = h.failed.length;
  let failure: TimelapseFailure | undefined;
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TimelapseError, `a TimelapseError, got ${String(err)}`);
    assert.equal(err.failure.error.code, code, err.message);
    failure = err.failure;
    return true;
  });
  assert.equal(h.failed.length, before + 1, 'one failed event');
  assert.deepEqual(h.failed.at(-1), failure);
  return failure!;
}

describe('TimelapseService.build', () => {
  test('builds the day’s animated WebP from the thumbnails, frames in capture order, with timelapse.json and a built event', async (t) => {
    const h = await setup(t);
    // Saved out of time order: the timelapse follows the capture time, not the order of saving.
    const order = [2, 0, 3, 1];
    const caps: Still[] = [];
    for (const i of order) caps[i] = await still(h.store, new Date(Date.parse(`${Y1}T07:00:00.000Z`) + i * 3_600_000), PALETTE[i]!);
    await dayStills(h.store, TODAY, 1); // another day's still is not part of it
    const listed = await h.store.listDay(Y1);
    const days = await h.store.listDays();

    const record = await h.service.build(Y1, 'web', 'req-1');
    const file = videoOf(h, Y1);
    const bytes = (await fsp.stat(file)).size;
    const gifFile = path.join(path.dirname(file), 'timelapse.gif');
    const gifBytes = (await fsp.stat(gifFile)).size;
    assert.deepEqual(record, {
      day: Y1,
      url: link(Y1),
      frames: 4,
      skipped: 0,
      width: 480,
      height: 360,
      bytes,
      frame_ms: 200,
      duration_s: 0.8,
      gif_url: link(Y1, 'gif'),
      gif_bytes: gifBytes,
      gif_frames: 4,
      first_captured_at: '2026-11-22T08:00:00.000+01:00',
      last_captured_at: '2026-11-22T11:00:00.000+01:00',
      last_id: caps[3]!.id,
      created_at: '2026-11-23T12:00:00.000+01:00',
      trigger: 'web',
    });
    assert.deepEqual(h.built, [record]);
    assert.deepEqual(h.failed, []);
    assert.deepEqual(h.service.latest(), record);

    const md = await sharp(file, { animated: true }).metadata();
    assert.equal(md.format, 'webp');
    assert.equal(md.pages, 4);
    assert.deepEqual(md.delay, [200, 200, 200, 200]);
    assert.equal(md.loop, 0);
    assert.equal(md.width, 480);
    assert.equal(md.pageHeight, 360);
    for (let i = 0; i < 4; i++) await assertPage(file, i, PALETTE[i]!);
    // The GIF beside it: the same stills at timelapse.gif_size (320), the same frame time.
    const gif = await sharp(gifFile, { animated: true }).metadata();
    assert.equal(gif.format, 'gif');
    assert.equal(gif.pages, 4);
    assert.deepEqual(gif.delay, [200, 200, 200, 200]);
    assert.equal(gif.loop, 0);
    assert.equal(gif.width, 320);
    assert.equal(gif.pageHeight, 240);
    for (let i = 0; i < 4; i++) await assertPage(gifFile, i, PALETTE[i]!, 'GIF');

    const meta = await readMeta(h, Y1);
    assert.equal(meta.day, Y1);
    assert.equal(meta.frames, 4);
    assert.equal(meta.skipped, 0);
    assert.equal(meta.bytes, bytes);
    assert.equal(meta.frame_ms, 200);
    assert.equal(meta.last_id, caps[3]!.id);
    assert.equal(meta.first_captured_at, '2026-11-22T08:00:00.000+01:00');
    assert.equal(meta.last_captured_at, '2026-11-22T11:00:00.000+01:00');
    assert.equal(meta.trigger, 'web');
    assert.deepEqual(meta.gif, { frames: 4, skipped: 0, left_out: 0, width: 320, height: 240, bytes: gifBytes });

    // Beside the stills, not among them.
    assert.deepEqual(await h.store.listDay(Y1), listed);
    assert.deepEqual(await h.store.listDays(), days);
    assert.deepEqual(await tempFiles(h), []);
    assert.deepEqual(
      h.saves.map((s) => [s.day, s.encodes]),
      [[Y1, 1]],
    );
  });

  test('up to storage.thumb_width it uses the thumbnails, above it the previews (canvas size and pixels tell)', async (t) => {
    // Thumbnail and preview of each still differ in colour, so each page shows which one it came from.
    const thumbs: Rgb[] = [PALETTE[0]!, PALETTE[1]!];
    const previews: Rgb[] = [PALETTE[2]!, PALETTE[3]!];
    const fill = async (h: Harness) => {
      for (let i = 0; i < 2; i++) await still(h.store, new Date(Date.parse(`${Y1}T07:00:00.000Z`) + i * 3_600_000), thumbs[i]!, previews[i]!);
    };

    const atLimit = await setup(t, { MONCAM_TIMELAPSE_SIZE: '480', MONCAM_STORAGE_THUMB_WIDTH: '480' });
    await fill(atLimit);
    const r1 = await atLimit.service.build(Y1, 'cli');
    assert.deepEqual([r1.width, r1.height], [480, 360]);
    for (let i = 0; i < 2; i++) await assertPage(videoOf(atLimit, Y1), i, thumbs[i]!, 'size 480');

    const small = await setup(t, { MONCAM_TIMELAPSE_SIZE: '320', MONCAM_STORAGE_THUMB_WIDTH: '480' });
    await fill(small);
    const r2 = await small.service.build(Y1, 'cli');
    assert.deepEqual([r2.width, r2.height], [320, 240]);
    const md2 = await sharp(videoOf(small, Y1), { animated: true }).metadata();
    assert.deepEqual([md2.width, md2.pageHeight, md2.pages], [320, 240, 2]);
    for (let i = 0; i < 2; i++) await assertPage(videoOf(small, Y1), i, thumbs[i]!, 'size 320');

    const large = await setup(t, { MONCAM_TIMELAPSE_SIZE: '960', MONCAM_STORAGE_THUMB_WIDTH: '480' });
    await fill(large);
    const r3 = await large.service.build(Y1, 'cli');
    assert.deepEqual([r3.width, r3.height], [960, 720]);
    const md3 = await sharp(videoOf(large, Y1), { animated: true }).metadata();
    assert.deepEqual([md3.width, md3.pageHeight, md3.pages], [960, 720, 2]);
    for (let i = 0; i < 2; i++) await assertPage(videoOf(large, Y1), i, previews[i]!, 'size 960');
  });

  test('an unreadable frame is skipped and counted; the rest are built', async (t) => {
    const h = await setup(t);
    const caps = await dayStills(h.store, Y1, 3);
    await fsp.writeFile(caps[1]!.files.thumb, 'not a jpeg');
    const r = await h.service.build(Y1, 'web');
    assert.equal(r.frames, 2);
    assert.equal(r.skipped, 1);
    assert.equal(r.duration_s, 0.4);
    assert.equal((await sharp(videoOf(h, Y1), { animated: true }).metadata()).pages, 2);
    await assertPage(videoOf(h, Y1), 0, PALETTE[0]!);
    await assertPage(videoOf(h, Y1), 1, PALETTE[2]!);
    assert.equal((await readMeta(h, Y1)).skipped, 1);
  });
});

describe('TimelapseService failures', () => {
  test('no stills, bad day, too old, no readable frame: failed event + TimelapseError with its code; nothing left behind', async (t) => {
    const h = await setup(t, { MONCAM_STORAGE_RETENTION_DAYS: '3' });
    await dayStills(h.store, Y3, 2); // cutoff is 2026-11-20: still kept
    await dayStills(h.store, '2026-11-19', 2); // older than retention_days, not pruned yet
    const broken = await dayStills(h.store, Y1, 2);
    for (const c of broken) await fsp.writeFile(c.files.thumb, Buffer.from('garbage, not a jpeg'));
    const treeBefore = await listTree(path.dirname(h.dir));

    const f1 = await assertFails(h, h.service.build(Y2, 'mqtt', 'req-7'), 'no_stills');
    assert.deepEqual({ ...f1, error: undefined }, { day: Y2, trigger: 'mqtt', at: NOW, requestId: 'req-7', error: undefined });
    assert.equal(await exists(path.join(h.dir, Y2)), false, 'no day folder is made for nothing');

    for (const bad of ['2026-02-30', '2026-11-2', '../2026-11-22', '2026-11-22/..', '']) {
      const f = await assertFails(h, h.service.build(bad, 'web'), 'bad_day');
      assert.equal(f.day, bad);
      assert.equal(f.requestId, undefined);
    }

    const f3 = await assertFails(h, h.service.build('2026-11-19', 'web'), 'too_old');
    assert.match(f3.error.message, /retention_days/);

    const f4 = await assertFails(h, h.service.build(Y1, 'cli'), 'no_frames');
    assert.match(f4.error.message, /no usable frames/);

    assert.deepEqual(h.built, []);
    assert.deepEqual(await tempFiles(h), []);
    assert.deepEqual(await listTree(path.dirname(h.dir)), treeBefore, 'not a file added or removed anywhere');
    assert.equal(h.service.latest(), undefined);

    // The kept oldest day can still be built: too_old is about retention, not a mistake of the check.
    const ok = await h.service.build(Y3, 'web');
    assert.equal(ok.frames, 2);
  });
});

describe('TimelapseService atomic replacement', () => {
  test('a rebuild replaces the file whole; a failed rebuild leaves the previous one byte for byte', async (t) => {
    const h = await setup(t);
    const caps = await dayStills(h.store, Y1, 2);
    const first = await h.service.build(Y1, 'web');
    const v1 = await fsp.readFile(videoOf(h, Y1));
    assert.equal(first.frames, 2);

    caps.push(...(await dayStills(h.store, Y1, 1, 60, 2)));
    const listed = await h.store.listDay(Y1);
    const second = await h.service.build(Y1, 'mqtt');
    const v2 = await fsp.readFile(videoOf(h, Y1));
    const m2 = await fsp.readFile(metaOf(h, Y1));
    assert.notDeepEqual(v2, v1);
    assert.equal(second.frames, 3);
    assert.equal(second.last_id, caps[2]!.id);
    assert.equal(second.bytes, v2.length);
    assert.equal(second.trigger, 'mqtt');
    const md = await sharp(videoOf(h, Y1), { animated: true }).metadata();
    assert.equal(md.pages, 3);
    for (let i = 0; i < 3; i++) await assertPage(videoOf(h, Y1), i, PALETTE[i]!);
    assert.equal((await readMeta(h, Y1)).last_id, caps[2]!.id);

    // The encoder fails (every frame unreadable): the previous timelapse is untouched.
    for (const c of caps) await fsp.writeFile(c.files.thumb, 'garbage');
    await assertFails(h, h.service.build(Y1, 'web'), 'no_frames');
    assert.deepEqual(await fsp.readFile(videoOf(h, Y1)), v2);
    assert.deepEqual(await fsp.readFile(metaOf(h, Y1)), m2);
    assert.deepEqual(await tempFiles(h), []);
    assert.deepEqual(await h.store.listDay(Y1), listed);
    assert.deepEqual(h.service.latest(), second, 'a failure does not replace what latest() announces');
  });
});

describe('TimelapseService joining and order', () => {
  test('two requests for the same day share one build; a later request builds again', async (t) => {
    const h = await setup(t);
    await dayStills(h.store, Y1, 6);
    const a = h.service.build(Y1, 'web', 'one');
    const b = h.service.build(Y1, 'mqtt', 'two');
    assert.equal(a, b, 'the same promise');
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra, rb);
    assert.equal(ra.trigger, 'web');
    assert.equal(h.built.length, 1, 'built once');
    assert.deepEqual(
      h.saves.map((s) => s.encodes),
      [1],
      'the encoder ran once',
    );

    const c = h.service.build(Y1, 'cli');
    assert.notEqual(c, a);
    assert.equal((await c).trigger, 'cli');
    assert.equal(h.built.length, 2);
    assert.equal(h.saves.length, 2);
  });

  test('builds of different days run one after another, in the order asked', async (t) => {
    const h = await setup(t);
    await dayStills(h.store, Y2, 12, 30);
    await dayStills(h.store, Y1, 1);
    // The long day first: if they ran side by side, the one-frame day would finish first.
    const long = h.service.build(Y2, 'web');
    const short = h.service.build(Y1, 'web');
    const [rl, rs] = await Promise.all([long, short]);
    assert.deepEqual([rl.frames, rs.frames], [12, 1]);
    assert.deepEqual(
      h.built.map((r) => r.day),
      [Y2, Y1],
    );
    assert.deepEqual(
      h.saves.map((s) => s.day),
      [Y2, Y1],
    );
    assert.ok(h.saves[1]!.start >= h.saves[0]!.end, `the second build started (${h.saves[1]!.start}) after the first ended (${h.saves[0]!.end})`);
    // Failures do not break the chain either.
    const bad = h.service.build('nope', 'web');
    const after = h.service.build(Y1, 'web');
    await assert.rejects(bad);
    assert.equal((await after).frames, 1);
  });
});

describe('TimelapseService schedule and catch-up', () => {
  test('start() catches up: builds a finished day without a timelapse, skips an up-to-date one; latest() is read from disk', async (t) => {
    const h = await setup(t, {}, { catchUpDelayMs: 0 });
    await dayStills(h.store, Y3, 2); // outside the window: not built
    await dayStills(h.store, Y2, 2);
    const y1 = await dayStills(h.store, Y1, 3);
    await dayStills(h.store, TODAY, 2); // today is not finished: not built
    // A timelapse of Y2 built before (say, before a restart): up to date.
    const earlier = await h.service.build(Y2, 'schedule');
    const v2 = await fsp.readFile(videoOf(h, Y2));
    const m2 = await fsp.readFile(metaOf(h, Y2));

    const next = h.restart();
    assert.equal(next.service.latest(), undefined);
    await next.service.start();
    assert.deepEqual(next.service.latest(), earlier, 'the newest timelapse on disk, announced again after a restart');
    await until(() => next.built.length >= 1, 10_000, 'the catch-up build');
    await sleep(300);
    assert.deepEqual(
      next.built.map((r) => [r.day, r.trigger, r.frames, r.last_id]),
      [[Y1, 'startup', 3, y1[2]!.id]],
    );
    assert.deepEqual(next.failed, []);
    assert.deepEqual(await fsp.readFile(videoOf(h, Y2)), v2, 'the up-to-date day was not rebuilt');
    assert.deepEqual(await fsp.readFile(metaOf(h, Y2)), m2);
    assert.equal(await exists(videoOf(h, Y3)), false);
    assert.equal(await exists(videoOf(h, TODAY)), false);
    assert.equal(next.service.latest()?.day, Y1);
    assert.equal(h.saves.length, 2, 'two builds in all: Y2 before the restart, Y1 after');
  });

  test('start() rebuilds a finished day whose timelapse is out of date (a later still, or no description)', async (t) => {
    const h = await setup(t, {}, { catchUpDelayMs: 0 });
    await dayStills(h.store, Y2, 2);
    await h.service.build(Y2, 'web');
    const newer = await dayStills(h.store, Y2, 1, 60, 2); // a still after the build
    await dayStills(h.store, Y1, 2);
    await h.service.build(Y1, 'web');
    await fsp.rm(metaOf(h, Y1)); // the description is gone: the video cannot be trusted to be current
    const before = h.saves.length;

    const next = h.restart();
    await next.service.start();
    await until(() => next.built.length >= 2, 10_000, 'the catch-up builds');
    await sleep(200);
    assert.deepEqual(
      next.built.map((r) => [r.day, r.trigger, r.frames]),
      [
        [Y2, 'startup', 3],
        [Y1, 'startup', 2],
      ],
    );
    assert.equal(next.built[0]!.last_id, newer[0]!.id);
    assert.equal((await readMeta(h, Y2)).last_id, newer[0]!.id);
    assert.equal((await readMeta(h, Y1)).trigger, 'startup');
    assert.equal(h.saves.length, before + 2);
  });

  test('the daily tick builds the finished days (cron every second here)', async (t) => {
    const h = await setup(t, {}, { cron: '* * * * * *', catchUpDelayMs: 600_000 });
    const caps = await dayStills(h.store, Y1, 2);
    await h.service.start();
    await until(() => h.built.length >= 1, 5000, 'a scheduled build');
    assert.equal(h.built[0]!.day, Y1);
    assert.equal(h.built[0]!.trigger, 'schedule');
    assert.equal(h.built[0]!.last_id, caps[1]!.id);
    assert.equal((await readMeta(h, Y1)).trigger, 'schedule');
  });

  test('timelapse.enabled false: nothing is scheduled or caught up, on-demand builds still work', async (t) => {
    const h = await setup(t, { MONCAM_TIMELAPSE_ENABLED: 'false' }, { cron: '* * * * * *', catchUpDelayMs: 0 });
    assert.equal(h.config.timelapse.enabled, false);
    await dayStills(h.store, Y2, 1);
    await h.service.build(Y2, 'web'); // one on disk already
    await dayStills(h.store, Y1, 2);
    await h.service.start();
    assert.equal(h.service.latest()?.day, Y2, 'latest() is still read from disk');
    await sleep(1300); // over a tick of the every-second cron, and past the catch-up delay
    assert.deepEqual(
      h.built.map((r) => r.day),
      [Y2],
    );
    assert.equal(await exists(videoOf(h, Y1)), false);
    const r = await h.service.build(Y1, 'mqtt');
    assert.equal(r.frames, 2);
    assert.equal(h.service.latest(), r);
  });

  test('timelapse.gif false: no GIF is made, an older GIF of the day goes, the record has no gif_url; the ledger follows', async (t) => {
    const h = await setup(t, { MONCAM_TIMELAPSE_GIF: 'false' });
    await dayStills(h.store, Y1, 3);
    const gifFile = path.join(h.dir, Y1, TIMELAPSE_FILE.gif);
    await fsp.writeFile(gifFile, Buffer.alloc(5000)); // made while timelapse.gif was on
    assert.equal(await h.store.usedBytes(), await treeBytes(h.dir), 'the ledger counts the old GIF');
    const r = await h.service.build(Y1, 'web');
    assert.equal(r.frames, 3);
    assert.equal('gif_url' in r, false);
    assert.equal(await exists(gifFile), false, 'an out-of-date GIF is not left to be served');
    assert.equal((await readMeta(h, Y1)).gif, undefined);
    assert.equal(await h.store.usedBytes(), await treeBytes(h.dir), 'the ledger is what is on disk');
  });

  test('latest(): the newest day wins; rebuilding an older day does not replace it; a restart finds it on disk', async (t) => {
    const h = await setup(t);
    await dayStills(h.store, Y2, 1);
    await dayStills(h.store, Y1, 2);
    await dayStills(h.store, TODAY, 1); // today without a timelapse
    await h.service.build(Y2, 'web');
    const newest = await h.service.build(Y1, 'mqtt');
    await h.service.build(Y2, 'cli');
    assert.deepEqual(h.service.latest(), newest);

    const next = h.restart();
    await next.service.start();
    assert.deepEqual(next.service.latest(), newest);
  });
});

describe('TimelapseService stop()', () => {
  test('stop() during a build: it rejects with stopped, the previous timelapse is untouched, no temp file; later builds are refused', async (t) => {
    // Above the thumbnail width: made from the 1280x960 previews, which makes each frame slow enough to stop midway.
    const h = await setup(t, { MONCAM_TIMELAPSE_SIZE: '1280' });
    await dayStills(h.store, Y1, 2, 20);
    const previous = await h.service.build(Y1, 'web');
    const v = await fsp.readFile(videoOf(h, Y1));
    const m = await fsp.readFile(metaOf(h, Y1));
    assert.deepEqual([previous.width, previous.frames], [1280, 2]);
    await dayStills(h.store, Y1, 28, 20, 2);
    await dayStills(h.store, Y2, 1);

    const running = h.service.build(Y1, 'web');
    const queued = h.service.build(Y2, 'mqtt');
    let settled = false;
    void running.catch(() => undefined).finally(() => (settled = true));
    const dayDir = path.join(h.dir, Y1);
    await until(async () => (await fsp.readdir(dayDir)).some((n) => n.startsWith('.timelapse.webp.tmp-')), 10_000, 'the encoder to start writing');
    await h.service.stop();
    assert.equal(settled, true, 'stop() waits for the build to wind down');
    const isStopped = (day: string) => (err: unknown) => {
      assert.ok(err instanceof TimelapseError, String(err));
      assert.deepEqual([err.failure.day, err.failure.error.code], [day, 'stopped'], err.message);
      return true;
    };
    await assert.rejects(running, isStopped(Y1));
    await assert.rejects(queued, isStopped(Y2));
    assert.deepEqual(
      h.failed.map((x) => [x.day, x.error.code]),
      [
        [Y1, 'stopped'],
        [Y2, 'stopped'],
      ],
    );
    assert.deepEqual(
      h.built.map((r) => r.frames),
      [2],
      'the interrupted build announced nothing',
    );

    assert.deepEqual(await fsp.readFile(videoOf(h, Y1)), v, 'the previous timelapse, byte for byte');
    assert.deepEqual(await fsp.readFile(metaOf(h, Y1)), m);
    assert.equal(await exists(videoOf(h, Y2)), false);
    assert.deepEqual(await tempFiles(h), []);
    assert.deepEqual(h.service.latest(), previous);

    await assertFails(h, h.service.build(Y1, 'web'), 'stopped');
    await assertFails(h, h.service.build(TODAY, 'cli'), 'stopped');
    assert.deepEqual(await fsp.readFile(videoOf(h, Y1)), v);
    assert.equal(h.saves.length, 2, 'nothing reached the store after stop()');
  });
});
