// Disk full (issue 5 item 4), on a really small disk: a tmpfs mounted for the test (this needs root or
// CAP_SYS_ADMIN). Where mount is not permitted the same tests run on a simulated small disk: the store's
// default StorageFs (nodeFs) is wrapped so writes under the folder fail with ENOSPC past the capacity and
// statfs reports what is left. Each test says which one ran (diagnostic); none is skipped.
// MONCAM_TEST_SIMULATE_DISK=1 forces the simulated disk.
//
// 1. Without storage.min_free: stills fill the disk, then a capture fails with `disk_full` (capture
//    service `failed` event and MQTT event, message naming the folder); nothing crashes, earlier stills
//    are intact, no temp files are left, and once space is freed the next capture works.
// 2. With storage.min_free: captures keep succeeding (3x the disk's capacity worth), the oldest go, the
//    newest always stays, and the free space never drops below min_free.
// 3. Store level: when statfs overstates the space (reserved blocks, quotas) the save that hits ENOSPC
//    removes the oldest stills and is retried once; the newest is never removed, even when that means
//    min_free cannot be kept or the save fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { setPassword } from '../../src/auth/password.ts';
import type { CaptureFailure, CaptureRecord } from '../../src/capture/service.ts';
import { isTempName, nodeFs, type FileHandleLike, type StorageFs } from '../../src/storage/atomic.ts';
import { CaptureStore, StorageError, type Still } from '../../src/storage/store.ts';
import { PASSWORD } from '../helpers/daemon.ts';
import { Recorder, instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { GARDEN_8MP, memoryLogger, tempDir } from '../helpers/setup.ts';
import { WebClient } from '../helpers/web.ts';
import { recorded } from './helpers.ts';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const EVENT = 'moncam/testcam/event';
const COMMAND = 'moncam/testcam/capture/set';
const fixture = fs.readFileSync(GARDEN_8MP); // 3.2 MB, as a Camera V2 produces

interface SmallDisk {
  /** The mount point (or the simulated disk's folder). */
  dir: string;
  method: 'tmpfs' | 'simulated';
  /** Bytes available, as statfs reports them. */
  free(): Promise<number>;
  release(): Promise<void>;
}

/** Clean-ups run last registered first (the daemon stops before its disk is unmounted). */
function cleanups(t: TestContext): (fn: () => Promise<unknown>) => void {
  const stack: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => void stack.push(fn);
}

/** A tmpfs of `bytes`; a simulated disk of that size if mounting is not permitted. */
async function smallDisk(t: TestContext, bytes: number): Promise<SmallDisk> {
  const dir = path.join(tempDir('moncam-diskfull-'), 'disk');
  fs.mkdirSync(dir);
  const free = async () => {
    const s = await nodeFs.statfs(dir);
    return s.bavail * s.bsize;
  };
  try {
    if (process.env.MONCAM_TEST_SIMULATE_DISK) throw new Error('MONCAM_TEST_SIMULATE_DISK is set');
    await run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024)}k,mode=0755`, 'tmpfs', dir]);
    t.diagnostic(`method: tmpfs of ${bytes} bytes mounted at ${dir}`);
    return {
      dir,
      method: 'tmpfs',
      free,
      release: async () => {
        await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
        await fsp.rm(path.dirname(dir), { recursive: true, force: true });
      },
    };
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr || (err as Error).message).trim();
    t.diagnostic(`method: SIMULATED disk of ${bytes} bytes (ENOSPC injected through the store's StorageFs), because mount failed: ${why}`);
    const restore = simulateDisk(dir, bytes);
    return {
      dir,
      method: 'simulated',
      free,
      release: async () => {
        restore();
        await fsp.rm(path.dirname(dir), { recursive: true, force: true });
      },
    };
  }
}

