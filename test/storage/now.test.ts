import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { captureId } from '../../src/storage/layout.ts';
import type { RecordedMeta } from '../../src/storage/store.ts';
import { expectedFiles, input, makeStore, recorded, tempDir } from './helpers.ts';

const at = (iso: string) => new Date(iso);
type Store = ReturnType<typeof makeStore>;
const save = (store: Store, iso: string, meta: Partial<RecordedMeta> = {}) => store.save(input(at(iso), captureId(at(iso)), 40_000, recorded(meta)));
const visit = (store: Store, iso: string) => store.save({ ...input(at(iso), captureId(at(iso)), 30_000, recorded({ trigger: 'visit' })), transient: true });
const exists = (file: string) =>
  fsp.stat(file).then(
    () => true,
    () => false,
  );

describe('the "now" still (a visit still filed in no day)', () => {
  test('is the latest and readable by id, but in no day listing; the next visit or still replaces it', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir);
    await store.start();
    const a = await save(store, '2026-11-24T08:00:00.000Z');
    const v1 = await visit(store, '2026-11-24T08:05:00.000Z');
    assert.equal(v1.transient, true);
    assert.equal(v1.day, '2026-11-24');
    assert.equal(v1.hour, 8);
    assert.equal(v1.files.original, path.join(dir, 'now', `${v1.id}.jpg`));
    assert.deepEqual(store.latest(), v1);
    assert.deepEqual(
      (await store.listDay('2026-11-24')).map((s) => s.id),
      [a.id],
    );
    assert.deepEqual(await store.listDays(), ['2026-11-24']);
    assert.deepEqual(await store.get(v1.id), v1);
    assert.equal((await store.readMeta(v1.id))?.trigger, 'visit');
    assert.ok((await fsp.readFile(v1.files.original)).equals(expectedFiles(v1.id, 30_000).original));

    const v2 = await visit(store, '2026-11-24T08:06:00.000Z');
    assert.deepEqual(store.latest(), v2);
    for (const f of Object.values(v1.files)) assert.equal(await exists(f), false, `${f} replaced`);
    assert.equal(await store.get(v1.id), undefined);
    assert.deepEqual(await fsp.readdir(path.join(dir, 'now')), [`${v2.id}.jpg`, `${v2.id}.json`, `${v2.id}.preview.jpg`, `${v2.id}.thumb.jpg`].sort());

    const b = await save(store, '2026-11-24T08:10:00.000Z');
    assert.deepEqual(store.latest(), b);
    assert.deepEqual(await fsp.readdir(path.join(dir, 'now')), []);
    assert.equal(await store.get(v2.id), undefined);
    assert.deepEqual(
      (await store.listDay('2026-11-24')).map((s) => s.id),
      [a.id, b.id],
    );
  });

  test('it does not count towards max_bytes, and size retention never removes the now still', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { maxBytes: 1 });
    await store.start();
    await save(store, '2026-11-24T08:00:00.000Z');
    const kept = await save(store, '2026-11-24T09:00:00.000Z');
    const before = await store.usedBytes();
    const v = await visit(store, '2026-11-24T09:01:00.000Z');
    assert.equal(await store.usedBytes(), before);
    await store.prune();
    assert.equal(await exists(v.files.original), true);
    assert.equal(store.latest()?.id, v.id);
    // max_bytes below one still: everything but the newest still (here the now still) goes, as without visits.
    assert.deepEqual(await store.listDay('2026-11-24'), []);
    assert.equal(await exists(kept.files.original), false);
  });

  test('a restart finds it as the latest; one older than the newest filed still is removed', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const first = makeStore(dir);
    await first.start();
    await save(first, '2026-11-24T08:00:00.000Z');
    const v = await visit(first, '2026-11-24T08:05:00.000Z');

    const second = makeStore(dir);
    await second.start();
    assert.deepEqual(second.latest(), v);
    assert.deepEqual(await second.get(v.id), v);

    // A filed still newer than the now still (e.g. its removal was cut short): the now still goes at start.
    await fsp.mkdir(path.join(dir, '2026-11-24'), { recursive: true });
    const later = captureId(at('2026-11-24T08:30:00.000Z'));
    const files = expectedFiles(later, 10_000);
    await fsp.writeFile(path.join(dir, '2026-11-24', `${later}.jpg`), files.original);
    const third = makeStore(dir);
    await third.start();
    assert.equal(third.latest()?.id, later);
    assert.deepEqual(await fsp.readdir(path.join(dir, 'now')), []);
  });

  test('after a crash between two visit stills, start keeps the newest whole one and removes the rest', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const first = makeStore(dir);
    await first.start();
    const v1 = await visit(first, '2026-11-24T08:05:00.000Z');
    const nowDir = path.join(dir, 'now');
    // What a crash leaves: the replaced still not yet removed, a save cut short (temp files, an orphan).
    const older = captureId(at('2026-11-24T08:01:00.000Z'));
    await fsp.writeFile(path.join(nowDir, `${older}.jpg`), expectedFiles(older, 5000).original);
    await fsp.writeFile(path.join(nowDir, `${older}.json`), '{}');
    const cut = captureId(at('2026-11-24T08:09:00.000Z'));
    await fsp.writeFile(path.join(nowDir, `${cut}.thumb.jpg`), 'x');
    await fsp.writeFile(path.join(nowDir, `.${cut}.jpg.tmp-abcdef`), 'partial');

    const second = makeStore(dir);
    await second.start();
    assert.deepEqual(second.latest(), v1, 'the newest whole still, not the one cut short');
    assert.deepEqual((await fsp.readdir(nowDir)).sort(), [`${v1.id}.jpg`, `${v1.id}.json`, `${v1.id}.preview.jpg`, `${v1.id}.thumb.jpg`].sort());
    assert.ok((await fsp.readFile(v1.files.original)).equals(expectedFiles(v1.id, 30_000).original), 'nothing lost');
  });

  test('age retention removes it with its day', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    let now = new Date('2026-11-24T09:00:00Z');
    const store = makeStore(dir, { retentionDays: 2, now: () => now });
    await store.start();
    const a = await save(store, '2026-11-20T08:00:00.000Z');
    const v = await visit(store, '2026-11-21T08:05:00.000Z');
    now = new Date('2026-11-23T12:00:00Z'); // 2026-11-21 is still kept
    await store.prune();
    assert.equal(store.latest()?.id, v.id);
    now = new Date('2026-11-24T12:00:00Z');
    const result = await store.prune();
    assert.ok(result.removedIds.includes(v.id));
    assert.equal(await exists(v.files.original), false);
    assert.equal(store.latest(), undefined, `${a.id} went by age too`);
  });
});
