// Structured logs (pino), one line per event. Never passwords, hashes or image bytes. Lines that outside
// input can cause (refused logins, commands, connections) go through a LogLimiter.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Belt and braces: these never belong in a log line even if a caller passes them.
      redact: { paths: ['password', '*.password', 'hash', '*.hash', 'preview', '*.preview', 'jpeg', '*.jpeg'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/**
 * Keeps a flood of outside input from flooding the log: journald drops a service's lines past its rate
 * limit (10000 per 30 s by default), so 10 000 refused commands or logins would also hide everything
 * else. The first `burst` lines of a window are logged one by one; the rest are counted and summed up in
 * one line when the window ends.
 */
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

const BURST = 20;
const WINDOW_MS = 60_000;

/** A limiter whose summary line says how many `what` were held back (20 lines a minute). */
export function limitedLog(logger: Logger, level: 'info' | 'warn', what: string): LogLimiter {
  return new LogLimiter(BURST, WINDOW_MS, (n) =>
    logger[level]({ suppressed: n }, `${n} more ${what} in the last ${WINDOW_MS / 1000} s (logged ${BURST} a minute)`),
  );
}
