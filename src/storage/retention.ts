// Retention: day folders older than retention_days go whole; the oldest stills go while the total exceeds
// max_bytes or the disk has less than min_free. Runs after every save and on a timer (a camera that takes
// no stills for a while still lets old days go).
import path from 'node:path';
import { fsyncDir, trashName, unlinkQuiet } from './atomic.ts';
import type { StoreContext } from './context.ts';
import { findLatest, listDays, loadSizes, scanBytes, scanDay } from './days.ts';
import { addDays, fileName, type FileKind } from './layout.ts';
import { newer, pruneNow } from './now.ts';

export interface PruneResult {
  /** Day folders removed (by age, or emptied by the size limit). */
  removedDays: string[];
  /** Captures removed one by one by the size limit (not the contents of removed days). */
  removedIds: string[];
  freedBytes: number;
}

export interface RetentionOptions {
  /** Remove day folders older than this many local days; 0 keeps everything. */
  retentionDays: number;
  /** Remove the oldest captures while the total exceeds this; 0: no limit. */
  maxBytes: number;
  /** Keep this many bytes free on the storage file system (oldest stills go first); 0: off. */
  minFree: number;
  /** How often start()'s timer applies retention; default hourly. */
  intervalMs?: number;
}

const HOUR_MS = 3_600_000;

/** Stills in a day scan: the ids that have an original. */
function stillsIn(scan: { stills: Map<string, { names: Map<FileKind, number> }> }): number {
  let n = 0;
  for (const group of scan.stills.values()) if (group.names.has('original')) n++;
  return n;
}

export class Retention {
  private readonly ctx: StoreContext;
  private readonly opts: RetentionOptions;
  private timer?: NodeJS.Timeout;
  private statfsWarned = false;

  constructor(ctx: StoreContext, opts: RetentionOptions) {
    this.ctx = ctx;
    this.opts = opts;
  }

  get minFree(): number {
    return this.opts.minFree;
  }

  get retentionDays(): number {
    return this.opts.retentionDays;
  }

