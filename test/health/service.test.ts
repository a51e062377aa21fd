// The health service over a real store and a real (croner) schedule on node:test's mocked clock: the
// status follows stills, failures and time, and says when it turns on its own.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import type { CaptureEvents, CaptureFailure } from '../../src/capture/service.ts';
import { CaptureHealth } from '../../src/capture/health.ts';
import { LocalClock } from '../../src/clock.ts';
import { HealthService } from '../../src/health/service.ts';
import { Scheduler } from '../../src/schedule/scheduler.ts';
import { captureId } from '../../src/storage/layout.ts';
import type { CaptureRecord } from '../../src/capture/types.ts';
import { input, makeStore, tempDir } from '../storage/helpers.ts';
import { quietLogger } from '../helpers/setup.ts';

/** The capture service as the health service sees it: events and a health snapshot. */
class FakeCaptures extends EventEmitter<CaptureEvents> {
  readonly health = new CaptureHealth({ after: 3, firstMs: 60_000, maxMs: 600_000 });
  healthSnapshot() {
    return this.health.snapshot(new Date());
  }
  fail(code: string, message: string): void {
    const failure: CaptureFailure = { trigger: 'schedule', requests: [], at: new Date(), error: { code: code as 'no_camera', message } };
    if (code !== 'backoff') this.health.failed({ code, message, at: failure.at });
    this.emit('failed', failure);
  }
  succeed(): void {
    this.health.succeeded(new Date());
    this.emit('captured', {} as CaptureRecord);
  }
}

const START = Date.parse('2026-06-01T10:00:00.000Z');

async function setup(t: { after: (fn: () => unknown) => void }, cron = '*/5 * * * *') {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const clock = new LocalClock('Europe/Berlin');
  const store = makeStore(dir, { clock, retentionDays: 0, maxBytes: 0 });
  await store.start();
  t.after(() => store.stop());
  const captures = new FakeCaptures();
  const schedule = new Scheduler({ capture: { capture: async () => undefined as never }, cron, timezone: 'Europe/Berlin', logger: quietLogger() });
  schedule.start();
  t.after(() => schedule.stop());
  let free: number | Error = 7_000_000_000;
  const health = new HealthService({
    backend: 'rpicam',
    captures,
    store,
    schedule,
    clock,
    logger: quietLogger(),
    statfs: async () => {
      if (free instanceof Error) throw free;
      return { bavail: free / 4096, bsize: 4096 };
    },
  });
  health.start();
  t.after(() => health.stop());
  const saveNow = () => store.save(input(new Date(), captureId(new Date()), 1000));
  return { store, captures, health, saveNow, setFree: (f: number | Error) => (free = f) };
}

describe('health service', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: START }));
  afterEach(() => mock.timers.reset());

  test('no stills yet: not stale until two scheduled stills are missing, then stale', async (t) => {
    const { health } = await setup(t);
    const first = await health.evaluate();
    assert.equal(first.status.state, 'no_stills');
    assert.equal(first.status.stale, false);
    assert.equal(first.status.next_at, '2026-06-01T12:05:00.000+02:00');
    assert.equal(first.changesAt?.toISOString(), '2026-06-01T10:10:30.000Z');
    mock.timers.tick(first.changesAt!.getTime() - Date.now());
    const later = await health.evaluate();
    assert.equal(later.status.stale, true);
    assert.equal(later.status.state, 'no_stills');
    assert.equal(later.changesAt, undefined);
  });

  test('a still: ok with its time, free space and count; stale exactly when it becomes overdue', async (t) => {
    const { health, saveNow, setFree } = await setup(t);
    mock.timers.tick(4_000);
    await saveNow();
    const ok = await health.evaluate();
    assert.equal(ok.status.state, 'ok');
    assert.equal(ok.status.latest_at, '2026-06-01T12:00:04.000+02:00');
    assert.equal(ok.status.free_bytes, 7_000_000_000);
    assert.equal(ok.status.stills_kept, 1);
    assert.equal(ok.changesAt?.toISOString(), '2026-06-01T10:10:34.000Z', 'twice the 5-minute interval, plus 30 s grace');
    mock.timers.tick(ok.changesAt!.getTime() - Date.now() - 1);
    assert.equal((await health.status()).stale, false, 'one millisecond before');
    mock.timers.tick(1);
    const stale = await health.status();
    assert.equal(stale.state, 'stale');
    assert.equal(stale.stale, true);
    assert.match(stale.reason!, /11 minutes old/);
    setFree(new Error('statfs failed'));
    assert.equal((await health.status()).free_bytes, null, 'unreadable free space is null, not an error');
  });

  test('failures: failing, then paused with the pause end as the next change; the last error stays after recovery', async (t) => {
    const { health, captures, saveNow } = await setup(t);
    await saveNow();
    const changed: number[] = [];
    health.on('changed', () => changed.push(Date.now()));
    captures.fail('no_camera', 'no camera available');
    const failing = await health.evaluate();
    assert.equal(failing.status.state, 'failing');
    assert.equal(failing.status.stale, true);
    assert.equal(failing.status.last_error?.code, 'no_camera');
    mock.timers.tick(1000);
    captures.fail('no_camera', 'no camera available');
    captures.fail('no_camera', 'no camera available'); // the third in a row: paused for a minute
    const paused = await health.evaluate();
    assert.equal(paused.status.state, 'paused');
    assert.equal(paused.changesAt?.toISOString(), new Date(Date.now() + 60_000).toISOString(), 'the pause ends before the still is overdue');
    captures.fail('backoff', 'captures are paused');
    assert.equal((await health.status()).last_error?.message, 'no camera available', 'a refusal during the pause is not the last error');
    mock.timers.tick(60_000);
    assert.equal((await health.status()).state, 'failing');
    captures.succeed();
    await saveNow();
    const ok = await health.status();
    assert.equal(ok.state, 'ok');
    assert.equal(ok.stale, false);
    assert.deepEqual(ok.last_error, { code: 'no_camera', message: 'no camera available', at: '2026-06-01T12:00:01.000+02:00' });
    assert.equal(changed.length, 5, 'every failure and still says the status may have changed');
  });

  test('no schedule: never stale by age, no next still', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const clock = new LocalClock('UTC');
    const store = makeStore(dir, { clock, retentionDays: 0, maxBytes: 0 });
    await store.start();
    t.after(() => store.stop());
    const health = new HealthService({
      backend: 'synthetic',
      captures: new FakeCaptures(),
      store,
      clock,
      logger: quietLogger(),
      statfs: async () => ({ bavail: 1n, bsize: 4096n }),
    });
    health.start();
    await store.save(input(new Date(), captureId(new Date()), 1000));
    mock.timers.tick(30 * 24 * 3600_000);
    const { status, changesAt } = await health.evaluate();
    assert.equal(status.state, 'ok');
    assert.equal(status.next_at, null);
    assert.equal(status.synthetic, true);
    assert.equal(status.free_bytes, 4096);
    assert.equal(changesAt, undefined);
    health.stop();
  });
});
