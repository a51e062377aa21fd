// The crash sweep: temp files and derived files whose original is missing (a save cut short), and day
// folders age retention renamed away but had not finished removing.
import path from 'node:path';
import { fsyncDir, isTempName, isTrashName, unlinkQuiet } from './atomic.ts';
import type { StoreContext } from './context.ts';
import { parseFileName } from './layout.ts';

/**
 * How many of the newest day folders start() sweeps for crash leftovers before it returns. Saves go to
 * the day of "now", so leftovers are nearly always there. Older folders can hold some too: a save made
 * while the clock was wrong (a Pi without RTC before NTP), or orphans of a size/min_free removal cut
 * short. Those are swept in the background shortly after start, so start() stays cheap with years of
 * folders; leftovers are never listed or served in the meantime, they only take space.
 */
export const SWEEP_RECENT_DAYS = 7;
/** Delay before the background sweep of the older day folders. */
export const SWEEP_OLDER_DELAY_MS = 1000;

/** Removes the trash of interrupted age retention and the leftovers in the recent `days`; returns files removed. */
export async function sweepAtStart(ctx: StoreContext, names: string[], days: string[]): Promise<number> {
  let removed = 0;
  for (const name of names.filter(isTrashName)) {
    try {
      await ctx.fs.rm(path.join(ctx.dir, name), { recursive: true, force: true });
      removed++;
    } catch (err) {
      ctx.logger.warn({ err, dir: path.join(ctx.dir, name) }, 'cannot remove an old day folder left by an interrupted cleanup');
    }
  }
  for (const day of days.slice(-SWEEP_RECENT_DAYS)) removed += await sweepDay(ctx, day);
  return removed;
}

/** Sweeps day folders start() left out, one at a time, never one a save is writing to. */
export async function sweepOlder(ctx: StoreContext, days: string[]): Promise<void> {
  const started = Date.now();
  let removed = 0;
  try {
    for (const day of days) {
      removed += await ctx.exclusive(async () => {
        if (ctx.busy(day)) return 0; // its temp files are a save's, not leftovers
        let done!: () => void;
        ctx.sweeping = { day, done: new Promise<void>((resolve) => (done = resolve)) };
        try {
          return await sweepDay(ctx, day);
        } finally {
          ctx.sweeping = undefined;
          done();
        }
      });
    }
  } catch (err) {
    ctx.logger.warn({ err }, 'sweep of older day folders failed');
    return;
  }
  ctx.logger.info({ days: days.length, removedLeftovers: removed, ms: Date.now() - started }, 'older day folders swept');
}

/** Removes temp files and derived files whose original is missing (a save cut short). */
export async function sweepDay(ctx: StoreContext, day: string): Promise<number> {
  const dayDir = ctx.dayDir(day);
  let names: string[];
  try {
    names = await ctx.readDir(dayDir);
  } catch (err) {
    ctx.logger.warn({ err, day }, 'cannot sweep day folder');
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
    const err = await unlinkQuiet(ctx.fs, path.join(dayDir, name));
    if (err) ctx.logger.warn({ err, file: path.join(dayDir, name) }, 'cannot remove leftover file');
    else removed++;
  }
  if (removed > 0) {
    await fsyncDir(ctx.fs, dayDir).catch(() => {});
    ctx.logger.info({ day, files: leftovers }, 'removed leftovers of interrupted saves');
  }
  return removed;
}
