// The "now" still: a page visit's still that is shown and published as the latest but filed in no day
// (web.keep_visit_stills: false). It lives alone in `<dir>/now/`, written with the same durable protocol
// as any still; the next still of any kind replaces it, and age retention removes it with its day.
// A crash between a new still's commit and the old one's removal leaves two: start() keeps the newest.
import path from 'node:path';
import { fsyncDir, isTempName, unlinkQuiet } from './atomic.ts';
import type { StoreContext } from './context.ts';
import { describe } from './days.ts';
import { FILE_KINDS, NOW_FOLDER, fileName, parseCaptureId, parseFileName } from './layout.ts';
import type { Still } from './still.ts';

export function nowDir(ctx: StoreContext): string {
  return path.join(ctx.dir, NOW_FOLDER);
}

/** The newer of two stills (ids sort by instant). */
export function newer(a: Still | undefined, b: Still | undefined): Still | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.id > a.id ? b : a;
}

/** A still in the now folder as the store describes it: its local day, flagged transient. */
export function nowStill(ctx: StoreContext, id: string, at: Date, bytes: number): Still {
  return { ...describe(ctx, id, ctx.clock.day(at), at, bytes, nowDir(ctx)), transient: true };
}

/**
 * At start: the newest whole still in the now folder, unless `latest` (the newest filed still) is newer;
 * everything else there goes (temp files, a save cut short, a still already replaced).
 */
export async function loadNow(ctx: StoreContext, latest: Still | undefined): Promise<Still | undefined> {
  const dir = nowDir(ctx);
  const names = await ctx.readDir(dir);
  const originals = names
    .map((name) => parseFileName(name))
    .flatMap((f) => (f?.kind === 'original' ? [f.id] : []))
    .sort()
    .reverse();
  let kept: Still | undefined;
  for (const id of originals) {
    const size = await ctx.statSize(path.join(dir, fileName(id, 'original')));
    if (size) {
      kept = nowStill(ctx, id, parseCaptureId(id)!, size);
      break;
    }
  }
  if (kept && latest && latest.id > kept.id) kept = undefined;
  let removed = 0;
  for (const name of names) {
    if (!isTempName(name) && (!parseFileName(name) || parseFileName(name)!.id === kept?.id)) continue;
    const err = await unlinkQuiet(ctx.fs, path.join(dir, name));
    if (err) ctx.logger.warn({ err, file: path.join(dir, name) }, 'cannot remove an old "now" still');
    else removed++;
  }
  if (removed > 0) {
    await fsyncDir(ctx.fs, dir).catch(() => {});
    ctx.logger.info({ dir, removed }, 'removed replaced "now" stills and leftovers');
  }
  ctx.nowStill = kept;
  return kept;
}

/**
 * A still was committed: the now still goes if the new one is newer (the new one becomes it when it is
 * transient itself). Runs inside exclusive(). Best effort: a file left behind goes at the next start.
 */
export async function replaceNow(ctx: StoreContext, saved: Still): Promise<void> {
  const old = ctx.nowStill;
  if (saved.transient) ctx.nowStill = newer(old, saved);
  if (!old || old.id >= saved.id) return;
  if (!saved.transient) ctx.nowStill = undefined;
  await removeStillFiles(ctx, old);
}

/** Age retention: the now still goes once its day is older than `cutoff`. Runs inside exclusive(). */
export async function pruneNow(ctx: StoreContext, cutoff: string): Promise<Still | undefined> {
  const old = ctx.nowStill;
  if (!old || old.day >= cutoff) return undefined;
  ctx.nowStill = undefined;
  await removeStillFiles(ctx, old);
  return old;
}

/** Original first, so it stops being a still before its other files go. */
async function removeStillFiles(ctx: StoreContext, still: Still): Promise<void> {
  for (const kind of FILE_KINDS) {
    const err = await unlinkQuiet(ctx.fs, still.files[kind]);
    if (err) ctx.logger.warn({ err, file: still.files[kind] }, 'cannot remove the replaced "now" still');
  }
  await fsyncDir(ctx.fs, nowDir(ctx)).catch(() => {});
}
