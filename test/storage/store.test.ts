import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { nodeFs, type StorageFs } from '../../src/storage/atomic.ts';
import { captureId } from '../../src/storage/layout.ts';
import { StorageError } from '../../src/storage/store.ts';
import type { RecordedMeta } from '../../src/storage/store.ts';
import { expectedFiles, input, listTree, makeStore, recorded, spyFs, tempDir } from './helpers.ts';

const at = (iso: string) => new Date(iso);
const save = (store: ReturnType<typeof makeStore>, iso: string, size = 50_000, meta: Partial<RecordedMeta> = {}) =>
  store.save(input(at(iso), captureId(at(iso)), size, recorded(meta)));

describe('CaptureStore save and read', () => {
  test('save, then listDay, byHour, latest, get, readMeta; originals byte for byte', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'Europe/Berlin' });
    await store.start();
    assert.equal(store.latest(), undefined);

    // 23:30 UTC is already the next day in Berlin.
    const a = await save(store, '2026-11-23T23:30:00.000Z', 300_000, { trigger: 'schedule', exposure: 'night' });
    const b = await save(store, '2026-11-24T08:15:42.250Z', 120_000, { trigger: 'web' });
    const c = await save(store, '2026-11-24T08:45:00.001Z', 80_000, { trigger: 'mqtt', id: 'caller cannot override' } as Partial<RecordedMeta>);

    assert.equal(a.id, '20261123T233000.000Z');
    assert.equal(a.day, '2026-11-24');
    assert.equal(a.hour, 0);
    assert.equal(a.capturedAtIso, '2026-11-24T00:30:00.000+01:00');
    assert.equal(a.bytes, 300_000);
    assert.equal(a.files.original, path.join(dir, '2026-11-24', '20261123T233000.000Z.jpg'));
    assert.equal(a.files.thumb, path.join(dir, '2026-11-24', '20261123T233000.000Z.thumb.jpg'));
    assert.equal(a.files.preview, path.join(dir, '2026-11-24', '20261123T233000.000Z.preview.jpg'));
    assert.equal(a.files.meta, path.join(dir, '2026-11-24', '20261123T233000.000Z.json'));

    assert.deepEqual(store.latest(), c);
    const day = await store.listDay('2026-11-24');
    assert.deepEqual(
      day.map((x) => x.id),
      [a.id, b.id, c.id],
    );
    assert.deepEqual(day, [a, b, c]);

    const hours = await store.byHour('2026-11-24');
    assert.equal(hours.length, 24);
    assert.deepEqual(
      hours[0]!.map((x) => x.id),
      [a.id],
    );
    assert.deepEqual(
      hours[9]!.map((x) => x.id),
      [b.id, c.id],
    );
    assert.equal(hours.flat().length, 3);

    assert.deepEqual(await store.get(b.id), b);
    assert.equal(await store.get('20261124T081542.251Z'), undefined);

    for (const cap of [a, b, c]) {
      const want = expectedFiles(cap.id, cap.bytes);
      assert.ok((await fsp.readFile(cap.files.original)).equals(want.original), 'original identical');
      assert.ok((await fsp.readFile(cap.files.thumb)).equals(want.thumb));
      assert.ok((await fsp.readFile(cap.files.preview)).equals(want.preview));
    }

    const meta = await store.readMeta(c.id);
    assert.equal(meta?.trigger, 'mqtt');
    assert.equal(meta?.id, c.id, 'store fields win over caller fields');
    assert.equal(meta?.capturedAt, '2026-11-24T08:45:00.001Z');
    assert.equal(meta?.capturedAtLocal, '2026-11-24T09:45:00.001+01:00');
    assert.equal(meta?.timeZone, 'Europe/Berlin');
    assert.equal(meta?.day, '2026-11-24');
    assert.equal(meta?.bytes, 80_000);
    assert.equal(await store.readMeta('nope'), undefined);

    assert.deepEqual(await store.listDays(), ['2026-11-24']);
    assert.deepEqual(await store.listDay('2026-11-23'), []);
    assert.deepEqual(await store.listDay('1999-01-01'), []);
  });

  test('a new instance (restart) finds the latest capture', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const first = makeStore(dir);
    await first.start();
    await save(first, '2026-11-20T10:00:00.000Z');
    const newest = await save(first, '2026-11-21T09:00:00.000Z');
    await save(first, '2026-11-21T08:00:00.000Z'); // saved later, but older

    const second = makeStore(dir);
    await second.start();
    assert.deepEqual(second.latest(), newest);
  });

  test('invalid day strings throw; junk folders are not days', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir);
    await store.start();
    await save(store, '2026-11-20T10:00:00.000Z');
    await fsp.mkdir(path.join(dir, 'lost+found'));
    await fsp.mkdir(path.join(dir, '2026-13-01'));
    for (const bad of ['../etc', '2026-11-20/..', '2026-1-20', '', '2026-02-30']) {
      await assert.rejects(store.listDay(bad), { name: 'RangeError', message: /invalid day/ });
    }
    assert.deepEqual(await store.listDays(), ['2026-11-20']);
  });

  test('get rejects traversal and garbage, and finds captures saved under another zone', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    // UTC+14: 11:00 UTC is tomorrow 01:00 there.
    const east = makeStore(dir, { timeZone: 'Pacific/Kiritimati' });
    await east.start();
    const cap = await save(east, '2026-11-23T11:00:00.000Z');
    assert.equal(cap.day, '2026-11-24');
    for (const bad of ['../../etc/passwd', `../${cap.id}`, `${cap.id}/..`, `2026-11-24/${cap.id}`, '', `${cap.id}.jpg`]) {
      assert.equal(await east.get(bad), undefined, bad);
    }
    // Same data, zone now UTC-12 (the id's local day there is 2026-11-22): found two days over.
    const west = makeStore(dir, { timeZone: 'Etc/GMT+12' });
    await west.start();
    const found = await west.get(cap.id);
    assert.equal(found?.day, '2026-11-24');
    assert.equal(found?.capturedAtIso, '2026-11-22T23:00:00.000-12:00');
  });

  test('two captures in the same millisecond get distinct ids', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir);
    await store.start();
    const when = at('2026-11-23T12:00:00.000Z');
    const results = await Promise.all([0, 1, 2].map(() => store.save(input(when, 'same', 10_000))));
    const ids = results.map((r) => r.id).sort();
    assert.deepEqual(ids, ['20261123T120000.000Z', '20261123T120000.001Z', '20261123T120000.002Z']);
    const again = await store.save(input(when, 'same', 10_000));
    assert.equal(again.id, '20261123T120000.003Z');
    assert.equal(again.capturedAt.toISOString(), '2026-11-23T12:00:00.003Z');
    assert.equal((await store.listDay('2026-11-23')).length, 4);
  });
});

