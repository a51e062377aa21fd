// The capture store: one folder per local day, the file names are the index, the original is the commit point.
// Over 300 lines for now: splitting it is issue 14 (one typed Still first, then the split; behaviour unchanged).
import path from 'node:path';
import type { Logger } from 'pino';
import { errno, fsyncDir, isTempName, isTrashName, nodeFs, tempName, trashName, unlinkQuiet, writeDurable, type StorageFs } from './atomic.ts';
import { StorageError, toStorageError } from './errors.ts';
import { FILE_KINDS, LocalClock, TIMELAPSE_FILE, addDays, captureId, fileName, isDay, parseCaptureId, parseFileName, type FileKind } from './layout.ts';

export { StorageError, type StorageErrorCode } from './errors.ts';
export type { StorageFs } from './atomic.ts';

export interface CaptureStoreOptions {
  /** Root folder; day folders are created inside it. */
  dir: string;
  /** IANA zone for day folders and local times; undefined: the system's. */
  timeZone?: string;
  /** Remove day folders older than this many local days; 0 keeps everything. */
  retentionDays: number;
  /** Remove the oldest captures while the total exceeds this; 0: no limit. */
  maxBytes: number;
  /** Keep this many bytes free on the storage file system (oldest stills go first); 0: off. */
  minFree?: number;
  logger: Logger;
  /** The clock retention measures "today" with; tests pass a fixed one. */
  now?: () => Date;
  /** File system calls; tests wrap them to spy or to inject ENOSPC. */
  fs?: StorageFs;
}

/** Absolute paths of one capture's files. */
export type CaptureFiles = Record<FileKind, string>;

export interface StoredCapture {
  /** `20261123T200804.123Z`, the capture instant in UTC. */
  id: string;
  /** The day folder, `YYYY-MM-DD` (local day in the store's zone when it was saved). */
  day: string;
  capturedAt: Date;
  /** Local time with offset in the store's zone, e.g. `2026-11-23T21:08:04.123+01:00`. */
  capturedAtIso: string;
  /** Local hour 0..23 in the store's zone. */
  hour: number;
  /** Size of the original. */
  bytes: number;
  files: CaptureFiles;
}

export interface SaveInput {
  capturedAt: Date;
  /** Stored byte for byte. */
  original: Buffer;
  /** May be a promise: the original is written while derived images are still being made. */
  thumb: Buffer | Promise<Buffer>;
  preview: Buffer | Promise<Buffer>;
  /** Caller's metadata; the store adds id, capturedAt, capturedAtLocal, timeZone, day and bytes (its values win). */
  meta: Record<string, unknown> | Promise<Record<string, unknown>>;
}

export interface PruneResult {
  /** Day folders removed (by age, or emptied by the size limit). */
  removedDays: string[];
  /** Captures removed one by one by the size limit (not the contents of removed days). */
  removedIds: string[];
  freedBytes: number;
}

/**
 * How many of the newest day folders start() sweeps for crash leftovers before it returns. Saves go to
 * the day of "now", so leftovers are nearly always there. Older folders can hold some too: a save made
 * while the clock was wrong (a Pi without RTC before NTP), or orphans of a size/min_free removal cut
 * short. Those are swept in the background shortly after start, so start() stays cheap with years of
 * folders; leftovers are never listed or served in the meantime, they only take space.
 */
const SWEEP_RECENT_DAYS = 7;
/** Delay before the background sweep of the older day folders. */
const SWEEP_OLDER_DELAY_MS = 1000;

/** Day folders around the id's local day that get() tries when the zone changed since the save. */
const DAY_FALLBACKS = [0, -1, 1, -2, 2];

/** Capture files by id; the day's timelapse files, if any, under TIMELAPSE_GROUP (sorted after every id). */
type DayScan = Map<string, { size: number; names: Map<FileKind, number>; files?: Array<{ file: string; size: number }> }>;
const TIMELAPSE_GROUP = '~timelapse';

/** What saveTimelapse() is given to describe a timelapse; the store adds day, file and bytes. */
export type TimelapseMeta = Record<string, unknown>;

export interface StoredTimelapse {
  day: string;
  file: string;
  bytes: number;
  meta: TimelapseMeta;
}

