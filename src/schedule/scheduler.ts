// Cron ticks call capture('schedule'); croner's `protect` makes overlapping runs impossible.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { CaptureService } from '../capture/service.ts';

export interface SchedulerDeps {
  capture: Pick<CaptureService, 'capture'>;
  cron: string;
  timezone?: string;
  logger: Logger;
}

export class Scheduler {
  private readonly deps: SchedulerDeps;
  private job?: Cron;

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
  }

  start(): void {
    const { cron, timezone, logger } = this.deps;
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
    logger.info({ cron, timezone: timezone ?? 'system', next: this.nextRun()?.toISOString() }, 'schedule started');
  }

  nextRun(): Date | undefined {
    return this.job?.nextRun() ?? undefined;
  }

  /** The first `n` scheduled runs after `from` (the health status's staleness); [] while stopped. */
  runsAfter(from: Date, n: number): Date[] {
    return this.job?.nextRuns(n, from) ?? [];
  }

  stop(): void {
    this.job?.stop();
    this.job = undefined;
  }
}