  /** Applies retention every intervalMs until stop(); does nothing when neither age nor size limits are set. */
  start(): void {
    this.stop();
    if (this.opts.retentionDays <= 0 && this.opts.maxBytes <= 0) return;
    this.timer = setInterval(() => {
      this.prune().catch((err: unknown) => this.ctx.logger.error({ err }, 'retention pruning failed'));
    }, this.opts.intervalMs ?? HOUR_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Applies retention: day folders older than retention_days local days go whole; then, while the total
   * exceeds max_bytes, the oldest captures go (never the newest). Cheap when nothing is due.
   */
  async prune(): Promise<PruneResult> {
    const { ctx } = this;
    return ctx.exclusive(async () => {
      const result: PruneResult = { removedDays: [], removedIds: [], freedBytes: 0 };
      if (this.opts.retentionDays > 0) await this.pruneByAge(result);
      if (this.opts.maxBytes > 0) await this.pruneBySize(result);
      if (result.removedDays.length > 0 || result.removedIds.length > 0) {
        if (ctx.latest && (await ctx.statSize(ctx.latest.files.original)) === undefined) {
          ctx.latest = newer(await findLatest(ctx, await listDays(ctx)), ctx.nowStill);
        }
        await fsyncDir(ctx.fs, ctx.dir).catch((err: unknown) => ctx.logger.warn({ err, dir: ctx.dir }, 'fsync failed'));
        ctx.logger.info(
          { removedDays: result.removedDays, removedCaptures: result.removedIds.length, freedBytes: result.freedBytes },
          'retention removed old stills',
        );
      }
      return result;
    });
  }

  /** The oldest day retention_days still keeps, or undefined when days are kept forever. */
  oldestKept(): string | undefined {
    return this.opts.retentionDays > 0 ? addDays(this.ctx.clock.day(this.ctx.now()), -this.opts.retentionDays) : undefined;
  }

  /**
   * Removes the oldest stills (never the newest) until `needed` more bytes fit with min_free to spare;
   * after a failed save (`afterFull`) at least `needed` bytes go whatever statfs says. Best effort:
   * problems are logged, the save reports its own. Returns the bytes freed. Runs inside exclusive().
   */
  async keepFree(needed: number, afterFull: boolean): Promise<number> {
    const { ctx } = this;
    const minFree = this.opts.minFree;
    let stat: { bavail: number; bsize: number } | undefined;
    try {
      stat = await ctx.fs.statfs(ctx.dir);
    } catch (err) {
      if (!this.statfsWarned) ctx.logger.warn({ err, dir: ctx.dir }, 'cannot read free space; min_free is only applied after a save fails for a full disk');
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
    const enough = () => (trusted ? free + freed - want >= minFree : freed >= needed);
    if (enough()) return 0;
    const result: PruneResult = { removedDays: [], removedIds: [], freedBytes: 0 };
    try {
      await this.removeOldest(result, enough, (sizes) => {
        for (const size of sizes) freed += Math.ceil(size / bsize) * bsize;
      });
    } catch (err) {
      ctx.logger.warn({ err }, 'cannot remove old stills to keep min_free');
    }
    if (result.removedDays.length > 0) await fsyncDir(ctx.fs, ctx.dir).catch(() => {});
    const fields = {
      reason: afterFull ? 'disk_full' : 'min_free',
      minFree,
      freeBytes: free,
      neededBytes: want,
      removedIds: result.removedIds,
      removedDays: result.removedDays,
      freedBytes: result.freedBytes,
    };
    if (result.freedBytes > 0)
      ctx.logger.info(fields, afterFull ? 'disk full: removed the oldest stills to make room' : 'min_free: removed the oldest stills to keep space free');
    if (!enough()) ctx.logger.warn(fields, `cannot keep ${minFree} bytes free in ${ctx.dir}: nothing left to remove but the newest still`);
    return freed;
  }

  private async pruneByAge(result: PruneResult): Promise<void> {
    const { ctx } = this;
    const cutoff = this.oldestKept()!;
    const now = await pruneNow(ctx, cutoff);
    if (now) result.removedIds.push(now.id);
    for (const day of await listDays(ctx)) {
      if (day >= cutoff) break;
      if (ctx.busy(day)) continue;
      const size = ctx.ledger.get(day) ?? scanBytes(await scanDay(ctx, day));
      // Renamed out of the listing first, so a crash halfway through rm never leaves half a day listed.
      let doomed = path.join(ctx.dir, trashName(day));
      try {
        await ctx.fs.rename(ctx.dayDir(day), doomed);
        await fsyncDir(ctx.fs, ctx.dir).catch(() => {});
      } catch {
        doomed = ctx.dayDir(day); // a file system that cannot rename folders: removed in place
      }
      try {
        await ctx.fs.rm(doomed, { recursive: true, force: true });
      } catch (err) {
        ctx.logger.warn({ err, day, dir: doomed }, 'cannot remove old day folder');
        if (doomed === ctx.dayDir(day)) continue; // still listed: not removed
      }
      result.removedDays.push(day);
      result.freedBytes += size;
      ctx.ledger.delete(day);
      ctx.stills.delete(day);
    }
  }

  private async pruneBySize(result: PruneResult): Promise<void> {
    const { ctx } = this;
    const max = this.opts.maxBytes;
    await loadSizes(ctx);
    if (ctx.ledger.totalBytes <= max) return; // the common case after a save: no I/O at all
    await this.removeOldest(result, () => ctx.ledger.totalBytes <= max);
    if (ctx.ledger.totalBytes > max) {
      ctx.logger.warn({ totalBytes: ctx.ledger.totalBytes, maxBytes: max }, 'max_bytes is smaller than the newest still; keeping it');
    }
  }

  /**
   * Removes captures oldest first, never the newest, until `enough()`; emptied day folders go too. A
   * day's own files (its timelapse) go after its last still. Keeps the ledger exact when it is loaded.
   */
  private async removeOldest(result: PruneResult, enough: () => boolean, onRemoved?: (fileSizes: Iterable<number>) => void): Promise<void> {
    const { ctx } = this;
    const days = ctx.ledger.days() ?? (await listDays(ctx));
    for (const day of days) {
      if (enough()) return;
      const scan = await scanDay(ctx, day);
      ctx.ledger.set(day, scanBytes(scan)); // re-measured: corrects drift from files removed behind our back
      ctx.stills.set(day, stillsIn(scan));
      let removedHere = false;
      for (const id of [...scan.stills.keys()].sort()) {
        if (enough()) break;
        if (id === ctx.latest?.id) continue;
        const group = scan.stills.get(id)!;
        if (!(await this.removeCapture(day, id, group.names))) continue;
        scan.stills.delete(id);
        removedHere = true;
        ctx.ledger.add(day, -group.size);
        result.freedBytes += group.size;
        if (group.names.has('original')) {
          result.removedIds.push(id);
          ctx.stills.add(day, -1);
        }
        onRemoved?.(group.names.values());
      }
      // The day's timelapse goes after the stills that can go (the newest stays, its day's timelapse need not).
      if (scan.dayFiles.length > 0 && !enough()) {
        const size = scan.dayFiles.reduce((n, f) => n + f.size, 0);
        if (await this.removeDayFiles(scan.dayFiles)) {
          onRemoved?.(scan.dayFiles.map((f) => f.size));
          scan.dayFiles = [];
          removedHere = true;
          ctx.ledger.add(day, -size);
          result.freedBytes += size;
        }
      }
      if (scan.stills.size === 0 && scan.dayFiles.length === 0 && !ctx.busy(day)) {
        try {
          await ctx.fs.rmdir(ctx.dayDir(day)); // fails if anything else (temp files, user files) is left
          ctx.ledger.delete(day);
          ctx.stills.delete(day);
          result.removedDays.push(day);
          continue;
        } catch {
          // keep the folder
        }
      }
      if (removedHere) await fsyncDir(ctx.fs, ctx.dayDir(day)).catch(() => {});
    }
  }

  /** Original first, so the capture stops being listed before its other files go. */
  private async removeCapture(day: string, id: string, kinds: Map<FileKind, number>): Promise<boolean> {
    const order = (['original', 'thumb', 'preview', 'meta'] as const).filter((k) => kinds.has(k));
    for (const kind of order) {
      const err = await unlinkQuiet(this.ctx.fs, path.join(this.ctx.dayDir(day), fileName(id, kind)));
      if (err) {
        this.ctx.logger.warn({ err, id, kind }, 'cannot remove old still');
        return false;
      }
    }
    return true;
  }

  private async removeDayFiles(files: Array<{ file: string }>): Promise<boolean> {
    for (const { file } of files) {
      const err = await unlinkQuiet(this.ctx.fs, file);
      if (err) {
        this.ctx.logger.warn({ err, file }, 'cannot remove old timelapse');
        return false;
      }
    }
    return true;
  }
}
