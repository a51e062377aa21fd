// A day's timelapse files (timelapse/files.ts): save()/get(), and how size accounting, max_bytes,
// min_free, age retention and the start sweep treat a day's timelapse.webp + timelapse.json.
// Real parts throughout: real stills (sharp JPEGs) saved with store.save(), the real WebP encoder.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { nodeFs, type StorageFs } from '../../src/storage/atomic.ts';
import { TIMELAPSE_FILE } from '../../src/storage/layout.ts';
import { StorageError, type CaptureStore, type Still } from '../../src/storage/store.ts';
import { TimelapseFiles } from '../../src/timelapse/files.ts';
import { encodeTimelapse } from '../../src/timelapse/webp.ts';
import { PALETTE, listTree, makeStore as makeCaptureStore, recorded, solidJpeg, tempDir, treeBytes, type Rgb } from '../storage/helpers.ts';

const timelapseFiles = new WeakMap<CaptureStore, TimelapseFiles>();

/** A store with its timelapse files beside it, sharing its lock and size ledger, as app.ts builds them. */
function makeStore(dir: string, opts: Parameters<typeof makeCaptureStore>[1] = {}): CaptureStore {
  const store = makeCaptureStore(dir, opts);
  timelapseFiles.set(store, new TimelapseFiles({ context: store.context, retentionDays: opts.retentionDays ?? 0 }));
  return store;
}

const tl = (store: CaptureStore): TimelapseFiles => timelapseFiles.get(store)!;

/** One still of a solid colour: 640x480 original, 480x360 thumbnail, 1280x960 preview. */
async function still(store: CaptureStore, iso: string, colour: Rgb): Promise<Still> {
  const [original, thumb, preview] = await Promise.all([solidJpeg(640, 480, colour), solidJpeg(480, 360, colour), solidJpeg(1280, 960, colour)]);
  return store.save({ capturedAt: new Date(iso), original, thumb, preview, meta: recorded() });
}

/** Stills at hourly steps from `firstIso`, colours from the palette. */
async function stills(store: CaptureStore, firstIso: string, n: number): Promise<Still[]> {
  const out: Still[] = [];
  for (let i = 0; i < n; i++) out.push(await still(store, new Date(Date.parse(firstIso) + i * 3_600_000).toISOString(), PALETTE[i % PALETTE.length]!));
  return out;
}

/** Builds the day's timelapse from its thumbnails with the real encoder, as the service does. */
async function buildDay(store: CaptureStore, day: string) {
  const list = await store.listDay(day);
  return tl(store).save(
    day,
    (temp) =>
      encodeTimelapse(
        list.map((c) => c.files.thumb),
        temp,
        { size: 480, frameMs: 250, quality: 60 },
      ),
    (result, bytes) => ({ frames: result.frames, width: result.width, last_id: list.at(-1)!.id, encoderBytes: result.bytes, statBytes: bytes }),
  );
}

const tempFiles = async (dir: string) => (await listTree(dir)).filter((f) => /\.tmp-/.test(path.basename(f)));
const exists = (file: string) =>
  fsp.stat(file).then(
    () => true,
    () => false,
  );
const captureBytes = async (c: Still) => {
  let sum = 0;
  for (const f of Object.values(c.files)) sum += (await fsp.stat(f)).size;
  return sum;
};
const timelapseBytes = async (dir: string, day: string) =>
  (await fsp.stat(path.join(dir, day, TIMELAPSE_FILE.video))).size + (await fsp.stat(path.join(dir, day, TIMELAPSE_FILE.meta))).size;

