// Day timelapses: built a few minutes after local midnight (and on demand) from the day's derived images.
import { EventEmitter } from 'node:events';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { emitSafely } from '../events.ts';
import type { LocalClock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import { addDays, isDay } from '../storage/layout.ts';
import { StorageError, type CaptureStore } from '../storage/store.ts';
import type { StoredTimelapse, TimelapseFiles } from './files.ts';
import { encodeGif, type GifResult } from './gif.ts';
import { encodeTimelapse, NoFramesError, type TimelapseResult } from './webp.ts';

export type TimelapseTrigger = 'schedule' | 'startup' | 'mqtt' | 'web' | 'cli';

/** What the outputs (MQTT, web page) announce; `url` is the page's path, with a key HA can fetch it by. */
export interface TimelapseRecord {
  day: string;
  url: string;
  frames: number;
  skipped: number;
  width: number;
  height: number;
  bytes: number;
  frame_ms: number;
  duration_s: number;
  /** The animated GIF of the same day (phone notifications), with its access key; absent when there is none. */
  gif_url?: string;
  gif_bytes?: number;
  gif_frames?: number;
  first_captured_at: string;
  last_captured_at: string;
  /** The newest still in it: a later still of the same day makes the timelapse out of date. */
  last_id: string;
  created_at: string;
  trigger: TimelapseTrigger;
}

export type TimelapseErrorCode = 'bad_day' | 'no_stills' | 'too_old' | 'no_frames' | 'disk_full' | 'io' | 'stopped' | 'internal';

export interface TimelapseFailure {
  day: string;
  trigger: TimelapseTrigger;
  at: Date;
  error: { code: TimelapseErrorCode; message: string };
  /** Caller's id (MQTT `id`), echoed in the failed event. */
  requestId?: string;
}

export class TimelapseError extends Error {
  readonly failure: TimelapseFailure;
  constructor(failure: TimelapseFailure) {
    super(failure.error.message);
    this.name = 'TimelapseError';
    this.failure = failure;
  }
}

export interface TimelapseEvents {
  built: [TimelapseRecord];
  failed: [TimelapseFailure];
}

export interface TimelapseServiceDeps {
  store: CaptureStore;
  /** The app's clock: which day is today, local times. */
  clock: LocalClock;
  /** Where a day's timelapse is stored and read back. */
  files: Pick<TimelapseFiles, 'save' | 'get'>;
  config: Config;
  logger: Logger;
  /** The page path of a day's timelapse (WebP or GIF), with its access key. */
  link: (day: string, format?: 'webp' | 'gif') => string;
  now?: () => Date;
  /** When finished days are built: 00:05 local by default (after the midnight still). Tests tick faster. */
  cron?: string;
  /** Delay of the catch-up build after start (a daemon that was off at midnight). */
  catchUpDelayMs?: number;
}

/** How many finished days the daily run and the catch-up look at. */
const FINISHED_DAYS = 2;

/** One build at a time; a request for a day that is being built joins that build. */
export class TimelapseService extends EventEmitter<TimelapseEvents> {
  private readonly deps: TimelapseServiceDeps;
  private job?: Cron;
  private catchUp?: NodeJS.Timeout;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<string, Promise<TimelapseRecord>>();
  private abort = new AbortController();
  private latestRecord?: TimelapseRecord;
  private stopped = false;

  constructor(deps: TimelapseServiceDeps) {
    super();
    this.deps = deps;
  }

  /** The newest timelapse built or found on disk (MQTT republishes it on reconnect). */
  latest(): TimelapseRecord | undefined {
    return this.latestRecord;
  }

  async start(): Promise<void> {
    const { config, logger } = this.deps;
    this.stopped = false;
    this.abort = new AbortController();
    await this.loadLatest();
    if (!config.timelapse.enabled) return;
    this.job = new Cron(
      this.deps.cron ?? '0 5 0 * * *',
      { timezone: config.schedule.timezone, protect: true, catch: (err) => logger.error({ err }, 'timelapse tick failed') },
      () => this.buildFinished('schedule'),
    );
    this.catchUp = setTimeout(() => void this.buildFinished('startup'), this.deps.catchUpDelayMs ?? 5000);
    this.catchUp.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.job?.stop();
    this.job = undefined;
    clearTimeout(this.catchUp);
    this.abort.abort(new Error('moncam is shutting down'));
    await this.tail.catch(() => undefined);
  }

  /** Builds (or rebuilds) one day's timelapse; today's holds the stills so far. Rejects with a TimelapseError. */
  build(day: string, trigger: TimelapseTrigger, requestId?: string): Promise<TimelapseRecord> {
    const joined = this.pending.get(day);
    if (joined) return joined;
    const run = this.tail.then(() => this.run(day, trigger, requestId));
    this.tail = run.catch(() => undefined);
    this.pending.set(day, run);
    void run.catch(() => undefined).finally(() => this.pending.delete(day));
    return run;
  }

  /** Builds the timelapse of each recently finished day that has stills and none up to date. */
  async buildFinished(trigger: TimelapseTrigger): Promise<void> {
    const { store, files, clock, logger } = this.deps;
    const today = clock.day(this.now());
    for (let back = FINISHED_DAYS; back >= 1; back--) {
      const day = addDays(today, -back);
      try {
        const stills = await store.listDay(day);
        if (stills.length === 0) continue;
        const existing = await files.get(day);
        if (existing?.meta.last_id === stills.at(-1)!.id) continue;
        await this.build(day, trigger);
      } catch (err) {
        if (!(err instanceof TimelapseError)) logger.error({ err, day }, 'timelapse build failed');
        if (this.stopped) return;
      }
    }
  }

  private async run(day: string, trigger: TimelapseTrigger, requestId?: string): Promise<TimelapseRecord> {
    try {
      const record = await this.make(day, trigger);
      this.latestRecord = !this.latestRecord || record.day >= this.latestRecord.day ? record : this.latestRecord;
      this.emitSafely('built', record);
      return record;
    } catch (err) {
      const failure: TimelapseFailure = { day, trigger, at: this.now(), error: this.classify(err), ...(requestId ? { requestId } : {}) };
      const log = failure.error.code === 'internal' || failure.error.code === 'io' ? 'error' : 'warn';
      this.deps.logger[log](
        { day, trigger, code: failure.error.code, err: failure.error.code === 'internal' ? err : undefined },
        `timelapse not built: ${failure.error.message}`,
      );
      this.emitSafely('failed', failure);
      throw new TimelapseError(failure);
    }
  }

  private async make(day: string, trigger: TimelapseTrigger): Promise<TimelapseRecord> {
    const { store, files, clock, config, logger } = this.deps;
    if (this.stopped) throw new TimelapseError({ day, trigger, at: this.now(), error: { code: 'stopped', message: 'moncam is shutting down' } });
    if (!isDay(day))
      throw new TimelapseError({
        day,
        trigger,
        at: this.now(),
        error: { code: 'bad_day', message: `expected a day as YYYY-MM-DD, got "${String(day).slice(0, 40)}"` },
      });
    const stills = await store.listDay(day);
    if (stills.length === 0) throw new TimelapseError({ day, trigger, at: this.now(), error: { code: 'no_stills', message: `no stills on ${day}` } });
    const days = config.storage.retention_days;
    if (days > 0 && day < addDays(clock.day(this.now()), -days)) {
      throw new TimelapseError({
        day,
        trigger,
        at: this.now(),
        error: { code: 'too_old', message: `${day} is older than storage.retention_days (${days}): its stills are due for removal` },
      });
    }
    const { size, frame_ms: frameMs, quality, gif, gif_size: gifSize } = config.timelapse;
    // Thumbnails are enough up to their size and far cheaper to decode than the previews.
    const source = (edge: number) => stills.map((c) => c.files[edge <= config.storage.thumb_width ? 'thumb' : 'preview']);
    const started = performance.now();
    const used: number[] = [];
    const signal = this.abort.signal;
    const saved: StoredTimelapse & { result: TimelapseResult & { gif?: GifResult } } = await files.save(
      day,
      async (tempFile, tempGif): Promise<TimelapseResult & { gif?: GifResult }> => {
        const webp = await encodeTimelapse(source(size), tempFile, { size, frameMs, quality, signal, onFrame: (i) => used.push(i) });
        return gif ? { ...webp, gif: await encodeGif(source(gifSize), tempGif, { size: gifSize, frameMs, signal }) } : webp;
      },
      (result, bytes) => ({
        frames: result.frames,
        skipped: result.skipped,
        width: result.width,
        height: result.height,
        bytes,
        frame_ms: frameMs,
        first_captured_at: stills[0]!.capturedAtIso,
        last_captured_at: stills.at(-1)!.capturedAtIso,
        last_id: stills.at(-1)!.id,
        frame_times: used.map((i) => stills[i]!.capturedAtIso),
        created_at: clock.iso(this.now()),
        trigger,
        ...(result.gif ? { gif: { ...result.gif } } : {}),
      }),
    );
    const record = timelapseRecord(saved, this.deps.link, trigger);
    logger.info(
      { day, trigger, frames: record.frames, skipped: record.skipped, bytes: record.bytes, ms: Math.round(performance.now() - started) },
      'timelapse built',
    );
    return record;
  }

  /** The newest timelapse on disk among the last days, so a restart announces it again. */
  private async loadLatest(): Promise<void> {
    const { store, files, logger } = this.deps;
    try {
      for (const day of (await store.listDays()).slice(-FINISHED_DAYS - 1).reverse()) {
        const found = await files.get(day);
        if (found) {
          this.latestRecord = timelapseRecord(found, this.deps.link, 'startup');
          return;
        }
      }
    } catch (err) {
      logger.warn({ err }, 'cannot read the latest timelapse');
    }
  }

  private classify(err: unknown): TimelapseFailure['error'] {
    if (err instanceof TimelapseError) return err.failure.error;
    if (this.abort.signal.aborted) return { code: 'stopped', message: 'timelapse discarded: moncam is shutting down' };
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof NoFramesError) return { code: 'no_frames', message };
    // too_old: the store refuses a day that retention dropped meanwhile (the check above raced with the clock).
    if (err instanceof StorageError) return { code: err.code, message };
    return { code: 'internal', message };
  }

  private emitSafely<K extends keyof TimelapseEvents>(event: K, ...args: TimelapseEvents[K]): void {
    emitSafely(this, this.deps.logger, 'timelapse', event, args);
  }

  private now(): Date {
    return this.deps.now ? this.deps.now() : new Date();
  }
}

/** What the outputs announce about a day's stored timelapse, from its description; `trigger` when it names none. */
export function timelapseRecord(stored: StoredTimelapse, link: TimelapseServiceDeps['link'], trigger: TimelapseTrigger): TimelapseRecord {
  const { meta, day, gif } = stored;
  const frames = meta.frames ?? 0;
  const frameMs = meta.frame_ms ?? 0;
  return {
    day,
    url: link(day),
    frames,
    skipped: meta.skipped ?? 0,
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    bytes: meta.bytes ?? 0,
    frame_ms: frameMs,
    duration_s: Math.round(frames * frameMs) / 1000,
    ...(gif ? { gif_url: link(day, 'gif'), gif_bytes: gif.bytes, gif_frames: meta.gif?.frames ?? 0 } : {}),
    first_captured_at: meta.first_captured_at ?? '',
    last_captured_at: meta.last_captured_at ?? '',
    last_id: meta.last_id ?? '',
    created_at: meta.created_at ?? '',
    trigger: (meta.trigger || trigger) as TimelapseTrigger,
  };
}
