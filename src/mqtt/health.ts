// Publishes the camera's status (src/health/) retained on the health topic, which HA's Stale problem
// sensor and the diagnostic sensors read: on every (re)connect and HA birth (the bridge calls publish()),
// after each still or failure, and at the moment the status turns on its own (a still becomes overdue,
// a pause ends), with a periodic refresh for free space and a schedule changed from elsewhere.
import type { Logger } from 'pino';
import type { HealthService } from '../health/service.ts';
import { LatestWins } from './latest-wins.ts';

/** Timer calls; tests pass a fake clock's. */
export interface TimerHooks {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type RetainedSend = (topic: string, payload: string) => Promise<void>;

export interface HealthPublisherDeps {
  health: Pick<HealthService, 'evaluate' | 'on' | 'off'>;
  topic: string;
  /** Publishes retained on the current connection; rejects while offline (everything is republished on connect). */
  send: RetainedSend;
  logger: Logger;
  /** Longest wait between two looks at the status (free space changes without a still). Default 10 min. */
  refreshMs?: number;
  timers?: TimerHooks;
  now?: () => Date;
}

const DEFAULT_REFRESH_MS = 10 * 60_000;
/** Node fires longer timeouts at once (with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A timer set for the exact moment fires a hair late rather than early: the status is read after it. */
const LATE_MS = 5;

const realTimers: TimerHooks = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class HealthPublisher {
  private readonly deps: HealthPublisherDeps;
  private timer?: unknown;
  private running = false;
  /** The payload the broker holds (retained); a look that finds the same one publishes nothing. */
  private published?: string;
  /** One publish at a time, newest wins: an older status never overwrites a newer one. */
  private readonly queue = new LatestWins();
  private readonly onChanged = () => void this.refresh();

  constructor(deps: HealthPublisherDeps) {
    this.deps = deps;
  }

  start(): void {
    this.running = true;
    this.deps.health.on('changed', this.onChanged);
  }

  stop(): void {
    this.running = false;
    this.deps.health.off('changed', this.onChanged);
    this.clearTimer();
  }

  /**
   * On connect and HA birth: publishes the status whatever was published before (a restarted broker may
   * have lost it), with `send` (that connection).
   */
  publish(send: RetainedSend): Promise<void> {
    this.published = undefined;
    return this.queue.run(() => this.look(send));
  }

  /** Publishes the status if it changed; offline it waits for the next connect. */
  refresh(): Promise<void> {
    return this.queue
      .run(() => this.look(this.deps.send))
      .catch((err: unknown) => {
        this.deps.logger.debug({ err: { message: (err as Error).message } }, 'health status not published; it is on the next connect');
      });
  }

  private async look(send: RetainedSend): Promise<void> {
    if (!this.running) return;
    const { status, changesAt } = await this.deps.health.evaluate();
    this.arm(changesAt);
    const payload = JSON.stringify(status);
    if (payload === this.published) return;
    this.published = undefined; // unknown until the broker has it
    await send(this.deps.topic, payload);
    this.published = payload;
  }

  private arm(changesAt: Date | undefined): void {
    this.clearTimer();
    if (!this.running) return;
    const refresh = this.deps.refreshMs ?? DEFAULT_REFRESH_MS;
    const now = (this.deps.now ?? (() => new Date()))().getTime();
    const until = changesAt ? Math.max(0, changesAt.getTime() - now) + LATE_MS : Infinity;
    const timers = this.deps.timers ?? realTimers;
    this.timer = timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.refresh();
      },
      Math.min(refresh, until, MAX_TIMER_MS),
    );
  }

  private clearTimer(): void {
    if (this.timer !== undefined) (this.deps.timers ?? realTimers).clearTimeout(this.timer);
    this.timer = undefined;
  }
}
