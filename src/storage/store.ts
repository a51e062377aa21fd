// The capture store: one folder per local day, the file names are the index, the original is the commit point.
// This file holds the save protocol; the rest lives beside it: shared state (context.ts), day folders
// (days.ts), retention (retention.ts), the crash sweep (sweep.ts); a day's timelapse is timelapse/files.ts.
// One file though over 300 lines: the save protocol and the public API of the store; retention, sweep and day listing are their own modules.
import path from 'node:path';
import type { Logger } from 'pino';
import type { LocalClock } from '../clock.ts';
import { errno, fsyncDir, tempName, writeDurable, type StorageFs } from './atomic.ts';
import { StoreContext } from './context.ts';
import { describe, findLatest, getCapture, listDay, listDays, loadCounts, loadSizes, readMeta } from './days.ts';
import { StorageError, toStorageError } from './errors.ts';
import { FILE_KINDS, captureId, fileName, isDay, type FileKind } from './layout.ts';
import { loadNow, newer, nowDir, nowStill, replaceNow } from './now.ts';
import { Retention, type PruneResult } from './retention.ts';
import { stillMeta, type RecordedMeta, type Still, type StillMeta } from './still.ts';
import { SWEEP_OLDER_DELAY_MS, SWEEP_RECENT_DAYS, sweepAtStart, sweepOlder } from './sweep.ts';

export { StorageError, type StorageErrorCode } from './errors.ts';
export type { StorageFs } from './atomic.ts';
export type { PruneResult } from './retention.ts';
export type { RecordedMeta, SavedStill, StillFiles, Still, StillMeta, Trigger } from './still.ts';

export interface CaptureStoreOptions {
  /** Root folder; day folders are created inside it. */
  dir: string;
  /** The app's clock (day folders, local times); without one, a clock for `timeZone` is made. */
  clock?: LocalClock;
  /** IANA zone for day folders and local times when no clock is given; undefined: the system's. */
  timeZone?: string;
  /** Remove day folders older than this many local days; 0 keeps everything. */
  retentionDays: number;
  /** Remove the oldest captures while the total exceeds this; 0: no limit. */
  maxBytes: number;
  /** Keep this many bytes free on the storage file system (oldest stills go first); 0: off. */
  minFree?: number;
  /** How often retention runs on its own, besides after every save; default hourly. */
  retentionIntervalMs?: number;
  logger: Logger;
  /** The clock retention measures "today" with; tests pass a fixed one. */
  now?: () => Date;
  /** File system calls; tests wrap them to spy or to inject ENOSPC. */
  fs?: StorageFs;
}

export interface SaveInput {
  capturedAt: Date;
  /** Stored byte for byte. */
  original: Buffer;
  /** May be a promise: the original is written while derived images are still being made. */
  thumb: Buffer | Promise<Buffer>;
  preview: Buffer | Promise<Buffer>;
  /** What was recorded with the still; the store adds v, id, capturedAt, capturedAtLocal, timeZone, day and bytes. */
  meta: RecordedMeta | Promise<RecordedMeta>;
  /** A visit's still: stored as the one "now" still (storage/now.ts), filed in no day, replaced by the next still. */
  transient?: boolean;
}

export class CaptureStore {
  readonly dir: string;
  /** Shared with the store's parts and with the timelapse files (timelapse/files.ts). */
  readonly context: StoreContext;
  private readonly retention: Retention;
  private readonly logger: Logger;
  /** Ids of saves not yet committed: never reused. */
  private readonly inFlightIds = new Set<string>();
  /** Thumb + preview + meta bytes of the last save: the estimate of the next save's derived files (min_free). */
  private derivedBytes?: number;
  private sweepTimer?: NodeJS.Timeout;

  constructor(opts: CaptureStoreOptions) {
    this.context = new StoreContext(opts);
    this.dir = this.context.dir;
    this.logger = opts.logger;
    this.retention = new Retention(this.context, {
      retentionDays: opts.retentionDays,
      maxBytes: opts.maxBytes,
      minFree: opts.minFree ?? 0,
      ...(opts.retentionIntervalMs ? { intervalMs: opts.retentionIntervalMs } : {}),
    });
  }

  get clock(): LocalClock {
    return this.context.clock;
  }

  /** The resolved IANA zone, e.g. `Europe/Berlin` (the system's when none was configured). */
  get timeZone(): string {
    return this.clock.timeZone;
  }

