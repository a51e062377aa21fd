// The status as a pure function: which state wins, what the reason and advice say, and when a still
// becomes overdue for regular and night-resting schedules (runs from real croner).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cron } from 'croner';
import { cameraStatus, staleAfter, type StatusInputs } from '../../src/health/status.ts';
import { LocalClock } from '../../src/clock.ts';

const clock = new LocalClock('Europe/Berlin');
const runs = (cron: string, from: Date) => new Cron(cron, { paused: true, timezone: 'Europe/Berlin' }).nextRuns(2, from);
const at = (iso: string) => new Date(iso);

function inputs(over: Partial<StatusInputs> = {}): StatusInputs {
  return {
    now: at('2026-06-01T10:00:00Z'),
    backend: 'rpicam',
    capture: { ok: true, consecutive_failures: 0 },
    latestAt: at('2026-06-01T09:55:02Z'),
    stillsKept: 12,
    iso: (d) => clock.iso(d),
    ...over,
  };
}

describe('staleAfter', () => {
  test('a regular schedule: twice the interval after the newest still, plus a tenth of it', () => {
    const latest = at('2026-06-01T10:00:04Z'); // the 12:00 still of */5, stored 4 s late
    const due = staleAfter(latest, runs('*/5 * * * *', latest));
    assert.equal(due?.toISOString(), '2026-06-01T10:10:34.000Z');
    const hourly = at('2026-06-01T10:00:04Z');
    assert.equal(staleAfter(hourly, runs('0 * * * *', hourly))?.toISOString(), '2026-06-01T12:01:04.000Z', 'grace is capped at a minute');
  });

  test('a schedule that rests at night is not stale all night, only once two morning stills are missing', () => {
    const evening = at('2026-06-01T18:55:03Z'); // 20:55 in Berlin, the last still of */5 6-20
    const due = staleAfter(evening, runs('*/5 6-20 * * *', evening));
    // 06:00 and 06:05 Berlin the next morning are 04:00 and 04:05 UTC.
    assert.equal(due?.toISOString(), '2026-06-02T04:05:30.000Z');
  });

  test('no schedule: never overdue', () => {
    assert.equal(staleAfter(at('2026-06-01T10:00:00Z'), []), undefined);
  });
});

describe('cameraStatus', () => {
  test('ok: nothing to say, times with offset', () => {
    const s = cameraStatus(inputs({ nextAt: at('2026-06-01T10:00:00Z'), staleAt: at('2026-06-01T10:05:32Z'), freeBytes: 5e9 }));
    assert.deepEqual(s, {
      backend: 'rpicam',
      synthetic: false,
      state: 'ok',
      stale: false,
      reason: null,
      advice: null,
      latest_at: '2026-06-01T11:55:02.000+02:00',
      next_at: '2026-06-01T12:00:00.000+02:00',
      free_bytes: 5e9,
      stills_kept: 12,
      last_error: null,
    });
  });

  test('stale once the newest still is overdue, with how old it is', () => {
    const s = cameraStatus(inputs({ now: at('2026-06-01T10:40:00Z'), staleAt: at('2026-06-01T10:05:32Z') }));
    assert.equal(s.state, 'stale');
    assert.equal(s.stale, true);
    assert.match(s.reason!, /45 minutes old/);
    assert.ok(s.advice);
  });

  test('failing: the last error and what to do about it', () => {
    const failure = { code: 'no_camera', message: 'no camera available', at: '2026-06-01T09:59:00.000Z' };
    const s = cameraStatus(inputs({ capture: { ok: false, consecutive_failures: 2, last_failure: failure } }));
    assert.equal(s.state, 'failing');
    assert.equal(s.stale, true, 'a failing camera is stale even though the newest still is recent');
    assert.match(s.reason!, /last 2 captures failed \(no_camera: no camera available\)/);
    assert.match(s.advice!, /ribbon cable/);
    assert.deepEqual(s.last_error, { code: 'no_camera', message: 'no camera available', at: '2026-06-01T11:59:00.000+02:00' });
  });

  test('paused wins over failing while the pause lasts, then failing again', () => {
    const failure = { code: 'timeout', message: 'no picture within 30 s', at: '2026-06-01T09:59:00.000Z' };
    const capture = { ok: false, consecutive_failures: 5, last_failure: failure, paused_until: '2026-06-01T10:04:00.000Z' };
    const paused = cameraStatus(inputs({ capture }));
    assert.equal(paused.state, 'paused');
    assert.match(paused.reason!, /paused until 12:04 after 5 failures in a row/);
    assert.match(paused.advice!, /camera\.timeout_ms/);
    assert.equal(cameraStatus(inputs({ capture, now: at('2026-06-01T10:04:00Z') })).state, 'failing');
  });

  test('no stills: not stale until the schedule should have taken two', () => {
    const base = inputs({ latestAt: undefined, noStillsStaleAt: at('2026-06-01T10:10:30Z') });
    const early = cameraStatus(base);
    assert.equal(early.state, 'no_stills');
    assert.equal(early.stale, false);
    assert.equal(early.latest_at, null);
    const late = cameraStatus({ ...base, now: at('2026-06-01T10:10:30Z') });
    assert.equal(late.state, 'no_stills');
    assert.equal(late.stale, true);
  });

  test('a synthetic fallback is said plainly without calling it stale', () => {
    const s = cameraStatus(inputs({ backend: 'synthetic', fallback: 'rpicam-still: No cameras available!' }));
    assert.equal(s.synthetic, true);
    assert.equal(s.state, 'ok');
    assert.equal(s.stale, false);
    assert.match(s.reason!, /No camera was found.*synthetic test scene \(rpicam-still: No cameras available!\)/);
    assert.match(s.advice!, /ribbon cable/);
    const chosen = cameraStatus(inputs({ backend: 'synthetic' }));
    assert.equal(chosen.reason, null, 'camera.backend: synthetic on purpose is not a problem');
  });

  test('the last error stays after captures work again', () => {
    const s = cameraStatus(inputs({ lastError: { code: 'busy', message: 'camera busy', at: at('2026-06-01T08:00:00Z') } }));
    assert.equal(s.state, 'ok');
    assert.deepEqual(s.last_error, { code: 'busy', message: 'camera busy', at: '2026-06-01T10:00:00.000+02:00' });
  });
});
