import { test, describe, mock } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { captureId } from '../../src/storage/layout.ts';
import type { Still } from '../../src/storage/store.ts';
import { input, listTree, makeStore, spyFs, tempDir, treeBytes } from './helpers.ts';

const save = (store: ReturnType<typeof makeStore>, iso: string, size: number) => store.save(input(new Date(iso), captureId(new Date(iso)), size));

describe('retention', () => {
  test('by days: whole local days older than retention_days go', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    // 2026-11-23 10:00 UTC is 11:00 in Berlin; 23:30 UTC on the 20th is already the 21st there.
    const store = makeStore(dir, { timeZone: 'Europe/Berlin', retentionDays: 2, now: () => new Date('2026-11-23T10:00:00Z') });
    await store.start();
    await save(store, '2026-11-19T12:00:00.000Z', 1000);
    await save(store, '2026-11-20T12:00:00.000Z', 1000);
    await save(store, '2026-11-20T23:30:00.000Z', 1000); // local 2026-11-21
    await save(store, '2026-11-22T12:00:00.000Z', 1000);
    const newest = await save(store, '2026-11-23T09:00:00.000Z', 1000);
    await fsp.writeFile(path.join(dir, '2026-11-19', '.20261119T120000.000Z.jpg.tmp-abc'), 'leftover');
    const bytesOf = async (day: string) => treeBytes(path.join(dir, day));
    const expectFreed = (await bytesOf('2026-11-19')) - 'leftover'.length + (await bytesOf('2026-11-20'));

    const result = await store.prune();
    assert.deepEqual(result.removedDays, ['2026-11-19', '2026-11-20']);
    assert.deepEqual(result.removedIds, []);
    assert.equal(result.freedBytes, expectFreed, 'counts the capture files of the removed days');
    assert.deepEqual(await store.listDays(), ['2026-11-21', '2026-11-22', '2026-11-23']);
    assert.deepEqual(store.latest(), newest);

    const again = await store.prune();
    assert.deepEqual(again, { removedDays: [], removedIds: [], freedBytes: 0 });
  });

  test('0 keeps everything', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { retentionDays: 0, maxBytes: 0, now: () => new Date('2036-01-01T00:00:00Z') });
    await store.start();
    await save(store, '2020-01-01T00:00:00.000Z', 1000);
    await save(store, '2026-01-01T00:00:00.000Z', 1000);
    assert.deepEqual(await store.prune(), { removedDays: [], removedIds: [], freedBytes: 0 });
    assert.equal((await store.listDays()).length, 2);
  });

  test('by bytes: oldest captures go until the total fits; empty day folders are removed', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir); // writes only; the limited store below prunes
    await store.start();
    const caps: Still[] = [];
    for (const iso of [
      '2026-11-20T10:00:00.000Z',
      '2026-11-20T11:00:00.000Z',
      '2026-11-21T10:00:00.000Z',
      '2026-11-21T11:00:00.000Z',
      '2026-11-22T10:00:00.000Z',
    ]) {
      caps.push(await save(store, iso, 100_000));
    }
    const total = await treeBytes(dir);
    assert.equal(await store.usedBytes(), total);
    // Captures differ by a few KB (derived sizes vary by id) against ~100 KB originals: 2.5 average
    // captures over means exactly the 3 oldest have to go.
    const limit = Math.floor(total - (2.5 * total) / 5);

    const limited = makeStore(dir, { maxBytes: limit });
    await limited.start();
    const result = await limited.prune();
    assert.deepEqual(
      result.removedIds,
      caps.slice(0, 3).map((c) => c.id),
    );
    assert.deepEqual(result.removedDays, ['2026-11-20']);
    const left = await treeBytes(dir);
    assert.ok(left <= limit, `${left} <= ${limit}`);
    assert.equal(result.freedBytes, total - left);
    assert.equal(await limited.usedBytes(), left);
    assert.deepEqual(await store.listDays(), ['2026-11-21', '2026-11-22']);
    assert.deepEqual(
      (await limited.listDay('2026-11-21')).map((c) => c.id),
      [caps[3]!.id],
    );
    // No capture is left half-removed.
    assert.deepEqual(await listTree(path.join(dir, '2026-11-21')), ['.jpg', '.json', '.preview.jpg', '.thumb.jpg'].map((s) => caps[3]!.id + s).sort());
  });

  test('by bytes: the newest capture is kept even when it alone is over the limit', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { maxBytes: 10 });
    await store.start();
    await save(store, '2026-11-21T10:00:00.000Z', 50_000);
    const newest = await save(store, '2026-11-22T10:00:00.000Z', 50_000);
    const older = await save(store, '2026-11-22T09:00:00.000Z', 50_000); // saved last, but not the newest
    const result = await store.prune();
    assert.deepEqual(result.removedIds.sort(), ['20261121T100000.000Z', older.id].sort());
    assert.deepEqual(result.removedDays, ['2026-11-21']);
    assert.deepEqual(store.latest(), newest);
    assert.deepEqual(
      (await store.listDay('2026-11-22')).map((c) => c.id),
      [newest.id],
    );
  });

  test('by bytes: the total is tracked, so pruning after each save does no directory scans', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const spy = spyFs();
    const store = makeStore(dir, { maxBytes: 1_000_000, fs: spy.fs });
    await store.start();
    for (let h = 0; h < 12; h++) await save(store, `2026-11-${20 + (h % 3)}T${String(h).padStart(2, '0')}:00:00.000Z`, 10_000);
    await store.prune(); // measures once
    for (let h = 12; h < 20; h++) {
      await save(store, `2026-11-22T${h}:00:00.000Z`, 10_000);
      spy.reset();
      const r = await store.prune();
      assert.deepEqual(r.removedIds, []);
      assert.deepEqual(spy.readdirs, [], 'no listing while under the limit');
      assert.deepEqual(spy.stats, []);
    }
    assert.equal(await store.usedBytes(), await treeBytes(dir));

    // Just over the limit: it reads the oldest day only, not every day.
    await save(store, '2026-11-22T21:00:00.000Z', 1_000_000 - (await store.usedBytes()));
    spy.reset();
    const r = await store.prune();
    assert.ok(r.removedIds.length > 0 && r.removedIds.every((id) => id.startsWith('20261120')), r.removedIds.join());
    assert.deepEqual(spy.readdirs, [path.join(dir, '2026-11-20')]);
    const used = await store.usedBytes();
    assert.ok(used <= 1_000_000);
    assert.equal(used, await treeBytes(dir));
  });

  test('runs on its own timer, not only after a save; stop() ends it', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const writer = makeStore(dir);
    await writer.start();
    await save(writer, '2026-11-19T12:00:00.000Z', 1000);
    await save(writer, '2026-11-23T09:00:00.000Z', 1000);
    writer.stop();
    mock.timers.enable({ apis: ['setInterval'] });
    t.after(() => mock.timers.reset());
    const store = makeStore(dir, { retentionDays: 2, now: () => new Date('2026-11-23T10:00:00Z'), retentionIntervalMs: 3_600_000 });
    await store.start();
    // The timer's prune is queued behind the store's lock: usedBytes() returns after it.
    mock.timers.tick(3_599_999);
    await store.usedBytes();
    assert.deepEqual(await store.listDays(), ['2026-11-19', '2026-11-23'], 'nothing before the hour is up');
    mock.timers.tick(1);
    await store.usedBytes();
    assert.deepEqual(await store.listDays(), ['2026-11-23'], 'the old day went without a save');

    store.stop();
    await fsp.mkdir(path.join(dir, '2026-11-18'));
    await fsp.writeFile(path.join(dir, '2026-11-18', 'notes.txt'), 'x');
    mock.timers.tick(2 * 3_600_000);
    await store.usedBytes();
    assert.deepEqual(await store.listDays(), ['2026-11-18', '2026-11-23'], 'stopped: no more pruning');
  });
});