describe('CaptureStore timelapse files', () => {
  test('save() stores the video and its description; get() reads them; stills listing unchanged', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'UTC' });
    await store.start();
    const day = '2026-11-22';
    const caps = await stills(store, '2026-11-22T08:00:00.000Z', 3);
    const listed = await store.listDay(day);
    const days = await store.listDays();
    assert.equal(await tl(store).get(day), undefined, 'none before the first build');

    const saved = await buildDay(store, day);
    const video = path.join(dir, day, TIMELAPSE_FILE.video);
    const metaFile = path.join(dir, day, TIMELAPSE_FILE.meta);
    assert.equal(saved.file, video);
    const onDisk = await fsp.readFile(video);
    assert.equal(saved.bytes, onDisk.length);
    assert.equal(saved.result.bytes, onDisk.length, 'the encoder wrote the whole file to the temp path that was renamed');
    assert.equal((await sharp(video, { animated: true }).metadata()).pages, 3);
    const meta = JSON.parse(await fsp.readFile(metaFile, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(meta, { frames: 3, width: 480, last_id: caps[2]!.id, encoderBytes: onDisk.length, statBytes: onDisk.length, day, bytes: onDisk.length });
    assert.deepEqual(saved.meta, meta);

    const found = await tl(store).get(day);
    assert.deepEqual(found, { day, file: video, bytes: onDisk.length, meta });
    // The timelapse files are no stills: listings, get() and latest() do not change.
    assert.deepEqual(await store.listDay(day), listed);
    assert.deepEqual(await store.listDays(), days);
    assert.equal(store.latest()?.id, caps[2]!.id);
    assert.deepEqual(
      (await store.byHour(day)).flat().map((c) => c.id),
      caps.map((c) => c.id),
    );
    assert.deepEqual(await tempFiles(dir), []);

    // Not there / not a day.
    assert.equal(await tl(store).get('2026-11-21'), undefined);
    assert.equal(await tl(store).get('../2026-11-22'), undefined);
    assert.equal(await tl(store).get('2026-02-30'), undefined);

    // A missing or broken description does not hide the video, and carries no stale last_id.
    await fsp.writeFile(metaFile, '{ broken');
    assert.deepEqual(await tl(store).get(day), { day, file: video, bytes: onDisk.length, meta: { day, bytes: onDisk.length } });
    await fsp.rm(metaFile);
    assert.deepEqual((await tl(store).get(day))?.meta, { day, bytes: onDisk.length });
    // An empty video (power cut on storage that ignores flushes) is none.
    await fsp.writeFile(video, '');
    assert.equal(await tl(store).get(day), undefined);
  });

  test('invalid and too-old days are refused before anything is written', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'UTC', retentionDays: 3, now: () => new Date('2026-11-23T12:00:00Z') });
    await store.start();
    await stills(store, '2026-11-19T08:00:00.000Z', 1); // older than the cutoff 2026-11-20, not pruned yet
    await stills(store, '2026-11-20T08:00:00.000Z', 1); // the oldest day kept
    let calls = 0;
    const build = async (temp: string) => {
      calls++;
      await fsp.writeFile(temp, 'x');
      return 1;
    };
    await assert.rejects(
      tl(store).save('2026-13-01', build, () => ({})),
      RangeError,
    );
    await assert.rejects(
      tl(store).save('../../x', build, () => ({})),
      RangeError,
    );
    await assert.rejects(
      tl(store).save('2026-11-19', build, () => ({})),
      (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.match(err.message, /retention_days/);
        return true;
      },
    );
    assert.equal(calls, 0, 'the builder never ran');
    assert.equal(await exists(path.join(dir, '2026-11-19', TIMELAPSE_FILE.video)), false);
    // The cutoff day itself is still kept, so it can be built.
    await tl(store).save('2026-11-20', build, () => ({}));
    assert.equal(calls, 1);
    assert.equal((await tl(store).get('2026-11-20'))?.bytes, 1);
  });

  test('a failed build or commit leaves the previous timelapse byte for byte and no temp files', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    let failRename = false;
    const fs: StorageFs = {
      ...nodeFs,
      rename: async (a, b) => {
        if (failRename && b.endsWith(TIMELAPSE_FILE.video))
          throw Object.assign(new Error('EIO: simulated, rename'), { code: 'EIO', errno: -5, syscall: 'rename' });
        return nodeFs.rename(a, b);
      },
    };
    const store = makeStore(dir, { timeZone: 'UTC', fs });
    await store.start();
    const day = '2026-11-22';
    await stills(store, '2026-11-22T08:00:00.000Z', 2);
    await buildDay(store, day);
    const video = path.join(dir, day, TIMELAPSE_FILE.video);
    const metaFile = path.join(dir, day, TIMELAPSE_FILE.meta);
    const before = { video: await fsp.readFile(video), meta: await fsp.readFile(metaFile) };
    const used = await store.usedBytes();
    await stills(store, '2026-11-22T12:00:00.000Z', 1);
    const usedWithStill = await store.usedBytes();

    // The builder dies halfway through writing (an encoder error, a full disk).
    let sawTemp = '';
    await assert.rejects(
      tl(store).save(
        day,
        async (temp) => {
          sawTemp = temp;
          await fsp.writeFile(temp, before.video.subarray(0, 100));
          throw new Error('encoder exploded');
        },
        () => ({}),
      ),
      /encoder exploded/,
    );
    assert.match(path.basename(sawTemp), /^\.timelapse\.webp\.tmp-[0-9a-f]+$/);
    assert.equal(path.dirname(sawTemp), path.join(dir, day), 'written beside its final place (same file system: rename is atomic)');
    assert.deepEqual(await fsp.readFile(video), before.video);
    assert.deepEqual(await fsp.readFile(metaFile), before.meta);
    assert.deepEqual(await tempFiles(dir), []);

    // The description cannot be made: nothing changes either.
    await assert.rejects(
      tl(store).save(
        day,
        (temp) => fsp.writeFile(temp, 'new video'),
        () => {
          throw new Error('no description');
        },
      ),
      /no description/,
    );
    assert.deepEqual(await fsp.readFile(video), before.video);
    assert.deepEqual(await tempFiles(dir), []);

    // The rename into place fails: a StorageError, the old files stay, temp files are removed.
    failRename = true;
    await assert.rejects(buildDay(store, day), (err: unknown) => err instanceof StorageError && err.code === 'io');
    failRename = false;
    assert.deepEqual(await fsp.readFile(video), before.video);
    assert.deepEqual(await fsp.readFile(metaFile), before.meta);
    assert.deepEqual(await tempFiles(dir), []);
    assert.equal(await store.usedBytes(), usedWithStill, 'failed builds do not change the accounting');
    assert.ok(usedWithStill > used);

    // The second rename (the description) fails after the video is in place: the build is reported as
    // failed, nothing temporary is left, and the size totals still match the disk.
    let failMeta = true;
    const store2 = makeStore(dir, {
      timeZone: 'UTC',
      fs: {
        ...nodeFs,
        rename: async (a, b) => {
          if (failMeta && b.endsWith(TIMELAPSE_FILE.meta))
            throw Object.assign(new Error('EIO: simulated, rename'), { code: 'EIO', errno: -5, syscall: 'rename' });
          return nodeFs.rename(a, b);
        },
      },
    });
    await store2.start();
    assert.equal(await store2.usedBytes(), await treeBytes(dir));
    await assert.rejects(buildDay(store2, day), (err: unknown) => err instanceof StorageError && err.code === 'io');
    failMeta = false;
    assert.deepEqual(await tempFiles(dir), []);
    assert.deepEqual(await fsp.readFile(metaFile), before.meta, 'the description is the old one');
    assert.equal(await store2.usedBytes(), await treeBytes(dir), 'totals follow what is on disk');
    await fsp.writeFile(video, before.video); // back to the state the rest of this test expects

    // A rebuild replaces both files whole.
    const rebuilt = await buildDay(store, day);
    const after = await fsp.readFile(video);
    assert.notDeepEqual(after, before.video);
    assert.equal((await sharp(video, { animated: true }).metadata()).pages, 3);
    assert.equal(rebuilt.bytes, after.length);
    assert.equal((JSON.parse(await fsp.readFile(metaFile, 'utf8')) as { frames: number }).frames, 3);
    assert.deepEqual(await tempFiles(dir), []);
  });

  test('the start sweep keeps timelapse.webp/json and removes a crashed build’s temp files', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'UTC' });
    await store.start();
    const day = '2026-11-22';
    const caps = await stills(store, '2026-11-22T08:00:00.000Z', 2);
    await buildDay(store, day);
    const dayDir = path.join(dir, day);
    const video = await fsp.readFile(path.join(dayDir, TIMELAPSE_FILE.video));
    const meta = await fsp.readFile(path.join(dayDir, TIMELAPSE_FILE.meta));
    await fsp.writeFile(path.join(dayDir, '.timelapse.webp.tmp-0123456789ab'), video.subarray(0, 500)); // a build cut short
    await fsp.writeFile(path.join(dayDir, '.timelapse.json.tmp-ba9876543210'), '{"frames":');

    const restarted = makeStore(dir, { timeZone: 'UTC' });
    await restarted.start();
    assert.deepEqual(
      await listTree(dayDir),
      [...caps.flatMap((c) => ['.jpg', '.json', '.preview.jpg', '.thumb.jpg'].map((s) => c.id + s)), TIMELAPSE_FILE.meta, TIMELAPSE_FILE.video].sort(),
    );
    assert.deepEqual(await fsp.readFile(path.join(dayDir, TIMELAPSE_FILE.video)), video);
    assert.deepEqual(await fsp.readFile(path.join(dayDir, TIMELAPSE_FILE.meta)), meta);
    assert.equal((await tl(restarted).get(day))?.bytes, video.length);
    assert.equal(restarted.latest()?.id, caps[1]!.id);
  });
});

