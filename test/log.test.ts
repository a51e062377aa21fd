// LogLimiter with an explicit clock: a burst of lines per window, the rest counted and summed up in one
// line when the window ends (by its timer, or at the next line after it), and limitedLog's wording.
import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { limitedLog, LogLimiter } from '../src/log.ts';
import { memoryLogger } from './helpers/setup.ts';

describe('LogLimiter', () => {
  test('the first `burst` lines of a window pass, the rest are counted; the next window starts afresh with a summary', () => {
    const sums: number[] = [];
    const limiter = new LogLimiter(3, 60_000, (n) => sums.push(n));
    const t0 = 1_000_000;
    const allowed = Array.from({ length: 10 }, (_, i) => limiter.allow(t0 + i));
    assert.deepEqual(allowed, [true, true, true, false, false, false, false, false, false, false]);
    assert.deepEqual(sums, [], 'no summary during the window');
    assert.equal(limiter.allow(t0 + 59_999), false, 'still the same window');
    assert.equal(limiter.allow(t0 + 60_000), true, 'a new window');
    assert.deepEqual(sums, [8], 'the summary of the last window, once');
    limiter.allow(t0 + 60_001);
    limiter.allow(t0 + 60_002);
    assert.equal(limiter.allow(t0 + 60_003), false);
    limiter.flush();
    limiter.flush();
    assert.deepEqual(sums, [8, 1], 'flush sums up what is held back, once');
  });

  test('a quiet window needs no summary; the timer writes the summary when the window ends, without another line', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const sums: number[] = [];
      const limiter = new LogLimiter(2, 60_000, (n) => sums.push(n));
      const t0 = 5_000_000;
      limiter.allow(t0);
      limiter.allow(t0 + 1);
      limiter.flush();
      assert.deepEqual(sums, [], 'nothing held back, no line');
      for (let i = 0; i < 100; i++) limiter.allow(t0 + 10_000 + i);
      // The first line held back came at t0 + 10 000: the window ends 50 000 ms later.
      mock.timers.tick(49_999);
      assert.deepEqual(sums, []);
      mock.timers.tick(1);
      assert.deepEqual(sums, [100], 'at the end of the window that started at t0');
    } finally {
      mock.timers.reset();
    }
  });

  test('limitedLog: 20 lines a minute, then "<n> more <what> in the last 60 s" at the given level', () => {
    const { logger, lines } = memoryLogger();
    const limiter = limitedLog(logger, 'warn', 'refused MQTT clients');
    let passed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow(7_000_000 + i)) passed++;
    assert.equal(passed, 20);
    limiter.flush();
    assert.deepEqual(
      lines().map((l) => [l.level, l.msg, l.suppressed]),
      [[40, '980 more refused MQTT clients in the last 60 s (logged 20 a minute)', 980]],
    );
  });
});
