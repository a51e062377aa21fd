// Cron ticks call capture('schedule'); croner's `protect` makes overlapping runs impossible.
// With `settings`, the schedule follows the effective settings: a change from Home Assistant (on/off,
// interval) replaces the cron job at once, without a restart.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { CaptureService } from '../capture/service.ts';
import type { Settings, SettingsChange } from '../settings/service.ts';

export interface SchedulerDeps {
  capture: Pick<CaptureService, 'capture'>;
  /** The pattern when there are no `settings`. */
  cron?: string;
  timezone?: string;
  /** The effective schedule.enabled and schedule.cron, followed on every change. */
  settings?: Pick<Settings, 'config' | 'on' | 'off'>;
  logger: Logger;
}

export class Scheduler {
  private readonly deps: SchedulerDeps;
  private job?: Cron;
  private running = false;
  private readonly onChange = (c: SettingsChange) => {
    if (c.keys.includes('schedule.enabled') || c.keys.includes('schedule.cron')) this.reschedule('changed');
  };

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
  }

  start(): void {
    this.running = true;
    this.deps.settings?.on('change', this.onChange);
    this.reschedule('started');
  }

  /** The next scheduled still; undefined while scheduled stills are off. */
  nextRun(): Date | undefined {
    return this.job?.nextRun() ?? undefined;
  }

  /** The pattern in effect; undefined while scheduled stills are off. */
  get cron(): string | undefined {
    return this.job ? this.pattern().cron : undefined;
  }

  /** The first `n` scheduled runs after `from` (the health status's staleness); [] while stopped. */
  runsAfter(from: Date, n: number): Date[] {
    return this.job?.nextRuns(n, from) ?? [];
  }

  stop(): void {
    this.running = false;
    this.deps.settings?.off('change', this.onChange);
    this.job?.stop();
    this.job = undefined;
  }

  private pattern(): { enabled: boolean; cron: string } {
    const s = this.deps.settings?.config.schedule;
    return s ? { enabled: s.enabled, cron: s.cron } : { enabled: true, cron: this.deps.cron ?? '0 * * * *' };
  }

  private reschedule(what: 'started' | 'changed'): void {
    if (!this.running) return;
    const { timezone, logger } = this.deps;
    this.job?.stop();
    this.job = undefined;
    const { enabled, cron } = this.pattern();
    if (!enabled) {
      logger.info(`schedule ${what}: scheduled stills are off`);
      return;
    }
    this.job = new Cron(
      cron,
      {
        timezone,
        protect: () => logger.warn('schedule tick skipped: the previous scheduled still is still running'),
        catch: (err) => logger.error({ err }, 'schedule tick failed'),
      },
      async () => {
        try {
          await this.deps.capture.capture('schedule');
        } catch {
          // Already logged and published as a `failed` event by the capture service.
        }
      },
    );
    logger.info({ cron, timezone: timezone ?? 'system', next: this.nextRun()?.toISOString() }, `schedule ${what}`);
  }
}
