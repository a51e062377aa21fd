// Keeps a flood of bad MQTT commands from flooding the log: journald drops a service's lines past its
// rate limit (10000 per 30 s by default), so 10 000 refused commands would also hide everything else.
// The first `burst` lines of a window are logged one by one; the rest are counted and summed up in one
// line when the window ends.
import type { Logger } from 'pino';

export class LogLimiter {
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly summary: (suppressed: number) => void;
  private windowStart = -Infinity;
  private logged = 0;
  private suppressed = 0;
  private timer?: NodeJS.Timeout;

  constructor(burst: number, windowMs: number, summary: (suppressed: number) => void) {
    this.burst = burst;
    this.windowMs = windowMs;
    this.summary = summary;
  }

  /** Whether one more line may be logged now; if not, it is counted for the summary. */
  allow(now = Date.now()): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.flush();
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged < this.burst) {
      this.logged++;
      return true;
    }
    this.suppressed++;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.windowStart + this.windowMs - now));
      this.timer.unref(); // never keeps a stopping daemon alive
    }
    return false;
  }

  /** Logs the summary of what was held back, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.suppressed) return;
    const n = this.suppressed;
    this.suppressed = 0;
    this.summary(n);
  }
}

export interface CommandLogs {
  /** Refused commands (warn). */
  refused: LogLimiter;
  /** Accepted capture commands (info). */
  accepted: LogLimiter;
  /** Ignored retained commands (warn). */
  retained: LogLimiter;
  /** Events that could not be published (warn): one per refused command when the broker is stuck. */
  eventFailures: LogLimiter;
}

const BURST = 20;
const WINDOW_MS = 60_000;

/** The limiters one MQTT bridge logs its command handling through. */
export function commandLogs(logger: Logger): CommandLogs {
  const limiter = (what: string, level: 'info' | 'warn') =>
    new LogLimiter(BURST, WINDOW_MS, (n) => logger[level]({ suppressed: n }, `${n} more ${what} in the last ${WINDOW_MS / 1000} s (logged ${BURST} a minute)`));
  return {
    refused: limiter('refused MQTT commands', 'warn'),
    accepted: limiter('MQTT capture commands', 'info'),
    retained: limiter('ignored retained MQTT commands', 'warn'),
    eventFailures: limiter('MQTT event publish failures', 'warn'),
  };
}