/** Wraps nodeFs (what every store without an explicit fs uses) so `dir` behaves like a disk of `capacity` bytes. */
function simulateDisk(dir: string, capacity: number): () => void {
  const saved = { open: nodeFs.open, statfs: nodeFs.statfs };
  const inside = (p: string) => p === dir || p.startsWith(dir + path.sep);
  const used = async () => {
    let sum = 0;
    for (const e of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) sum += Math.ceil((await fsp.stat(path.join(e.parentPath, e.name))).size / 4096) * 4096;
    }
    return sum;
  };
  nodeFs.statfs = async (p) => (inside(p) ? { bsize: 4096, bavail: Math.max(0, Math.floor((capacity - (await used())) / 4096)) } : saved.statfs(p));
  nodeFs.open = async (p, flags) => {
    const handle = await saved.open(p, flags);
    if (flags === 'r' || !inside(p)) return handle;
    const wrapped: FileHandleLike = {
      writeFile: async (data) => {
        const room = capacity - (await used());
        if (Math.ceil(data.length / 4096) * 4096 <= room) return handle.writeFile(data);
        await handle.writeFile(data.subarray(0, Math.max(0, Math.floor(room / 4096) * 4096)));
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
    return wrapped;
  };
  return () => Object.assign(nodeFs, saved);
}

/** Every file under `dir`, relative. */
async function tree(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

const temps = async (dir: string) => (await tree(dir)).filter((f) => isTempName(path.basename(f)));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function snapshot(c: Still): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [kind, file] of Object.entries(c.files)) out[kind] = sha(await fsp.readFile(file));
  return out;
}

async function assertDecodes(file: string): Promise<void> {
  await sharp(await fsp.readFile(file), { failOn: 'truncated' })
    .resize(64)
    .raw()
    .toBuffer();
}

type Outcome = { ok: true; record: CaptureRecord } | { ok: false; failure: CaptureFailure; event: Record<string, unknown> };

/** One MQTT capture command with its own id; resolves with the capture service's answer (and the MQTT event on failure). */
async function shoot(d: Daemon, rec: Recorder, id: string): Promise<Outcome> {
  const { captures } = d.app;
  const answer = new Promise<Outcome | { ok: false; failure: CaptureFailure }>((resolve) => {
    const mine = (requests: { requestId?: string }[]) => requests.some((r) => r.requestId === id);
    const onCaptured = (record: CaptureRecord) => mine(record.capture.meta.requests) && done({ ok: true, record });
    const onFailed = (failure: CaptureFailure) => mine(failure.requests) && done({ ok: false, failure });
    const done = (o: Outcome | { ok: false; failure: CaptureFailure }) => {
      captures.off('captured', onCaptured);
      captures.off('failed', onFailed);
      resolve(o);
    };
    captures.on('captured', onCaptured);
    captures.on('failed', onFailed);
  });
  await rec.publish(COMMAND, JSON.stringify({ id }));
  const o = await answer;
  if (o.ok) return o;
  const [msg] = await rec.waitFor(EVENT, 1, 10_000, (m) => (JSON.parse(m.payload.toString()) as { id?: string }).id === id);
  return { ...o, event: JSON.parse(msg!.payload.toString()) as Record<string, unknown> };
}

/** A daemon with the storage folder on `disk`, a password set (for the page), recording its log. */
async function daemonOn(disk: SmallDisk, env: Record<string, string> = {}) {
  const dataDir = tempDir('moncam-diskfull-data-');
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  const storeDir = path.join(disk.dir, 'captures');
  const log = memoryLogger();
  const daemon = await startDaemon(instantCamera(fixture), { MONCAM_DATA_DIR: dataDir, MONCAM_STORAGE_DIR: storeDir, ...env }, { logger: log.logger });
  const rec = await Recorder.connect(daemon.url, [EVENT]);
  return {
    daemon,
    rec,
    storeDir,
    log,
    async close() {
      await rec.close();
      await daemon.stop();
      await fsp.rm(dataDir, { recursive: true, force: true });
    },
  };
}

