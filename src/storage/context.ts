// State the store's parts share: the folder, the fs calls, the clock, the one-at-a-time lock, the size
// ledger and the days a save is writing to. Saving, retention, the crash sweep and timelapse files all
// work on the same folders, so they go through one StoreContext.
import path from 'node:path';
import type { Logger } from 'pino';
import { LocalClock } from '../clock.ts';
import { errno, nodeFs, unlinkQuiet, type StorageFs } from './atomic.ts';
import { StillCounter } from './counts.ts';
import { toStorageError } from './errors.ts';
import type { Still } from './still.ts';

export interface StoreContextOptions {
  dir: string;
  /** The app's clock; without one, a clock for `timeZone` (undefined: the system's) is made on first use. */
  clock?: LocalClock;
  timeZone?: string;
  logger: Logger;
  now?: () => Date;
  fs?: StorageFs;
}

/**
 * Bytes of capture files per day folder; loaded on first need (the size limit), then kept up to date by
 * every save and removal. While not loaded, updates are no-ops (the first load measures what is there).
 */
export class SizeLedger {
  private sizes?: Map<string, number>;
  private total = 0;

  get loaded(): boolean {
    return this.sizes !== undefined;
  }

  get totalBytes(): number {
    return this.total;
  }

  /** Days with a known size, oldest first; undefined while not loaded. */
  days(): string[] | undefined {
    return this.sizes ? [...this.sizes.keys()].sort() : undefined;
  }

  get(day: string): number | undefined {
    return this.sizes?.get(day);
  }

  /** Replaces everything with a fresh measurement. */
  load(sizes: Map<string, number>): void {
    this.sizes = sizes;
    this.total = 0;
    for (const size of sizes.values()) this.total += size;
  }

  /** `bytes` more (or fewer) in a day folder. */
  add(day: string, bytes: number): void {
    if (!this.sizes) return;
    this.sizes.set(day, (this.sizes.get(day) ?? 0) + bytes);
    this.total += bytes;
  }

  /** A day re-measured: its size is now `bytes`, whatever the ledger thought. */
  set(day: string, bytes: number): void {
    if (!this.sizes) return;
    this.total += bytes - (this.sizes.get(day) ?? 0);
    this.sizes.set(day, bytes);
  }

  /** A day folder removed; true when the ledger knew it. */
  delete(day: string): boolean {
    const size = this.sizes?.get(day);
    if (size === undefined || !this.sizes!.delete(day)) return false;
    this.total -= size;
    return true;
  }
}

export class StoreContext {
  readonly dir: string;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly fs: StorageFs;
  readonly ledger = new SizeLedger();
  /** Stills per day folder (the health status's "stills kept"). */
  readonly stills = new StillCounter();
  /** The newest capture, from memory (set at start, by saves and by retention). */
  latest?: Still;
  /** The "now" still (a visit's, not filed in a day; storage/now.ts), from memory. */
  nowStill?: Still;
  /** Days of saves not yet committed: their folders are never removed or swept. */
  private readonly inFlightDays = new Map<string, number>();
  /** The older day folder the background sweep is clearing; a save into it waits (its temp files look like leftovers). */
  sweeping?: { day: string; done: Promise<void> };
  private clockCache?: LocalClock;
  private readonly timeZoneOption: string | undefined;
  /** Commits, pruning and size accounting run one at a time so the totals stay exact. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(opts: StoreContextOptions) {
    this.dir = path.resolve(opts.dir);
    this.clockCache = opts.clock;
    this.timeZoneOption = opts.timeZone;
    this.logger = opts.logger;
    this.now = opts.now ?? (() => new Date());
    this.fs = opts.fs ?? nodeFs;
  }

  /** Day/hour/ISO formatting in the store's zone; built once (Intl formatters are costly). */
  get clock(): LocalClock {
    return (this.clockCache ??= new LocalClock(this.timeZoneOption));
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Marks a day as being written to for the duration of `fn`; waits out a background sweep of that day first. */
  async writingTo<T>(day: string, fn: () => Promise<T>): Promise<T> {
    this.inFlightDays.set(day, (this.inFlightDays.get(day) ?? 0) + 1);
    try {
      const sweep = this.sweeping;
      if (sweep?.day === day) await sweep.done;
      return await fn();
    } finally {
      const n = (this.inFlightDays.get(day) ?? 1) - 1;
      if (n > 0) this.inFlightDays.set(day, n);
      else this.inFlightDays.delete(day);
    }
  }

  /** A save or timelapse is being written to this day folder. */
  busy(day: string): boolean {
    return this.inFlightDays.has(day);
  }

  /** Only ever called with validated day strings, so no path can escape the store. */
  dayDir(day: string): string {
    return path.join(this.dir, day);
  }

  /** File size, or undefined when it is not there. */
  async statSize(file: string): Promise<number | undefined> {
    try {
      return (await this.fs.stat(file)).size;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw toStorageError(err, 'read', file);
    }
  }

  /** Directory entries; a missing folder is empty. */
  async readDir(dir: string): Promise<string[]> {
    try {
      return await this.fs.readdir(dir);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw toStorageError(err, 'list', dir);
    }
  }

  async discard(files: string[]): Promise<void> {
    await Promise.all(files.map((f) => unlinkQuiet(this.fs, f)));
  }
}
