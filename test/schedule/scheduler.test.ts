import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Scheduler } from '../../src/schedule/scheduler.ts';
import type { Trigger } from '../../src/capture/service.ts';
import { memoryLogger, quietLogger, until } from '../helpers/setup.ts';

describe('scheduler', () => {
  test('each cron tick calls capture("schedule")', async () => {
    const triggers: Trigger[] = [];
    const scheduler = new Scheduler({
      capture: { capture: async (t: Trigger) => (triggers.push(t), undefined as never) },
      cron: '* * * * * *', // every second
      logger: quietLogger(),
    });
    scheduler.start();
    try {
      await until(() => triggers.length >= 2, 4000, 'two ticks');
      assert.ok(triggers.every((t) => t === 'schedule'));
    } finally {
      scheduler.stop();
    }
    const n = triggers.length;
    await new Promise((r) => setTimeout(r, 1200));
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
    await new Promise((r) => setTimeout(r, 3600));
    scheduler.stop();
    assert.equal(maxRunning, 1);
    assert.ok(calls <= 2, `calls: ${calls}`);
    assert.ok(lines().some((l) => String(l.msg).includes('tick skipped')), 'the skip is logged');
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
      await until(() => calls >= 2, 4000, 'two failing ticks');
    } finally {
      scheduler.stop();
    }
  });

  test('nextRun follows the pattern and time zone', () => {
    const scheduler = new Scheduler({ capture: { capture: async () => undefined as never }, cron: '0 * * * *', timezone: 'Asia/Kolkata', logger: quietLogger() });
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
});