describe('disk full', () => {
  test(
    'without min_free: a full disk fails the capture with disk_full, nothing else breaks, and it works again once space is freed',
    { timeout: 60_000 },
    async (t) => {
      const defer = cleanups(t);
      const disk = await smallDisk(t, 12 * MIB);
      defer(() => disk.release());
      // Room for two stills (3.4 MB each with thumbnail and preview), not for a third.
      const filler = path.join(disk.dir, 'filler');
      fs.writeFileSync(filler, Buffer.alloc(2 * MIB, 1));
      const d = await daemonOn(disk);
      defer(() => d.close());
      const failedEvents: CaptureFailure[] = [];
      d.daemon.app.captures.on('failed', (f) => failedEvents.push(f));

      const kept: { capture: Still; files: Record<string, string> }[] = [];
      let failure: Extract<Outcome, { ok: false }> | undefined;
      for (let i = 1; i <= 6 && !failure; i++) {
        const o = await shoot(d.daemon, d.rec, `fill-${i}`);
        if (o.ok) kept.push({ capture: o.record.capture, files: await snapshot(o.record.capture) });
        else failure = o;
      }
      assert.ok(failure, 'a capture failed once the disk was full');
      assert.ok(kept.length >= 1, `${kept.length} captures fit before the disk was full`);
      t.diagnostic(`${kept.length} captures fit, then: ${failure.failure.error.message}`);

      // The failure, as the capture service and MQTT report it.
      const day = d.daemon.app.clock.day(failure.failure.at);
      const folder = path.join(d.storeDir, day);
      assert.equal(failure.failure.error.code, 'disk_full');
      assert.match(failure.failure.error.message, /^disk full: /);
      assert.ok(failure.failure.error.message.includes(folder), `the message names the folder ${folder}: ${failure.failure.error.message}`);
      assert.equal(failure.event.event_type, 'failed');
      assert.equal(failure.event.error, 'disk_full');
      assert.equal(failure.event.message, failure.failure.error.message);
      assert.deepEqual(
        failedEvents.map((f) => f.error.code),
        ['disk_full'],
      );

      // Nothing crashed, nothing partial: earlier stills byte for byte, no temp files.
      assert.equal(d.daemon.app.captures.busy, false);
      assert.deepEqual(await temps(disk.dir), [], 'no temp files left');
      for (const { capture, files } of kept) {
        assert.deepEqual(await snapshot(capture), files, `${capture.id} unchanged`);
        for (const kind of ['original', 'thumb', 'preview'] as const) await assertDecodes(capture.files[kind]);
      }
      assert.deepEqual(
        (await d.daemon.app.store.listDay(day)).map((c) => c.id),
        kept.map((k) => k.capture.id),
      );
      assert.equal(d.daemon.app.store.latest()?.id, kept.at(-1)!.capture.id);

      // The page still works while the disk is full.
      const web = new WebClient(d.daemon.web);
      assert.equal((await web.login(PASSWORD)).headers.get('location'), '/');
      const state = await web.get('/api/state');
      assert.equal(state.status, 200);
      const body = (await state.json()) as { latest: { id: string } | null; health: { ok: boolean; last_failure?: { code: string; message: string } } };
      assert.equal(body.latest?.id, kept.at(-1)!.capture.id);
      // What the page shows: the failure, naming the folder where room is needed.
      assert.equal(body.health.ok, false);
      assert.equal(body.health.last_failure?.code, 'disk_full');
      assert.match(body.health.last_failure?.message ?? '', /^disk full: cannot write still to .*captures\/\d{4}-\d\d-\d\d \(no space left on device\)$/);

      // Space freed (the filler goes): the next capture works.
      fs.rmSync(filler);
      const again = await shoot(d.daemon, d.rec, 'after-free');
      assert.ok(again.ok, `capture after freeing space: ${again.ok ? '' : again.failure.error.message}`);
      assert.ok((await fsp.readFile(again.record.capture.files.original)).equals(fixture));
      assert.equal(d.daemon.app.store.latest()?.id, again.record.capture.id);
      assert.deepEqual(await temps(disk.dir), []);
    },
  );

  test(
    'with min_free: captures keep succeeding past the disk capacity; the oldest go, the newest stays, min_free stays free',
    { timeout: 120_000 },
    async (t) => {
      const capacity = 16 * MIB;
      const minFree = 2 * MIB;
      const defer = cleanups(t);
      const disk = await smallDisk(t, capacity);
      defer(() => disk.release());
      const d = await daemonOn(disk, { MONCAM_STORAGE_MIN_FREE: String(minFree) });
      defer(() => d.close());
      const { store } = d.daemon.app;

      const taken: Still[] = [];
      let perCapture = 0;
      let n = 0;
      let lowestFree = Infinity;
      for (;;) {
        n++;
        const o = await shoot(d.daemon, d.rec, `keep-${n}`);
        assert.ok(o.ok, `capture ${n} failed: ${o.ok ? '' : o.failure.error.message}`);
        const c = o.record.capture;
        taken.push(c);
        if (n === 1) for (const f of Object.values(c.files)) perCapture += (await fsp.stat(f)).size;

        const listed = (await Promise.all((await store.listDays()).map((day) => store.listDay(day)))).flat().map((x) => x.id);
        assert.equal(listed.at(-1), c.id, 'the newest is listed');
        if (n > 1) assert.ok(listed.includes(taken.at(-2)!.id), 'the still that was newest when the save began was kept');
        assert.deepEqual(
          listed,
          taken.slice(taken.length - listed.length).map((x) => x.id),
          'only the oldest were removed',
        );
        const free = await disk.free();
        lowestFree = Math.min(lowestFree, free);
        assert.ok(free >= minFree, `after capture ${n}: ${free} bytes free, min_free ${minFree}`);
        if (n * perCapture >= 3 * capacity) break;
      }

      const left = (await Promise.all((await store.listDays()).map((day) => store.listDay(day)))).flat();
      const removed = taken.slice(0, taken.length - left.length).map((c) => c.id);
      assert.ok(removed.length >= n - Math.floor(capacity / perCapture), `${removed.length} removed`);
      for (const c of left) {
        assert.ok((await fsp.readFile(c.files.original)).equals(fixture));
        for (const kind of ['thumb', 'preview'] as const) await assertDecodes(c.files[kind]);
      }
      for (const c of removed)
        assert.deepEqual(
          fs.readdirSync(path.dirname(taken[0]!.files.original)).filter((f) => f.startsWith(c)),
          [],
          `all files of ${c} are gone`,
        );
      assert.deepEqual(await temps(disk.dir), []);

      // What was removed is logged, id by id.
      const logged = d.log.lines().filter((l) => l.msg === 'min_free: removed the oldest stills to keep space free');
      assert.deepEqual(
        logged.flatMap((l) => l.removedIds as string[]),
        removed,
      );
      assert.ok(logged.every((l) => l.reason === 'min_free' && l.minFree === minFree && typeof l.freedBytes === 'number'));
      assert.equal(d.log.lines().filter((l) => l.msg === 'capture failed' || /^capture failed/.test(String(l.msg))).length, 0);
      t.diagnostic(
        `${n} captures of ${perCapture} bytes (${((n * perCapture) / capacity).toFixed(1)}x the ${capacity}-byte disk), ${left.length} kept, ${removed.length} removed, lowest free ${lowestFree} (min_free ${minFree})`,
      );
    },
  );
});

