// Gathers the camera's status from the parts that know it (camera backend, capture health, store,
// schedule, free space) and says when it changes: after every still or failure, and at the moments the
// status turns on its own (the newest still becomes overdue, a pause after failures ends).
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { CaptureFailure, CaptureService } from '../capture/service.ts';
import type { LocalClock } from '../clock.ts';
import type { Scheduler } from '../schedule/scheduler.ts';
import type { CaptureStore } from '../storage/store.ts';
import { cameraStatus, staleAfter, type CameraStatus } from './status.ts';

export interface HealthServiceDeps {
  /** The camera backend in use (camera.backend, or what `auto` found). */
  backend: string;
  /** `auto` found no camera and fell back to the synthetic scene: what the probe saw. */
  fallback?: string;
  captures: CaptureSignals;
  store: Pick<CaptureStore, 'latest' | 'stillsKept' | 'dir'>;
  /** Undefined when the schedule is off: then a still is never overdue. */
  schedule?: Pick<Scheduler, 'nextRun' | 'runsAfter'>;
  clock: LocalClock;
  logger: Logger;
  now?: () => Date;
  /** Free space of a folder; tests pass a fake. */
  statfs?: (dir: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;
}

/** What the health service needs of the capture service (tests pass a small fake). */
export interface CaptureSignals extends Pick<CaptureService, 'healthSnapshot'> {
  on(event: 'captured', fn: () => void): unknown;
  on(event: 'failed', fn: (f: CaptureFailure) => void): unknown;
  off(event: 'captured', fn: () => void): unknown;
  off(event: 'failed', fn: (f: CaptureFailure) => void): unknown;
}

export interface HealthEvents {
  /** A still was stored or a capture failed: the status may have changed. */
  changed: [];
}

/** Failure codes that are not the camera's own errors: a refusal during a pause, a shutdown. */
const NOT_ERRORS = new Set(['backoff', 'stopped']);

export class HealthService extends EventEmitter<HealthEvents> {
  private readonly deps: HealthServiceDeps;
  private startedAt?: Date;
  private lastError?: { code: string; message: string; at: Date };
  private readonly onCaptured = () => this.emit('changed');
  private readonly onFailed = (f: CaptureFailure) => {
    if (!NOT_ERRORS.has(f.error.code)) this.lastError = { code: f.error.code, message: f.error.message, at: f.at };
    this.emit('changed');
  };

  constructor(deps: HealthServiceDeps) {
    super();
    this.deps = deps;
  }

  start(): void {
    this.startedAt = this.now();
    this.deps.captures.on('captured', this.onCaptured);
    this.deps.captures.on('failed', this.onFailed);
  }

  stop(): void {
    this.deps.captures.off('captured', this.onCaptured);
    this.deps.captures.off('failed', this.onFailed);
  }

  /** The status now (GET /api/state, MQTT). */
  async status(): Promise<CameraStatus> {
    return (await this.evaluate()).status;
  }

  /** The status now, and the next moment it turns on its own (a still becomes overdue, a pause ends). */
  async evaluate(): Promise<{ status: CameraStatus; changesAt?: Date }> {
    const { deps } = this;
    const now = this.now();
    const latest = deps.store.latest();
    const latestAt = latest?.capturedAt;
    const runsAfter = (from: Date) => deps.schedule?.runsAfter(from, 2) ?? [];
    const staleAt = latestAt ? staleAfter(latestAt, runsAfter(latestAt)) : undefined;
    const startedAt = this.startedAt ?? now;
    const noStillsStaleAt = latestAt ? undefined : staleAfter(startedAt, runsAfter(startedAt));
    const [freeBytes, stillsKept] = await Promise.all([this.freeBytes(), deps.store.stillsKept().catch(() => 0)]);
    const capture = deps.captures.healthSnapshot();
    const nextAt = deps.schedule?.nextRun();
    const status = cameraStatus({
      now,
      backend: deps.backend,
      ...(deps.fallback ? { fallback: deps.fallback } : {}),
      capture,
      ...(latestAt ? { latestAt } : {}),
      ...(nextAt ? { nextAt } : {}),
      ...(staleAt ? { staleAt } : {}),
      ...(noStillsStaleAt ? { noStillsStaleAt } : {}),
      ...(freeBytes !== undefined ? { freeBytes } : {}),
      stillsKept,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      iso: (d) => deps.clock.iso(d),
    });
    const future = [latestAt ? staleAt : noStillsStaleAt, capture.paused_until ? new Date(capture.paused_until) : undefined].filter(
      (d): d is Date => d !== undefined && d > now,
    );
    const changesAt = future.length ? new Date(Math.min(...future.map((d) => d.getTime()))) : undefined;
    return changesAt ? { status, changesAt } : { status };
  }

  private async freeBytes(): Promise<number | undefined> {
    const statfs = this.deps.statfs ?? ((dir: string) => fs.statfs(dir));
    try {
      const s = await statfs(this.deps.store.dir);
      return Number(s.bavail) * Number(s.bsize);
    } catch (err) {
      this.deps.logger.debug({ err, dir: this.deps.store.dir }, 'cannot read free space');
      return undefined;
    }
  }

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }
}
