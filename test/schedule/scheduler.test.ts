// Cron ticks run on node:test's mock timers (setTimeout and Date): seconds of schedule take no real time.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { Scheduler } from '../../src/schedule/scheduler.ts';
import type { Trigger } from '../../src/capture/service.ts';
import { memoryLogger, quietLogger, testConfig } from '../helpers/setup.ts';
import { Settings } from '../../src/settings/service.ts';
import { settingsFile } from '../../src/settings/overrides.ts';

/** Advances the mocked clock in small steps, letting the async work of each tick run in between. */
async function advance(ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    mock.timers.tick(Math.min(step, ms - t));
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

describe('scheduler', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-06-01T12:00:00.250Z') }));
  afterEach(() => mock.timers.reset());

  test('each cron tick calls capture("schedule")', async () => {
    const triggers: Trigger[] = [];
    const scheduler = new Scheduler({
      capture: { capture: async (t: Trigger) => (triggers.push(t), undefined as never) },
      cron: '* * * * * *', // every second
      logger: quietLogger(),
    });
    scheduler.start();
    try {
      await advance(2000);
      assert.equal(triggers.length, 2, 'one tick a second');
      assert.ok(triggers.every((t) => t === 'schedule'));
    } finally {
      scheduler.stop();
    }
    const n = triggers.length;
    await advance(3000);
    assert.equal(triggers.length, n, 'no ticks after stop()');
  });

  test('overlapping runs are impossible: a slow still makes the next tick skip, with a warning', async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const { logger, lines } = memoryLogger();
    const scheduler = new Scheduler({
      capture: {
        capture: async () => {
          calls++;
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, 2300));
          running--;
          return undefined as never;
        },
      },
      cron: '* * * * * *',
      logger,
    });
    scheduler.start();
    await advance(4000);
    scheduler.stop();
    assert.equal(maxRunning, 1);
    // From 12:00:00.25: the still started by the :01 tick runs until :03.3, so the :02 and :03 ticks skip
    // and the :04 tick starts the second one.
    assert.equal(calls, 2, `calls: ${calls}`);
    assert.ok(
      lines().some((l) => String(l.msg).includes('tick skipped')),
      'the skip is logged',
    );
  });

  test('a failing capture does not stop the schedule', async () => {
    let calls = 0;
    const scheduler = new Scheduler({
      capture: {
        capture: async () => {
          calls++;
          throw new Error('camera unplugged');
        },
      },
      cron: '* * * * * *',
      logger: quietLogger(),
    });
    scheduler.start();
    try {
      await advance(2000);
      assert.equal(calls, 2, 'two failing ticks, the schedule still running');
    } finally {
      scheduler.stop();
    }
  });

  test('nextRun follows the pattern and time zone', () => {
    const scheduler = new Scheduler({
      capture: { capture: async () => undefined as never },
      cron: '0 * * * *',
      timezone: 'Asia/Kolkata',
      logger: quietLogger(),
    });
    scheduler.start();
    try {
      const next = scheduler.nextRun()!;
      // Kolkata is UTC+5:30: the top of a local hour is at minute 30 UTC.
      assert.equal(next.getUTCMinutes(), 30);
      assert.ok(next.getTime() - Date.now() <= 3600_000);
    } finally {
      scheduler.stop();
    }
  });

  test('a settings change replaces the cron job at once: new pattern, off, on again', async () => {
    const config = testConfig({ MONCAM_SCHEDULE_CRON: '0 * * * *', MONCAM_SCHEDULE_TIMEZONE: 'UTC' });
    const settings = new Settings({ config, file: settingsFile(config.data_dir), initial: {}, logger: quietLogger() });
    const triggers: Trigger[] = [];
    const scheduler = new Scheduler({
      capture: { capture: async (t: Trigger) => (triggers.push(t), undefined as never) },
      settings,
      timezone: 'UTC',
      logger: quietLogger(),
    });
    scheduler.start();
    try {
      assert.equal(scheduler.nextRun()?.toISOString(), '2026-06-01T13:00:00.000Z', 'hourly');
      await settings.set({ 'schedule.cron': '* * * * * *' }); // every second
      assert.equal(scheduler.cron, '* * * * * *');
      assert.equal(scheduler.nextRun()?.toISOString(), '2026-06-01T12:00:01.000Z');
      await advance(3000);
      assert.equal(triggers.length, 3, 'ticks every second without a restart');
      await settings.set({ 'schedule.enabled': false });
      assert.equal(scheduler.nextRun(), undefined);
      await advance(3000);
      assert.equal(triggers.length, 3, 'no ticks while off');
      await settings.set({ 'schedule.enabled': true, 'schedule.cron': '*/15 * * * *' });
      assert.equal(scheduler.nextRun()?.toISOString(), '2026-06-01T12:15:00.000Z');
    } finally {
      scheduler.stop();
    }
    await settings.set({ 'schedule.cron': '* * * * * *' });
    assert.equal(scheduler.nextRun(), undefined, 'a change after stop() schedules nothing');
  });
});