describe('min_free in the store', () => {
  const inputFor = (at: Date) => ({
    capturedAt: at,
    original: fixture,
    thumb: fixture.subarray(0, 40_000),
    preview: fixture.subarray(0, 200_000),
    meta: recorded(),
  });

  test('a save that hits ENOSPC although statfs showed room removes the oldest stills and is retried once', { timeout: 30_000 }, async (t) => {
    const disk = await smallDisk(t, 12 * MIB);
    t.after(() => disk.release());
    const log = memoryLogger();
    // statfs overstating the room (root-reserved blocks, a quota): the check before the save sees no need to remove anything.
    const lying: StorageFs = { ...nodeFs, statfs: async () => ({ bsize: 4096, bavail: 1 << 30 }) };
    const store = new CaptureStore({
      dir: path.join(disk.dir, 'captures'),
      timeZone: 'UTC',
      retentionDays: 0,
      maxBytes: 0,
      minFree: MIB,
      logger: log.logger,
      fs: lying,
    });
    await store.start();
    const saved: Still[] = [];
    for (let i = 0; i < 8; i++) saved.push(await store.save(inputFor(new Date(Date.UTC(2026, 10, 23, 10, i)))));
    const retries = log.lines().filter((l) => l.msg === 'disk was full: retrying the save after removing the oldest stills');
    assert.ok(retries.length >= 4, `${retries.length} saves retried`);
    const removedLogs = log.lines().filter((l) => l.msg === 'disk full: removed the oldest stills to make room');
    const removed = removedLogs.flatMap((l) => l.removedIds as string[]);
    const left = (await store.listDay('2026-11-23')).map((c) => c.id);
    assert.deepEqual(
      [...removed, ...left],
      saved.map((c) => c.id),
      'the oldest were removed, in order; the rest are listed',
    );
    assert.equal(left.at(-1), saved.at(-1)!.id);
    assert.deepEqual(await temps(disk.dir), []);
    for (const id of left) assert.ok((await fsp.readFile(path.join(disk.dir, 'captures', '2026-11-23', `${id}.jpg`))).equals(fixture));
    t.diagnostic(`${retries.length} of 8 saves hit ENOSPC and were retried after removing ${removed.length} stills; ${left.length} left`);
  });

  test(
    'the newest still is never removed: min_free is given up (with a warning), and a save that does not fit fails disk_full',
    { timeout: 30_000 },
    async (t) => {
      const disk = await smallDisk(t, 10 * MIB);
      t.after(() => disk.release());
      const log = memoryLogger();
      const dir = path.join(disk.dir, 'captures');
      // min_free larger than the disk can give with two stills on it.
      const store = new CaptureStore({ dir, timeZone: 'UTC', retentionDays: 0, maxBytes: 0, minFree: 6 * MIB, logger: log.logger });
      await store.start();
      const saved: Still[] = [];
      for (let i = 0; i < 5; i++) {
        saved.push(await store.save(inputFor(new Date(Date.UTC(2026, 10, 23, 11, i)))));
        const ids = (await store.listDay('2026-11-23')).map((c) => c.id);
        if (i > 0) assert.deepEqual(ids, [saved[i - 1]!.id, saved[i]!.id], `after save ${i}: the previous newest and the new one`);
      }
      assert.ok(
        log.lines().some((l) => l.level === 40 && /^cannot keep \d+ bytes free in .*: nothing left to remove but the newest still$/.test(String(l.msg))),
      );

      // Now something else takes the disk: only the newest still is left and the next save cannot fit.
      const newest = saved.at(-1)!;
      const before = await snapshot(newest);
      fs.writeFileSync(path.join(disk.dir, 'other'), Buffer.alloc(Math.max(0, (await disk.free()) - MIB), 1));
      // Bigger than what removing everything but the newest frees.
      const big = { ...inputFor(new Date(Date.UTC(2026, 10, 23, 12))), original: Buffer.concat([fixture, fixture]) };
      const err = await store.save(big).then(
        () => assert.fail('the save should not fit'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.code, 'disk_full');
      assert.equal(err.message, `disk full: cannot write still to ${path.join(dir, '2026-11-23')} (no space left on device)`);
      assert.deepEqual(
        (await store.listDay('2026-11-23')).map((c) => c.id),
        [newest.id],
        'only the newest is left, and it is',
      );
      assert.deepEqual(await snapshot(newest), before, 'the newest is intact');
      assert.equal(store.latest()?.id, newest.id);
      assert.deepEqual(await temps(disk.dir), []);
    },
  );
});