  /**
   * Creates the folder, removes crash leftovers in recent days and loads the latest capture; older day
   * folders are swept in the background a moment later. Retention runs on its timer until stop().
   */
  async start(): Promise<void> {
    const ctx = this.context;
    void this.clock; // an invalid zone fails here, not at the first save
    try {
      await ctx.fs.mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw toStorageError(err, 'create storage folder', this.dir);
    }
    const names = await ctx.readDir(this.dir);
    const days = names.filter(isDay).sort();
    const removed = await sweepAtStart(ctx, names, days);
    // A day folder made just before a crash may not have had its entry synced yet.
    await fsyncDir(ctx.fs, this.dir).catch((err: unknown) => this.logger.warn({ err, dir: this.dir }, 'fsync failed'));
    const filed = await findLatest(ctx, days);
    ctx.latest = newer(filed, await loadNow(ctx, filed));
    this.logger.info({ dir: this.dir, timeZone: this.timeZone, days: days.length, latest: ctx.latest?.id, removedLeftovers: removed }, 'capture store ready');
    const older = days.slice(0, Math.max(0, days.length - SWEEP_RECENT_DAYS));
    clearTimeout(this.sweepTimer);
    if (older.length > 0) this.sweepTimer = setTimeout(() => void sweepOlder(ctx, older), SWEEP_OLDER_DELAY_MS).unref();
    this.retention.start();
  }

  /** Stops retention's timer and a background sweep not yet begun. */
  stop(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.retention.stop();
  }

  /** The newest capture, from memory. */
  latest(): Still | undefined {
    return this.context.latest;
  }

  /**
   * Stores one capture: every file goes to a temp file in parallel (fsynced), the derived files are
   * renamed into place, then the original (the commit point), then the folder is fsynced. If the id is
   * taken (two captures in the same millisecond) the instant moves on by 1 ms: use the returned capture.
   */
  async save(input: SaveInput): Promise<Still> {
    let at = new Date(input.capturedAt.getTime());
    let id: string;
    let day: string;
    for (;;) {
      id = captureId(at);
      day = this.clock.day(at);
      if (!this.inFlightIds.has(id)) {
        this.inFlightIds.add(id); // reserve before awaiting so a concurrent save cannot take it
        let taken: boolean;
        try {
          const dir = input.transient ? nowDir(this.context) : this.context.dayDir(day);
          taken = (await this.context.statSize(path.join(dir, fileName(id, 'original')))) !== undefined;
        } catch (err) {
          this.inFlightIds.delete(id);
          throw err;
        }
        if (!taken) break;
        this.inFlightIds.delete(id);
      }
      at = new Date(at.getTime() + 1);
    }
    try {
      return await this.context.writingTo(day, () =>
        this.retention.minFree <= 0 ? this.write(input, id, day, at) : this.writeKeepingFree(input, id, day, at),
      );
    } finally {
      this.inFlightIds.delete(id);
    }
  }