describe('CaptureStore reads only what it needs', () => {
  test('listing a day reads that one folder and nothing else', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const spy = spyFs();
    const store = makeStore(dir, { fs: spy.fs });
    await store.start();
    for (const d of ['20', '21', '22', '23']) {
      await save(store, `2026-11-${d}T10:00:00.000Z`, 5000);
      await save(store, `2026-11-${d}T11:00:00.000Z`, 5000);
    }
    spy.reset();
    const list = await store.listDay('2026-11-21');
    assert.equal(list.length, 2);
    const day = path.join(dir, '2026-11-21');
    assert.deepEqual(spy.readdirs, [day]);
    assert.ok(spy.stats.length > 0);
    for (const p of spy.stats) assert.equal(path.dirname(p), day, p);

    spy.reset();
    await store.byHour('2026-11-22');
    assert.deepEqual(spy.readdirs, [path.join(dir, '2026-11-22')]);

    spy.reset();
    assert.ok(await store.get(list[0]!.id));
    assert.deepEqual(spy.readdirs, [], 'get needs no directory listing');
    assert.deepEqual(spy.stats, [list[0]!.files.original]);
  });

  test('start() reads the newest day folders only, not every day', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const writer = makeStore(dir);
    await writer.start();
    for (let d = 1; d <= 20; d++) await save(writer, `2026-10-${String(d).padStart(2, '0')}T10:00:00.000Z`, 1000);
    const spy = spyFs();
    const store = makeStore(dir, { fs: spy.fs });
    await store.start();
    assert.equal(store.latest()?.id, '20261020T100000.000Z');
    const dayReads = spy.readdirs.filter((p) => p !== dir && p !== path.join(dir, 'now')); // now/: the one visit still
    assert.ok(dayReads.length <= 8, `read ${dayReads.length} day folders`);
    assert.ok(spy.stats.length <= 2, `stat ${spy.stats.length} files`);
  });
});