export class CaptureStore {
  readonly dir: string;
  private readonly timeZoneOption: string | undefined;
  private readonly retentionDays: number;
  private readonly maxBytes: number;
  private readonly minFree: number;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly fs: StorageFs;

  private clockCache?: LocalClock;
  private latestCapture?: StoredCapture;
  /** Bytes of capture files per day folder; computed on first need (size limit), then kept up to date. */
  private daySizes?: Map<string, number>;
  private totalBytes = 0;
  /** Ids and days of saves not yet committed: never reused, and their folders never removed. */
  private readonly inFlightIds = new Set<string>();
  private readonly inFlightDays = new Map<string, number>();
  /** Commits, pruning and size accounting run one at a time so the totals stay exact. */
  private tail: Promise<unknown> = Promise.resolve();
  /** The older day folder the background sweep is clearing; a save into it waits (its temp files look like leftovers). */
  private sweeping?: { day: string; done: Promise<void> };
  /** Thumb + preview + meta bytes of the last save: the estimate of the next save's derived files (min_free). */
  private derivedBytes?: number;
  private statfsWarned = false;

  constructor(opts: CaptureStoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.timeZoneOption = opts.timeZone;
    this.retentionDays = opts.retentionDays;
    this.maxBytes = opts.maxBytes;
    this.minFree = opts.minFree ?? 0;
    this.logger = opts.logger;
    this.now = opts.now ?? (() => new Date());
    this.fs = opts.fs ?? nodeFs;
  }

  /** Day/hour/ISO formatting in the store's zone; built once (Intl formatters are costly). */
  get clock(): LocalClock {
    return (this.clockCache ??= new LocalClock(this.timeZoneOption));
  }

  /** The resolved IANA zone, e.g. `Europe/Berlin` (the system's when none was configured). */
  get timeZone(): string {
    return this.clock.timeZone;
  }

  localDay(date: Date): string {
    return this.clock.day(date);
  }

  localHour(date: Date): number {
    return this.clock.hour(date);
  }

  isoWithOffset(date: Date): string {
    return this.clock.iso(date);
  }

  /**
   * Creates the folder, removes crash leftovers in recent days and loads the latest capture; older day
   * folders are swept in the background a moment later.
   */
  async start(): Promise<void> {
    void this.clock; // an invalid zone fails here, not at the first save
    try {
      await this.fs.mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw toStorageError(err, 'create storage folder', this.dir);
    }
    const names = await this.readDir(this.dir);
    const days = names.filter(isDay).sort();
    let removed = 0;
    // Day folders that age retention renamed away but had not finished removing.
    for (const name of names.filter(isTrashName)) {
      try {
        await this.fs.rm(path.join(this.dir, name), { recursive: true, force: true });
        removed++;
      } catch (err) {
        this.logger.warn({ err, dir: path.join(this.dir, name) }, 'cannot remove an old day folder left by an interrupted cleanup');
      }
    }
    for (const day of days.slice(-SWEEP_RECENT_DAYS)) removed += await this.sweepDay(day);
    // A day folder made just before a crash may not have had its entry synced yet.
    await fsyncDir(this.fs, this.dir).catch((err: unknown) => this.logger.warn({ err, dir: this.dir }, 'fsync failed'));
    this.latestCapture = await this.findLatest(days);
    this.logger.info(
      { dir: this.dir, timeZone: this.timeZone, days: days.length, latest: this.latestCapture?.id, removedLeftovers: removed },
      'capture store ready',
    );
    const older = days.slice(0, Math.max(0, days.length - SWEEP_RECENT_DAYS));
    if (older.length > 0) setTimeout(() => void this.sweepOlder(older), SWEEP_OLDER_DELAY_MS).unref();
  }

  /** Sweeps day folders start() left out, one at a time, never one a save is writing to. */
  private async sweepOlder(days: string[]): Promise<void> {
    const started = Date.now();
    let removed = 0;
    try {
      for (const day of days) {
        removed += await this.exclusive(async () => {
          if (this.inFlightDays.has(day)) return 0; // its temp files are a save's, not leftovers
          let done!: () => void;
          this.sweeping = { day, done: new Promise<void>((resolve) => (done = resolve)) };
          try {
            return await this.sweepDay(day);
          } finally {
            this.sweeping = undefined;
            done();
          }
        });
      }
    } catch (err) {
      this.logger.warn({ err }, 'sweep of older day folders failed');
      return;
    }
    this.logger.info({ days: days.length, removedLeftovers: removed, ms: Date.now() - started }, 'older day folders swept');
  }