  /**
   * min_free: the oldest stills go before the save if it would leave less than min_free; if the disk is
   * full anyway (estimate too low, reserved blocks, quota), they go after the failure and the save is
   * retried once.
   */
  private async writeKeepingFree(input: SaveInput, id: string, day: string, at: Date): Promise<Still> {
    const needed = input.original.length + (this.derivedBytes ?? Math.ceil(input.original.length / 8));
    await this.context.exclusive(() => this.retention.keepFree(needed, false));
    try {
      return await this.write(input, id, day, at);
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'disk_full') throw err;
      const freed = await this.context.exclusive(() => this.retention.keepFree(needed, true));
      if (freed === 0) throw err;
      this.logger.warn({ id, dir: err.path, freedBytes: freed }, 'disk was full: retrying the save after removing the oldest stills');
      return await this.write(input, id, day, at);
    }
  }

  private async write(input: SaveInput, id: string, day: string, at: Date): Promise<Still> {
    const ctx = this.context;
    const dayDir = input.transient ? nowDir(ctx) : ctx.dayDir(day);
    const capture = input.transient ? nowStill(ctx, id, at, input.original.length) : describe(ctx, id, day, at, input.original.length);
    // Derived files may still be in the making: the original's durable write overlaps with them.
    const derived = Promise.all([input.thumb, input.preview, input.meta]);
    derived.catch(() => undefined); // observed below, after the temp files are cleaned up

    try {
      const created = await ctx.fs.mkdir(dayDir, { recursive: true });
      if (created !== undefined) await fsyncDir(ctx.fs, this.dir); // the new folder's entry must survive too
    } catch (err) {
      throw toStorageError(err, 'write still to', dayDir);
    }

    const temps = {} as Record<FileKind, string>;
    for (const kind of FILE_KINDS) temps[kind] = path.join(dayDir, tempName(fileName(id, kind)));
    const data: Partial<Record<FileKind, Uint8Array>> = { original: input.original };
    let deriveError: { err: unknown } | undefined;
    const writeDerived = async (kind: Exclude<FileKind, 'original'>) => {
      let parts;
      try {
        parts = await derived;
      } catch (err) {
        deriveError = { err };
        return;
      }
      const [thumb, preview, callerMeta] = parts;
      const meta = stillMeta(capture, callerMeta, this.timeZone);
      data.thumb = thumb;
      data.preview = preview;
      data.meta = Buffer.from(JSON.stringify(meta, null, 2) + '\n');
      await writeDurable(ctx.fs, temps[kind], data[kind]!);
    };
    const results = await Promise.allSettled([
      writeDurable(ctx.fs, temps.original, input.original),
      writeDerived('thumb'),
      writeDerived('preview'),
      writeDerived('meta'),
    ]);
    if (deriveError) {
      await ctx.discard(Object.values(temps));
      throw deriveError.err; // not a storage problem: the caller classifies it
    }
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) {
      await ctx.discard(Object.values(temps));
      // When one write hit ENOSPC the others usually fail the same way; report the disk, the actionable one.
      const reason = failures.find((e) => errno(e) === 'ENOSPC' || errno(e) === 'EDQUOT') ?? failures[0];
      throw toStorageError(reason, 'write still to', dayDir);
    }

    return ctx.exclusive(async () => {
      const renamed: string[] = [];
      try {
        for (const kind of ['thumb', 'preview', 'meta'] as const) {
          await ctx.fs.rename(temps[kind], capture.files[kind]);
          renamed.push(capture.files[kind]);
        }
        // Derived files must be durable before the original makes the capture visible after a power cut.
        await fsyncDir(ctx.fs, dayDir);
        await ctx.fs.rename(temps.original, capture.files.original);
      } catch (err) {
        await ctx.discard([...Object.values(temps), ...renamed]);
        throw toStorageError(err, 'write still to', dayDir);
      }
      try {
        await fsyncDir(ctx.fs, dayDir);
      } catch (err) {
        // The capture is in place and visible; failing now would report a still that exists as lost.
        this.logger.error({ err, dir: dayDir }, 'fsync of capture folder failed');
      }
      this.derivedBytes = (data.thumb?.length ?? 0) + (data.preview?.length ?? 0) + (data.meta?.length ?? 0);
      // The one now still is left out of max_bytes and the stills kept: it is replaced by the next still.
      if (!input.transient) {
        ctx.ledger.add(
          day,
          FILE_KINDS.reduce((sum, kind) => sum + (data[kind]?.length ?? 0), 0),
        );
        ctx.stills.add(day, 1);
      }
      if (!ctx.latest || capture.id > ctx.latest.id) ctx.latest = capture;
      await replaceNow(ctx, capture);
      this.logger.debug({ id, day, bytes: capture.bytes }, 'capture stored');
      return capture;
    });
  }

  /** Captures of one day folder, oldest first. Reads only that folder. Missing day: []. */
  listDay(day: string): Promise<Still[]> {
    return listDay(this.context, day);
  }

  /** The day's captures in 24 buckets by local hour (index 0..23), each oldest first. */
  async byHour(day: string): Promise<Still[][]> {
    const hours: Still[][] = Array.from({ length: 24 }, () => []);
    for (const c of await this.listDay(day)) hours[c.hour]!.push(c);
    return hours;
  }

  /** Day folders, oldest first (anything not named `YYYY-MM-DD` is ignored). */
  listDays(): Promise<string[]> {
    return listDays(this.context);
  }

  /** One capture by id; undefined for unknown or malformed ids (never touches paths outside the store). */
  get(id: string): Promise<Still | undefined> {
    return getCapture(this.context, id);
  }

  /** One still with its metadata (`meta` undefined when that file is missing or not a still's); undefined for no such still. */
  async read(id: string): Promise<Still | undefined> {
    const still = await this.get(id);
    if (!still) return undefined;
    const meta = await readMeta(this.context, still);
    return meta ? { ...still, meta } : still;
  }

  /** The metadata stored with a still, or undefined if there is no such still (or it has none). */
  async readMeta(id: string): Promise<StillMeta | undefined> {
    return (await this.read(id))?.meta;
  }

  /** Bytes used by all capture files (computed once, then tracked). */
  async usedBytes(): Promise<number> {
    return this.context.exclusive(async () => {
      await loadSizes(this.context);
      return this.context.ledger.totalBytes;
    });
  }

  /** Stills kept (counted once from the folder listings, then tracked by saves and removals). */
  async stillsKept(): Promise<number> {
    return this.context.exclusive(async () => {
      await loadCounts(this.context);
      return this.context.stills.totalStills;
    });
  }

  /**
   * Applies retention: day folders older than retention_days local days go whole; then, while the total
   * exceeds max_bytes, the oldest captures go (never the newest). Cheap when nothing is due.
   */
  prune(): Promise<PruneResult> {
    return this.retention.prune();
  }
}
