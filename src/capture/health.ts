// Failures in a row and the pause they earn: a camera with a loose ribbon must not be hammered every
// second by the schedule, page visits and automations, and the user must be told why nothing happens.

export interface BackoffPolicy {
  /** Failures in a row before captures pause; 0 never pauses. */
  after: number;
  /** First pause, ms; each further failure doubles it up to `maxMs`. */
  firstMs: number;
  maxMs: number;
}

export interface LastFailure {
  code: string;
  message: string;
  at: Date;
}

/** What the page and logs say about the camera right now. */
export interface HealthSnapshot {
  ok: boolean;
  consecutive_failures: number;
  last_failure?: { code: string; message: string; at: string };
  last_success?: string;
  /** While set, captures are refused with `backoff` until then. */
  paused_until?: string;
}

export class CaptureHealth {
  private readonly policy: BackoffPolicy;
  private failures = 0;
  private last?: LastFailure;
  private lastSuccess?: Date;
  private pausedUntil?: Date;

  constructor(policy: BackoffPolicy) {
    this.policy = policy;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  get lastFailure(): LastFailure | undefined {
    return this.last;
  }

  /** The end of the current pause, or undefined when captures may run at `now`. */
  pausedAt(now: Date): Date | undefined {
    return this.pausedUntil && now < this.pausedUntil ? this.pausedUntil : undefined;
  }

  /** Returns how many failures in a row there had been (to log a recovery). */
  succeeded(at: Date): number {
    const had = this.failures;
    this.failures = 0;
    this.pausedUntil = undefined;
    this.lastSuccess = at;
    return had;
  }

  /** Counts a failure; returns the pause it starts, in ms, if it starts one. */
  failed(failure: LastFailure): number | undefined {
    this.failures++;
    this.last = failure;
    const { after, firstMs, maxMs } = this.policy;
    if (after <= 0 || this.failures < after) return undefined;
    const ms = Math.min(maxMs, firstMs * 2 ** Math.min(30, this.failures - after));
    this.pausedUntil = new Date(failure.at.getTime() + ms);
    return ms;
  }

  snapshot(now: Date): HealthSnapshot {
    const paused = this.pausedAt(now);
    return {
      ok: this.failures === 0,
      consecutive_failures: this.failures,
      ...(this.last && this.failures > 0 ? { last_failure: { code: this.last.code, message: this.last.message, at: this.last.at.toISOString() } } : {}),
      ...(this.lastSuccess ? { last_success: this.lastSuccess.toISOString() } : {}),
      ...(paused ? { paused_until: paused.toISOString() } : {}),
    };
  }
}