describe('CaptureStore timelapse and retention', () => {
  test('usedBytes counts the timelapse files, also across a rebuild and after a restart', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'UTC' });
    await store.start();
    const day = '2026-11-22';
    await stills(store, '2026-11-22T08:00:00.000Z', 2);
    const before = await store.usedBytes(); // sizes loaded: from now on tracked
    assert.equal(before, await treeBytes(dir));

    await buildDay(store, day);
    const first = await timelapseBytes(dir, day);
    assert.equal(await store.usedBytes(), before + first);
    assert.equal(await store.usedBytes(), await treeBytes(dir));

    await stills(store, '2026-11-22T10:00:00.000Z', 2);
    const withStills = await store.usedBytes();
    await buildDay(store, day); // 4 frames instead of 2: the old files' bytes are replaced, not added
    const second = await timelapseBytes(dir, day);
    assert.notEqual(second, first);
    assert.equal(await store.usedBytes(), withStills - first + second);
    assert.equal(await store.usedBytes(), await treeBytes(dir));

    const restarted = makeStore(dir, { timeZone: 'UTC' });
    await restarted.start();
    assert.equal(await restarted.usedBytes(), await treeBytes(dir), 'measured from scratch, the timelapse is included');
  });

  test('max_bytes: a day keeps its timelapse while it has stills; once they have gone the timelapse and the folder go too', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const writer = makeStore(dir, { timeZone: 'UTC' });
    await writer.start();
    const a = await stills(writer, '2026-11-20T08:00:00.000Z', 2);
    const b = await stills(writer, '2026-11-21T08:00:00.000Z', 2);
    await buildDay(writer, '2026-11-20');
    await buildDay(writer, '2026-11-21');
    const total = await treeBytes(dir);
    const dayA = await treeBytes(path.join(dir, '2026-11-20'));
    const a0 = await captureBytes(a[0]!);
    const a1 = await captureBytes(a[1]!);
    assert.equal(dayA, a0 + a1 + (await timelapseBytes(dir, '2026-11-20')));

    // Removing the oldest still is enough: the day's other still and its timelapse stay.
    const partial = makeStore(dir, { timeZone: 'UTC', maxBytes: total - a0 });
    await partial.start();
    const r1 = await partial.prune();
    assert.deepEqual(r1, { removedDays: [], removedIds: [a[0]!.id], freedBytes: a0 });
    assert.equal(await exists(path.join(dir, '2026-11-20', TIMELAPSE_FILE.video)), true);
    assert.equal(await exists(path.join(dir, '2026-11-20', TIMELAPSE_FILE.meta)), true);
    assert.equal(await partial.usedBytes(), await treeBytes(dir));

    // One byte less than day A's stills: its timelapse goes after them, then the folder.
    const full = makeStore(dir, { timeZone: 'UTC', maxBytes: total - a0 - a1 - 1 });
    await full.start();
    const r2 = await full.prune();
    assert.deepEqual(r2.removedIds, [a[1]!.id]);
    assert.deepEqual(r2.removedDays, ['2026-11-20']);
    assert.equal(r2.freedBytes, dayA - a0);
    assert.equal(await exists(path.join(dir, '2026-11-20')), false, 'no folder left behind for its timelapse');
    assert.deepEqual(await full.listDays(), ['2026-11-21']);
    assert.equal(await full.usedBytes(), await treeBytes(dir));
    assert.equal(await full.usedBytes(), total - dayA);
    // The next day is untouched, with its timelapse.
    assert.deepEqual(
      (await full.listDay('2026-11-21')).map((c) => c.id),
      b.map((c) => c.id),
    );
    assert.equal((await tl(full).get('2026-11-21'))?.meta.last_id, b[1]!.id);
  });

  test('max_bytes with the sizes already loaded: a build then a prune keeps the totals exact', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const writer = makeStore(dir, { timeZone: 'UTC' });
    await writer.start();
    await stills(writer, '2026-11-20T08:00:00.000Z', 2);
    const b = await stills(writer, '2026-11-21T08:00:00.000Z', 1);
    const stillsOnly = await treeBytes(dir);
    // Limited from the start: the build itself must be counted for the prune to see it.
    const store = makeStore(dir, { timeZone: 'UTC', maxBytes: stillsOnly });
    await store.start();
    assert.equal(await store.usedBytes(), stillsOnly);
    assert.deepEqual(await store.prune(), { removedDays: [], removedIds: [], freedBytes: 0 });
    await buildDay(store, '2026-11-20');
    const tl = await timelapseBytes(dir, '2026-11-20');
    assert.equal(await store.usedBytes(), stillsOnly + tl);
    const r = await store.prune(); // over by the timelapse: the oldest still goes
    assert.equal(r.removedIds.length, 1);
    assert.ok(r.freedBytes >= tl);
    assert.equal(await store.usedBytes(), await treeBytes(dir));
    assert.ok((await store.usedBytes()) <= stillsOnly);
    assert.equal(store.latest()?.id, b[0]!.id);
  });

  test('min_free: removing a day’s timelapse counts as space freed (no extra still removed)', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const writer = makeStore(dir, { timeZone: 'UTC' });
    await writer.start();
    await stills(writer, '2026-11-20T08:00:00.000Z', 2);
    const b = await stills(writer, '2026-11-21T08:00:00.000Z', 2);
    await buildDay(writer, '2026-11-20');
    await buildDay(writer, '2026-11-21');
    const dayA = await treeBytes(path.join(dir, '2026-11-20'));
    const tlB = await fsp.readFile(path.join(dir, '2026-11-21', TIMELAPSE_FILE.video));

    // statfs in 1-byte blocks, so what the store counts as freed is exact. The next save (its first: the
    // estimate is the original + 1/8) must free exactly day A: its two stills and its timelapse.
    const original = await solidJpeg(640, 480, [10, 10, 10]);
    const minFree = 50_000_000;
    const want = original.length + Math.ceil(original.length / 8) + 4;
    const free = minFree + want - dayA;
    const fs: StorageFs = { ...nodeFs, statfs: async () => ({ bavail: free, bsize: 1 }) };
    const store = makeStore(dir, { timeZone: 'UTC', minFree, fs });
    await store.start();
    await store.save({
      capturedAt: new Date('2026-11-22T08:00:00.000Z'),
      original,
      thumb: solidJpeg(480, 360, [10, 10, 10]),
      preview: solidJpeg(1280, 960, [10, 10, 10]),
      meta: recorded(),
    });

    assert.deepEqual(await store.listDays(), ['2026-11-21', '2026-11-22'], 'day A went whole');
    assert.deepEqual(
      (await store.listDay('2026-11-21')).map((c) => c.id),
      b.map((c) => c.id),
      'no still of the next day went',
    );
    assert.deepEqual(await fsp.readFile(path.join(dir, '2026-11-21', TIMELAPSE_FILE.video)), tlB, 'nor its timelapse');
  });

  test('age retention removes a day with its timelapse; a day being built is not removed under the build', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    let now = new Date('2026-11-23T12:00:00Z');
    const store = makeStore(dir, { timeZone: 'UTC', retentionDays: 2, now: () => now });
    await store.start();
    await stills(store, '2026-11-21T08:00:00.000Z', 2);
    await stills(store, '2026-11-22T08:00:00.000Z', 1);
    await buildDay(store, '2026-11-21');
    await buildDay(store, '2026-11-22');
    assert.deepEqual(await store.prune(), { removedDays: [], removedIds: [], freedBytes: 0 });
    const used = await store.usedBytes();

    // Midnight passes while 2026-11-22's timelapse is being built: that day is kept until the build is done.
    let release!: () => void;
    let started!: () => void;
    const building = new Promise<void>((r) => (started = r));
    const gate = new Promise<void>((r) => (release = r));
    const list = await store.listDay('2026-11-22');
    const save = tl(store).save(
      '2026-11-22',
      async (temp) => {
        started();
        await gate;
        return encodeTimelapse(
          list.map((c) => c.files.thumb),
          temp,
          { size: 480, frameMs: 100, quality: 60 },
        );
      },
      () => ({ rebuilt: true }),
    );
    await building;
    now = new Date('2026-11-25T12:00:00Z'); // cutoff 2026-11-23: both days are due
    const day21 = await treeBytes(path.join(dir, '2026-11-21'));
    const r1 = await store.prune();
    assert.deepEqual(r1.removedDays, ['2026-11-21']);
    assert.equal(r1.freedBytes, day21, 'the timelapse bytes are part of what was freed');
    assert.equal(await exists(path.join(dir, '2026-11-21')), false);
    assert.equal(await exists(path.join(dir, '2026-11-22')), true, 'the day being built stays');
    release();
    await save;
    assert.equal((await tl(store).get('2026-11-22'))?.meta.rebuilt, true);
    assert.equal(await store.usedBytes(), await treeBytes(dir));
    assert.ok((await store.usedBytes()) < used);

    const day22 = await treeBytes(path.join(dir, '2026-11-22'));
    const r2 = await store.prune();
    assert.deepEqual(r2.removedDays, ['2026-11-22']);
    assert.equal(r2.freedBytes, day22);
    assert.deepEqual(await listTree(dir), []);
    assert.equal(await store.usedBytes(), 0);
  });
});