  /** The newest capture, from memory. */
  latest(): StoredCapture | undefined {
    return this.latestCapture;
  }

  /**
   * Stores one capture: every file goes to a temp file in parallel (fsynced), the derived files are
   * renamed into place, then the original (the commit point), then the folder is fsynced. If the id is
   * taken (two captures in the same millisecond) the instant moves on by 1 ms: use the returned capture.
   */
  async save(input: SaveInput): Promise<StoredCapture> {
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
          taken = await this.originalExists(day, id);
        } catch (err) {
          this.inFlightIds.delete(id);
          throw err;
        }
        if (!taken) break;
        this.inFlightIds.delete(id);
      }
      at = new Date(at.getTime() + 1);
    }
    this.inFlightDays.set(day, (this.inFlightDays.get(day) ?? 0) + 1);
    try {
      const sweep = this.sweeping;
      if (sweep?.day === day) await sweep.done;
      if (this.minFree <= 0) return await this.write(input, id, day, at);
      return await this.writeKeepingFree(input, id, day, at);
    } finally {
      this.inFlightIds.delete(id);
      const n = (this.inFlightDays.get(day) ?? 1) - 1;
      if (n > 0) this.inFlightDays.set(day, n);
      else this.inFlightDays.delete(day);
    }
  }

  /**
   * min_free: the oldest stills go before the save if it would leave less than min_free; if the disk is
   * full anyway (estimate too low, reserved blocks, quota), they go after the failure and the save is
   * retried once.
   */
  private async writeKeepingFree(input: SaveInput, id: string, day: string, at: Date): Promise<StoredCapture> {
    const needed = input.original.length + (this.derivedBytes ?? Math.ceil(input.original.length / 8));
    await this.exclusive(() => this.keepFree(needed, false));
    try {
      return await this.write(input, id, day, at);
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'disk_full') throw err;
      const freed = await this.exclusive(() => this.keepFree(needed, true));
      if (freed === 0) throw err;
      this.logger.warn({ id, dir: err.path, freedBytes: freed }, 'disk was full: retrying the save after removing the oldest stills');
      return await this.write(input, id, day, at);
    }
  }

  /**
   * Removes the oldest stills (never the newest) until `needed` more bytes fit with min_free to spare;
   * after a failed save (`afterFull`) at least `needed` bytes go whatever statfs says. Best effort:
   * problems are logged, the save reports its own. Returns the bytes freed.
   */
  private async keepFree(needed: number, afterFull: boolean): Promise<number> {
    let stat: { bavail: number; bsize: number } | undefined;
    try {
      stat = await this.fs.statfs(this.dir);
    } catch (err) {
      if (!this.statfsWarned) this.logger.warn({ err, dir: this.dir }, 'cannot read free space; min_free is only applied after a save fails for a full disk');
      this.statfsWarned = true;
      if (!afterFull) return 0;
    }
    const bsize = stat?.bsize || 4096;
    const free = stat ? stat.bavail * stat.bsize : 0;
    const want = needed + 4 * bsize; // four files, each rounded up to a block
    let freed = 0; // counted in blocks, as the file system frees them
    // A statfs that still shows room after the disk said it is full (reserved blocks, a quota) is not
    // believed: then at least the save's size is removed.
    const trusted = !afterFull || free < want;
    const enough = () => (trusted ? free + freed - want >= this.minFree : freed >= needed);
    if (enough()) return 0;
    const result: PruneResult = { removedDays: [], removedIds: [], freedBytes: 0 };
    try {
      await this.removeOldest(result, enough, (sizes) => {
        for (const size of sizes) freed += Math.ceil(size / bsize) * bsize;
      });
    } catch (err) {
      this.logger.warn({ err }, 'cannot remove old stills to keep min_free');
    }
    if (result.removedDays.length > 0) await fsyncDir(this.fs, this.dir).catch(() => {});
    const fields = { reason: afterFull ? 'disk_full' : 'min_free', minFree: this.minFree, freeBytes: free, neededBytes: want, removedIds: result.removedIds, removedDays: result.removedDays, freedBytes: result.freedBytes };
    if (result.freedBytes > 0) this.logger.info(fields, afterFull ? 'disk full: removed the oldest stills to make room' : 'min_free: removed the oldest stills to keep space free');
    if (!enough()) this.logger.warn(fields, `cannot keep ${this.minFree} bytes free in ${this.dir}: nothing left to remove but the newest still`);
    return freed;
  }

  private async write(input: SaveInput, id: string, day: string, at: Date): Promise<StoredCapture> {
    const dayDir = this.dayDir(day);
    const capture = this.describe(id, day, at, input.original.length);
    // Derived files may still be in the making: the original's durable write overlaps with them.
    const derived = Promise.all([input.thumb, input.preview, input.meta]);
    derived.catch(() => undefined); // observed below, after the temp files are cleaned up

    try {
      const created = await this.fs.mkdir(dayDir, { recursive: true });
      if (created !== undefined) await fsyncDir(this.fs, this.dir); // the new folder's entry must survive too
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
      const meta = { ...callerMeta, id, capturedAt: at.toISOString(), capturedAtLocal: capture.capturedAtIso, timeZone: this.timeZone, day, bytes: input.original.length };
      data.thumb = thumb;
      data.preview = preview;
      data.meta = Buffer.from(JSON.stringify(meta, null, 2) + '\n');
      await writeDurable(this.fs, temps[kind], data[kind]!);
    };
    const results = await Promise.allSettled([writeDurable(this.fs, temps.original, input.original), writeDerived('thumb'), writeDerived('preview'), writeDerived('meta')]);
    if (deriveError) {
      await this.discard(Object.values(temps));
      throw deriveError.err; // not a storage problem: the caller classifies it
    }
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) {
      await this.discard(Object.values(temps));
      // When one write hit ENOSPC the others usually fail the same way; report the disk, the actionable one.
      const reason = failures.find((e) => errno(e) === 'ENOSPC' || errno(e) === 'EDQUOT') ?? failures[0];
      throw toStorageError(reason, 'write still to', dayDir);
    }

    return this.exclusive(async () => {
      const renamed: string[] = [];
      try {
        for (const kind of ['thumb', 'preview', 'meta'] as const) {
          await this.fs.rename(temps[kind], capture.files[kind]);
          renamed.push(capture.files[kind]);
        }
        // Derived files must be durable before the original makes the capture visible after a power cut.
        await fsyncDir(this.fs, dayDir);
        await this.fs.rename(temps.original, capture.files.original);
      } catch (err) {
        await this.discard([...Object.values(temps), ...renamed]);
        throw toStorageError(err, 'write still to', dayDir);
      }
      try {
        await fsyncDir(this.fs, dayDir);
      } catch (err) {
        // The capture is in place and visible; failing now would report a still that exists as lost.
        this.logger.error({ err, dir: dayDir }, 'fsync of capture folder failed');
      }
      this.derivedBytes = (data.thumb?.length ?? 0) + (data.preview?.length ?? 0) + (data.meta?.length ?? 0);
      if (this.daySizes) {
        const size = FILE_KINDS.reduce((sum, kind) => sum + (data[kind]?.length ?? 0), 0);
        this.daySizes.set(day, (this.daySizes.get(day) ?? 0) + size);
        this.totalBytes += size;
      }
      if (!this.latestCapture || capture.id > this.latestCapture.id) this.latestCapture = capture;
      this.logger.debug({ id, day, bytes: capture.bytes }, 'capture stored');
      return capture;
    });
  }

  /**
   * Stores a day's timelapse: `build` writes the video to the temp file it is given (and fsyncs it);
   * then the video and its metadata are renamed into place, the video first: a crash between the two
   * leaves the new video with the previous description, which reads as out of date (rebuilt), never an
   * old video described as current. A crash at any point leaves a whole video, never a partial one.
   * The day is protected from age retention while it is built; a day retention already dropped is refused.
   */
  async saveTimelapse<T>(day: string, build: (tempFile: string) => Promise<T>, meta: (result: T, bytes: number) => TimelapseMeta): Promise<StoredTimelapse & { result: T }> {
    if (!isDay(day)) throw new RangeError(`invalid day "${String(day)}": expected YYYY-MM-DD`);
    if (this.retentionDays > 0 && day < addDays(this.clock.day(this.now()), -this.retentionDays)) {
      throw new StorageError('too_old', `${day} is older than storage.retention_days (${this.retentionDays}): its stills are due for removal`, this.dayDir(day));
    }
    const dayDir = this.dayDir(day);
    const video = path.join(dayDir, TIMELAPSE_FILE.video);
    const metaFile = path.join(dayDir, TIMELAPSE_FILE.meta);
    const tempVideo = path.join(dayDir, tempName(TIMELAPSE_FILE.video));
    const tempMeta = path.join(dayDir, tempName(TIMELAPSE_FILE.meta));
    this.inFlightDays.set(day, (this.inFlightDays.get(day) ?? 0) + 1);
    try {
      const sweep = this.sweeping;
      if (sweep?.day === day) await sweep.done;
      let result: T;
      let bytes: number;
      let metaBytes: Buffer;
      let full: TimelapseMeta;
      try {
        result = await build(tempVideo);
        bytes = (await this.fs.stat(tempVideo)).size;
        full = { ...meta(result, bytes), day, bytes };
        metaBytes = Buffer.from(JSON.stringify(full, null, 2) + '\n');
        await writeDurable(this.fs, tempMeta, metaBytes);
      } catch (err) {
        await this.discard([tempVideo, tempMeta]);
        throw errno(err) ? toStorageError(err, 'write timelapse to', dayDir) : err;
      }
      return await this.exclusive(async () => {
        const before = this.daySizes ? await this.timelapseBytes(day) : 0;
        try {
          await this.fs.rename(tempVideo, video);
          await this.fs.rename(tempMeta, metaFile);
          await fsyncDir(this.fs, dayDir);
        } catch (err) {
          await this.discard([tempVideo, tempMeta]);
          // The video may be in place already (a later step failed): the totals follow what is on disk.
          if (this.daySizes) {
            const delta = (await this.timelapseBytes(day).catch(() => before)) - before;
            this.daySizes.set(day, (this.daySizes.get(day) ?? 0) + delta);
            this.totalBytes += delta;
          }
          throw toStorageError(err, 'write timelapse to', dayDir);
        }
        if (this.daySizes) {
          const delta = bytes + metaBytes.length - before;
          this.daySizes.set(day, (this.daySizes.get(day) ?? 0) + delta);
          this.totalBytes += delta;
        }
        this.logger.debug({ day, bytes }, 'timelapse stored');
        return { day, file: video, bytes, meta: full, result };
      });
    } finally {
      const n = (this.inFlightDays.get(day) ?? 1) - 1;
      if (n > 0) this.inFlightDays.set(day, n);
      else this.inFlightDays.delete(day);
    }
  }

  /** The day's timelapse, or undefined when there is none (or the day is not a valid day). */
  async timelapse(day: string): Promise<StoredTimelapse | undefined> {
    if (!isDay(day)) return undefined;
    const file = path.join(this.dayDir(day), TIMELAPSE_FILE.video);
    const bytes = await this.statSize(file);
    if (bytes === undefined || bytes === 0) return undefined;
    let meta: TimelapseMeta = {};
    try {
      const value: unknown = JSON.parse((await this.fs.readFile(path.join(this.dayDir(day), TIMELAPSE_FILE.meta))).toString('utf8'));
      if (value && typeof value === 'object' && !Array.isArray(value)) meta = value as TimelapseMeta;
    } catch {
      // A missing or unreadable description does not hide the video; the builder treats it as out of date.
    }
    return { day, file, bytes, meta: { ...meta, day, bytes } };
  }

  /** Captures of one day folder, oldest first. Reads only that folder. Missing day: []. */
  async listDay(day: string): Promise<StoredCapture[]> {
    if (!isDay(day)) throw new RangeError(`invalid day "${String(day)}": expected YYYY-MM-DD`);
    const names = await this.readDir(this.dayDir(day));
    const ids = names.flatMap((name) => {
      const f = parseFileName(name);
      return f?.kind === 'original' ? [f.id] : [];
    });
    ids.sort();
    const captures = await Promise.all(ids.map((id) => this.statCapture(day, id)));
    return captures.filter((c): c is StoredCapture => c !== undefined);
  }

  /** The day's captures in 24 buckets by local hour (index 0..23), each oldest first. */
  async byHour(day: string): Promise<StoredCapture[][]> {
    const hours: StoredCapture[][] = Array.from({ length: 24 }, () => []);
    for (const c of await this.listDay(day)) hours[c.hour]!.push(c);
    return hours;
  }

  /** Day folders, oldest first (anything not named `YYYY-MM-DD` is ignored). */
  async listDays(): Promise<string[]> {
    return (await this.readDir(this.dir)).filter(isDay).sort();
  }

  /** One capture by id; undefined for unknown or malformed ids (never touches paths outside the store). */
  async get(id: string): Promise<StoredCapture | undefined> {
    const at = parseCaptureId(id);
    if (!at) return undefined;
    const day = this.clock.day(at);
    for (const delta of DAY_FALLBACKS) {
      const capture = await this.statCapture(delta === 0 ? day : addDays(day, delta), id);
      if (capture) return capture;
    }
    return undefined;
  }

  /** The metadata object stored with a capture, or undefined if there is no such capture. */
  async readMeta(id: string): Promise<Record<string, unknown> | undefined> {
    const capture = await this.get(id);
    if (!capture) return undefined;
    let text: string;
    try {
      text = (await this.fs.readFile(capture.files.meta)).toString('utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw toStorageError(err, 'read', capture.files.meta);
    }
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through: reported below
    }
    throw new StorageError('io', `cannot read ${capture.files.meta}: not a JSON object`, capture.files.meta);
  }

  /** Bytes used by all capture files (computed once, then tracked). */
  async usedBytes(): Promise<number> {
    return this.exclusive(async () => {
      await this.loadSizes();
      return this.totalBytes;
    });
  }

  /**
   * Applies retention: day folders older than retention_days local days go whole; then, while the total
   * exceeds max_bytes, the oldest captures go (never the newest). Cheap when nothing is due.
   */
  async prune(): Promise<PruneResult> {
    return this.exclusive(async () => {
      const result: PruneResult = { removedDays: [], removedIds: [], freedBytes: 0 };
      if (this.retentionDays > 0) await this.pruneByAge(result);
      if (this.maxBytes > 0) await this.pruneBySize(result);
      if (result.removedDays.length > 0 || result.removedIds.length > 0) {
        if (this.latestCapture && !(await this.originalExists(this.latestCapture.day, this.latestCapture.id))) {
          this.latestCapture = await this.findLatest(await this.listDays());
        }
        await fsyncDir(this.fs, this.dir).catch((err: unknown) => this.logger.warn({ err, dir: this.dir }, 'fsync failed'));
        this.logger.info(
          { removedDays: result.removedDays, removedCaptures: result.removedIds.length, freedBytes: result.freedBytes },
          'retention removed old stills',
        );
      }
      return result;
    });
  }

  private async pruneByAge(result: PruneResult): Promise<void> {
    const cutoff = addDays(this.clock.day(this.now()), -this.retentionDays);
    for (const day of await this.listDays()) {
      if (day >= cutoff) break;
      if (this.inFlightDays.has(day)) continue;
      const size = this.daySizes?.get(day) ?? sumSizes(await this.scanDay(day));
      // Renamed out of the listing first, so a crash halfway through rm never leaves half a day listed.
      let doomed = path.join(this.dir, trashName(day));
      try {
        await this.fs.rename(this.dayDir(day), doomed);
        await fsyncDir(this.fs, this.dir).catch(() => {});
      } catch {
        doomed = this.dayDir(day); // a file system that cannot rename folders: removed in place
      }
      try {
        await this.fs.rm(doomed, { recursive: true, force: true });
      } catch (err) {
        this.logger.warn({ err, day, dir: doomed }, 'cannot remove old day folder');
        if (doomed === this.dayDir(day)) continue; // still listed: not removed
      }
      result.removedDays.push(day);
      result.freedBytes += size;
      if (this.daySizes?.delete(day)) this.totalBytes -= size;
    }
  }

  private async pruneBySize(result: PruneResult): Promise<void> {
    await this.loadSizes();
    if (this.totalBytes <= this.maxBytes) return; // the common case after a save: no I/O at all
    await this.removeOldest(result, () => this.totalBytes <= this.maxBytes);
    if (this.totalBytes > this.maxBytes) {
      this.logger.warn({ totalBytes: this.totalBytes, maxBytes: this.maxBytes }, 'max_bytes is smaller than the newest still; keeping it');
    }
  }

  /**
   * Removes captures oldest first, never the newest, until `enough()`; emptied day folders go too.
   * Keeps the size totals exact when they are loaded. Runs inside exclusive().
   */
  private async removeOldest(result: PruneResult, enough: () => boolean, onRemoved?: (fileSizes: Iterable<number>) => void): Promise<void> {
    const sizes = this.daySizes;
    const days = sizes ? [...sizes.keys()].sort() : await this.listDays();
    for (const day of days) {
      if (enough()) return;
      const scan = await this.scanDay(day);
      let daySize = sumSizes(scan); // re-measured: corrects drift from files removed behind our back
      if (sizes) this.totalBytes += daySize - (sizes.get(day) ?? 0);
      let removedHere = false;
      for (const id of [...scan.keys()].sort()) {
        if (enough()) break;
        if (id === this.latestCapture?.id) continue;
        const group = scan.get(id)!;
        if (!(await (group.files ? this.removeFiles(group.files) : this.removeCapture(day, id, group.names)))) continue;
        scan.delete(id);
        removedHere = true;
        daySize -= group.size;
        if (sizes) this.totalBytes -= group.size;
        result.freedBytes += group.size;
        if (group.names.has('original')) result.removedIds.push(id);
        onRemoved?.(group.files ? group.files.map((f) => f.size) : group.names.values());
      }
      sizes?.set(day, daySize);
      if (scan.size === 0 && !this.inFlightDays.has(day)) {
        try {
          await this.fs.rmdir(this.dayDir(day)); // fails if anything else (temp files, user files) is left
          sizes?.delete(day);
          result.removedDays.push(day);
          continue;
        } catch {
          // keep the folder
        }
      }
      if (removedHere) await fsyncDir(this.fs, this.dayDir(day)).catch(() => {});
    }
  }

  /** Original first, so the capture stops being listed before its other files go. */
  private async removeCapture(day: string, id: string, kinds: Map<FileKind, number>): Promise<boolean> {
    const order = (['original', 'thumb', 'preview', 'meta'] as const).filter((k) => kinds.has(k));
    for (const kind of order) {
      const err = await unlinkQuiet(this.fs, path.join(this.dayDir(day), fileName(id, kind)));
      if (err) {
        this.logger.warn({ err, id, kind }, 'cannot remove old still');
        return false;
      }
    }
    return true;
  }

  private async removeFiles(files: Array<{ file: string }>): Promise<boolean> {
    for (const { file } of files) {
      const err = await unlinkQuiet(this.fs, file);
      if (err) {
        this.logger.warn({ err, file }, 'cannot remove old timelapse');
        return false;
      }
    }
    return true;
  }

  private async loadSizes(): Promise<Map<string, number>> {
    if (this.daySizes) return this.daySizes;
    const started = Date.now();
    const sizes = new Map<string, number>();
    let total = 0;
    for (const day of await this.listDays()) {
      const size = sumSizes(await this.scanDay(day));
      sizes.set(day, size);
      total += size;
    }
    this.daySizes = sizes;
    this.totalBytes = total;
    this.logger.debug({ days: sizes.size, totalBytes: total, ms: Date.now() - started }, 'measured capture storage');
    return sizes;
  }

  /** Sizes of one day's capture files grouped by id (temp files and strangers excluded). */
  private async scanDay(day: string): Promise<DayScan> {
    const dayDir = this.dayDir(day);
    const files = (await this.readDir(dayDir)).flatMap((name) => {
      const f = parseFileName(name);
      return f ? [{ name, ...f }] : [];
    });
    const sizes = await Promise.all(files.map((f) => this.statSize(path.join(dayDir, f.name))));
    const scan: DayScan = new Map();
    files.forEach((f, i) => {
      const size = sizes[i];
      if (size === undefined) return;
      let group = scan.get(f.id);
      if (!group) scan.set(f.id, (group = { size: 0, names: new Map() }));
      group.size += size;
      group.names.set(f.kind, size);
    });
    // The timelapse counts towards max_bytes and goes when the day's stills have gone.
    const timelapse = await this.timelapseFiles(day);
    if (timelapse.length > 0) scan.set(TIMELAPSE_GROUP, { size: timelapse.reduce((n, t) => n + t.size, 0), names: new Map(), files: timelapse });
    return scan;
  }

  private async timelapseFiles(day: string): Promise<Array<{ file: string; size: number }>> {
    const found = await Promise.all(
      Object.values(TIMELAPSE_FILE).map(async (name) => {
        const file = path.join(this.dayDir(day), name);
        return { file, size: await this.statSize(file) };
      }),
    );
    return found.flatMap((f) => (f.size === undefined ? [] : [{ file: f.file, size: f.size }]));
  }

  private async timelapseBytes(day: string): Promise<number> {
    return (await this.timelapseFiles(day)).reduce((n, t) => n + t.size, 0);
  }

  /** Removes temp files and derived files whose original is missing (a save cut short). */
  private async sweepDay(day: string): Promise<number> {
    const dayDir = this.dayDir(day);
    let names: string[];
    try {
      names = await this.readDir(dayDir);
    } catch (err) {
      this.logger.warn({ err, day }, 'cannot sweep day folder');
      return 0;
    }
    const originals = new Set<string>();
    for (const name of names) {
      const f = parseFileName(name);
      if (f?.kind === 'original') originals.add(f.id);
    }
    const leftovers = names.filter((name) => {
      if (isTempName(name)) return true;
      const f = parseFileName(name);
      return f !== undefined && !originals.has(f.id);
    });
    let removed = 0;
    for (const name of leftovers) {
      const err = await unlinkQuiet(this.fs, path.join(dayDir, name));
      if (err) this.logger.warn({ err, file: path.join(dayDir, name) }, 'cannot remove leftover file');
      else removed++;
    }
    if (removed > 0) {
      await fsyncDir(this.fs, dayDir).catch(() => {});
      this.logger.info({ day, files: leftovers }, 'removed leftovers of interrupted saves');
    }
    return removed;
  }

  /** Newest capture, reading day folders from the newest back until one has an original. */
  private async findLatest(days: string[]): Promise<StoredCapture | undefined> {
    for (let i = days.length - 1; i >= 0; i--) {
      const day = days[i]!;
      const ids = (await this.readDir(this.dayDir(day))).flatMap((name) => {
        const f = parseFileName(name);
        return f?.kind === 'original' ? [f.id] : [];
      });
      for (const id of ids.sort().reverse()) {
        const capture = await this.statCapture(day, id);
        if (capture) return capture;
      }
    }
    return undefined;
  }

  private async statCapture(day: string, id: string): Promise<StoredCapture | undefined> {
    const at = parseCaptureId(id);
    if (!at) return undefined;
    const size = await this.statSize(path.join(this.dayDir(day), fileName(id, 'original')));
    // An empty original is never one of ours (they are fsynced before the rename that commits them), but a
    // power cut on storage that ignores flushes can produce one: it is not listed or served.
    return size === undefined || size === 0 ? undefined : this.describe(id, day, at, size);
  }

  private async originalExists(day: string, id: string): Promise<boolean> {
    return (await this.statSize(path.join(this.dayDir(day), fileName(id, 'original')))) !== undefined;
  }

  /** File size, or undefined when it is not there. */
  private async statSize(file: string): Promise<number | undefined> {
    try {
      return (await this.fs.stat(file)).size;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw toStorageError(err, 'read', file);
    }
  }

  /** Directory entries; a missing folder is empty. */
  private async readDir(dir: string): Promise<string[]> {
    try {
      return await this.fs.readdir(dir);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw toStorageError(err, 'list', dir);
    }
  }

  private describe(id: string, day: string, at: Date, bytes: number): StoredCapture {
    const dayDir = this.dayDir(day);
    const files = {} as CaptureFiles;
    for (const kind of FILE_KINDS) files[kind] = path.join(dayDir, fileName(id, kind));
    const local = this.clock.local(at);
    return { id, day, capturedAt: at, capturedAtIso: local.iso, hour: local.hour, bytes, files };
  }

  /** Only ever called with validated day strings, so no path can escape the store. */
  private dayDir(day: string): string {
    return path.join(this.dir, day);
  }

  private async discard(files: string[]): Promise<void> {
    await Promise.all(files.map((f) => unlinkQuiet(this.fs, f)));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }
}

function sumSizes(scan: DayScan): number {
  let sum = 0;
  for (const group of scan.values()) sum += group.size;
  return sum;
}