describe('CaptureStore crash leftovers', () => {
  test('temp files and orphans are never listed and are removed by start()', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir);
    await store.start();
    const good = await save(store, '2026-11-23T10:00:00.000Z', 4000);
    const dayDir = path.join(dir, '2026-11-23');
    const orphan = '20261123T110000.000Z';
    const junk = [
      `.${orphan}.jpg.tmp-0a1b2c3d4e5f`, // original cut short
      `.${orphan}.json.tmp-abcdef`,
      `${orphan}.thumb.jpg`, // derived files renamed, original never was
      `${orphan}.preview.jpg`,
      `${orphan}.json`,
    ];
    for (const name of junk) await fsp.writeFile(path.join(dayDir, name), 'partial');
    await fsp.writeFile(path.join(dayDir, 'README.txt'), 'not ours'); // strangers are left alone

    assert.deepEqual(
      (await store.listDay('2026-11-23')).map((c) => c.id),
      [good.id],
    );
    assert.equal(await store.get(orphan), undefined);

    const restarted = makeStore(dir);
    await restarted.start();
    assert.deepEqual(await listTree(dayDir), [`${good.id}.jpg`, `${good.id}.json`, `${good.id}.preview.jpg`, `${good.id}.thumb.jpg`, 'README.txt']);
    assert.equal(restarted.latest()?.id, good.id);
  });

  test('a newest day holding only orphans does not hide the latest capture', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir);
    await store.start();
    const good = await save(store, '2026-11-22T10:00:00.000Z', 4000);
    await fsp.mkdir(path.join(dir, '2026-11-23'));
    await fsp.writeFile(path.join(dir, '2026-11-23', '20261123T010000.000Z.thumb.jpg'), 'x');
    const restarted = makeStore(dir);
    await restarted.start();
    assert.equal(restarted.latest()?.id, good.id);
    assert.deepEqual(await listTree(path.join(dir, '2026-11-23')), []);
  });
});

/** Wraps open() so writes to matching temp files fail after writing half their bytes. */
function failingFs(match: (p: string) => boolean, code: string): StorageFs {
  return {
    ...nodeFs,
    open: async (p, flags) => {
      const handle = await nodeFs.open(p, flags);
      if (flags !== 'wx' || !match(p)) return handle;
      return {
        writeFile: async (data) => {
          await handle.writeFile(data.subarray(0, data.length >> 1));
          throw Object.assign(new Error(`${code}: simulated failure, write`), { code, errno: -28, syscall: 'write' });
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
    },
  };
}

describe('CaptureStore errors', () => {
  test('ENOSPC: StorageError disk_full naming the folder; temp files gone; earlier stills intact', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    let full = false;
    const store = makeStore(dir, { fs: failingFs((p) => full && /\.jpg\.tmp-/.test(p) && !p.includes('thumb') && !p.includes('preview'), 'ENOSPC') });
    await store.start();
    const before = await save(store, '2026-11-23T10:00:00.000Z', 200_000);
    const treeBefore = await listTree(dir);

    full = true;
    const err = await save(store, '2026-11-23T11:00:00.000Z', 200_000).then(
      () => assert.fail('save should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.code, 'disk_full');
    assert.equal(err.errno, 'ENOSPC');
    const dayDir = path.join(dir, '2026-11-23');
    assert.equal(err.message, `disk full: cannot write still to ${dayDir} (no space left on device)`);
    assert.equal(err.path, dayDir);

    assert.deepEqual(await listTree(dir), treeBefore, 'no temp or partial files left behind');
    assert.deepEqual(store.latest(), before);
    assert.deepEqual(
      (await store.listDay('2026-11-23')).map((c) => c.id),
      [before.id],
    );
    assert.ok((await fsp.readFile(before.files.original)).equals(expectedFiles(before.id, 200_000).original));

    full = false; // space freed: saving works again
    await save(store, '2026-11-23T12:00:00.000Z', 1000);
    assert.equal((await store.listDay('2026-11-23')).length, 2);
  });

  test('EDQUOT is disk_full too; other errors are io with the path', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const quota = makeStore(dir, { fs: failingFs((p) => p.includes('.json.tmp-'), 'EDQUOT') });
    await quota.start();
    await assert.rejects(save(quota, '2026-11-23T10:00:00.000Z'), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, 'disk_full');
      assert.match(e.message, /\(disk quota exceeded\)$/);
      return true;
    });

    const failRename: StorageFs = {
      ...nodeFs,
      rename: async (a, b) => {
        if (b.endsWith('.preview.jpg')) throw Object.assign(new Error(`EIO: i/o error, rename '${a}'`), { code: 'EIO' });
        return nodeFs.rename(a, b);
      },
    };
    const broken = makeStore(dir, { fs: failRename });
    await broken.start();
    await assert.rejects(save(broken, '2026-11-23T11:00:00.000Z'), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, 'io');
      assert.equal(e.errno, 'EIO');
      assert.match(e.message, new RegExp(`^cannot write still to ${path.join(dir, '2026-11-23').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EIO`));
      return true;
    });
    assert.deepEqual(await listTree(dir), [], 'temps and already-renamed derived files are removed');
  });
});
