// "Stills kept": counted once from the folder listings, then tracked by saves and every kind of removal,
// and always equal to a fresh count of the originals on disk.
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { captureId } from '../../src/storage/layout.ts';
import { input, makeStore, spyFs, tempDir } from './helpers.ts';

const save = (store: ReturnType<typeof makeStore>, iso: string, size = 1000) => store.save(input(new Date(iso), captureId(new Date(iso)), size));

/** Originals on disk, counted the slow way. */
async function originalsOnDisk(dir: string): Promise<number> {
  let n = 0;
  for (const day of await fsp.readdir(dir)) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
    for (const name of await fsp.readdir(path.join(dir, day))) if (/^\d{8}T\d{6}\.\d{3}Z\.jpg$/.test(name)) n++;
  }
  return n;
}

describe('stills kept', () => {
  test('counts what is on disk once, then follows saves without listing folders again', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const first = makeStore(dir, { retentionDays: 0, maxBytes: 0 });
    await first.start();
    await save(first, '2026-11-20T12:00:00.000Z');
    await save(first, '2026-11-21T12:00:00.000Z');
    await save(first, '2026-11-21T13:00:00.000Z');
    first.stop();

    const spy = spyFs();
    const store = makeStore(dir, { retentionDays: 0, maxBytes: 0, fs: spy.fs });
    await store.start();
    assert.equal(await store.stillsKept(), 3);
    spy.reset();
    await save(store, '2026-11-22T12:00:00.000Z');
    assert.equal(await store.stillsKept(), 4);
    assert.equal(await store.stillsKept(), 4);
    assert.deepEqual(
      spy.readdirs.filter((d) => d !== path.join(dir, '2026-11-22')),
      [],
      'no folder listed again to count',
    );
    assert.equal(await originalsOnDisk(dir), 4);
  });

  test('follows retention by age and by size', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'UTC', retentionDays: 2, maxBytes: 0, now: () => new Date('2026-11-23T10:00:00Z') });
    await store.start();
    await save(store, '2026-11-19T12:00:00.000Z');
    await save(store, '2026-11-20T12:00:00.000Z');
    assert.equal(await store.stillsKept(), 2);
    await save(store, '2026-11-22T12:00:00.000Z');
    await save(store, '2026-11-23T09:00:00.000Z');
    assert.equal(await store.stillsKept(), 4);
    await store.prune();
    assert.equal(await store.stillsKept(), 2, 'days older than retention_days go with their stills');
    assert.equal(await originalsOnDisk(dir), 2);

    const { dir: dir2, cleanup: cleanup2 } = await tempDir();
    t.after(cleanup2);
    const sized = makeStore(dir2, { retentionDays: 0, maxBytes: 0 });
    await sized.start();
    for (let i = 0; i < 5; i++) await save(sized, `2026-11-2${i}T12:00:00.000Z`, 10_000);
    assert.equal(await sized.stillsKept(), 5);
    sized.stop();
    // The same folder under a size limit: the oldest go until the rest fit.
    const limited = makeStore(dir2, { retentionDays: 0, maxBytes: 25_000 });
    await limited.start();
    assert.equal(await limited.stillsKept(), 5);
    await limited.prune();
    const kept = await limited.stillsKept();
    assert.ok(kept < 5 && kept >= 1, `some went (kept ${kept})`);
    assert.equal(kept, await originalsOnDisk(dir2), 'the tracked count equals a fresh count');
  });
});
