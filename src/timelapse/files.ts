// A day's timelapse on disk: `timelapse.webp`, `timelapse.gif` and `timelapse.json` in the day folder, beside the stills.
// Saved under the store's lock and counted in its size ledger, so max_bytes and min_free see them.
import path from 'node:path';
import { z } from 'zod';
import { errno, fsyncDir, tempName, writeDurable } from '../storage/atomic.ts';
import type { StoreContext } from '../storage/context.ts';
import { dayFiles } from '../storage/days.ts';
import { StorageError, toStorageError } from '../storage/errors.ts';
import { TIMELAPSE_FILE, addDays, isDay } from '../storage/layout.ts';

const count = z.number().optional().catch(undefined);
const text = z.string().optional().catch(undefined);

/**
 * `timelapse.json`, the description of a day's timelapse, checked once when read: a field that is missing
 * or of the wrong type is left out (the builder then sees the timelapse as out of date); others are kept.
 */
export const timelapseMetaSchema = z.looseObject({
  frames: count,
  skipped: count,
  width: count,
  height: count,
  bytes: count,
  frame_ms: count,
  first_captured_at: text,
  last_captured_at: text,
  /** The capture time of each frame, in frame order (older timelapses have none). */
  frame_times: z.array(z.string()).optional().catch(undefined),
  /** The newest still in it: a later still of the same day makes the timelapse out of date. */
  last_id: text,
  created_at: text,
  trigger: text,
  day: text,
  /** The GIF made with it (older timelapses, or timelapse.gif off, have none). */
  gif: z.looseObject({ frames: count, skipped: count, left_out: count, width: count, height: count, bytes: count }).optional().catch(undefined),
});
/** What save() is given to describe a timelapse (day and bytes are added), and what get() returns. */
export type TimelapseMeta = z.infer<typeof timelapseMetaSchema>;

export interface StoredTimelapse {
  day: string;
  file: string;
  bytes: number;
  meta: TimelapseMeta;
  /** The GIF beside it, when there is one. */
  gif?: { file: string; bytes: number };
}

export interface TimelapseFilesDeps {
  /** The capture store's shared state (CaptureStore.context). */
  context: StoreContext;
  /** storage.retention_days: a day retention already gives up is refused. */
  retentionDays: number;
}

export class TimelapseFiles {
  private readonly ctx: StoreContext;
  private readonly retentionDays: number;

  constructor(deps: TimelapseFilesDeps) {
    this.ctx = deps.context;
    this.retentionDays = deps.retentionDays;
  }

  /**
   * Stores a day's timelapse: `build` writes the video to the temp file it is given (and fsyncs it), and
   * the GIF to the second one if it makes one (else an older GIF of the day is removed, as out of date);
   * then the video, the GIF and the metadata are renamed into place, the metadata last: a crash between
   * leaves the new video with the previous description, which reads as out of date (rebuilt), never an
   * old video described as current. A crash at any point leaves a whole video, never a partial one.
   * The day is protected from age retention while it is built; a day retention already dropped is refused.
   */
  async save<T>(
    day: string,
    build: (tempFile: string, tempGif: string) => Promise<T>,
    meta: (result: T, bytes: number) => TimelapseMeta,
  ): Promise<StoredTimelapse & { result: T }> {
    const { ctx } = this;
    if (!isDay(day)) throw new RangeError(`invalid day "${String(day)}": expected YYYY-MM-DD`);
    if (this.retentionDays > 0 && day < addDays(ctx.clock.day(ctx.now()), -this.retentionDays)) {
      throw new StorageError('too_old', `${day} is older than storage.retention_days (${this.retentionDays}): its stills are due for removal`, ctx.dayDir(day));
    }
    const dayDir = ctx.dayDir(day);
    const video = path.join(dayDir, TIMELAPSE_FILE.video);
    const gif = path.join(dayDir, TIMELAPSE_FILE.gif);
    const tempGif = path.join(dayDir, tempName(TIMELAPSE_FILE.gif));
    const metaFile = path.join(dayDir, TIMELAPSE_FILE.meta);
    const tempVideo = path.join(dayDir, tempName(TIMELAPSE_FILE.video));
    const tempMeta = path.join(dayDir, tempName(TIMELAPSE_FILE.meta));
    return ctx.writingTo(day, async () => {
      let result: T;
      let bytes: number;
      let metaBytes: Buffer;
      let full: TimelapseMeta;
      let gifMade: boolean;
      try {
        result = await build(tempVideo, tempGif);
        gifMade = (await ctx.statSize(tempGif)) !== undefined;
        bytes = (await ctx.fs.stat(tempVideo)).size;
        full = { ...meta(result, bytes), day, bytes };
        metaBytes = Buffer.from(JSON.stringify(full, null, 2) + '\n');
        await writeDurable(ctx.fs, tempMeta, metaBytes);
      } catch (err) {
        await ctx.discard([tempVideo, tempGif, tempMeta]);
        throw errno(err) ? toStorageError(err, 'write timelapse to', dayDir) : err;
      }
      return await ctx.exclusive(async () => {
        const before = ctx.ledger.loaded ? await this.bytesOf(day) : 0;
        try {
          await ctx.fs.rename(tempVideo, video);
          if (gifMade) await ctx.fs.rename(tempGif, gif);
          else await ctx.discard([gif]);
          await ctx.fs.rename(tempMeta, metaFile);
          await fsyncDir(ctx.fs, dayDir);
        } catch (err) {
          await ctx.discard([tempVideo, tempGif, tempMeta]);
          // The video may be in place already (a later step failed): the totals follow what is on disk.
          if (ctx.ledger.loaded) ctx.ledger.add(day, (await this.bytesOf(day).catch(() => before)) - before);
          throw toStorageError(err, 'write timelapse to', dayDir);
        }
        if (ctx.ledger.loaded) ctx.ledger.add(day, (await this.bytesOf(day).catch(() => before + bytes + metaBytes.length)) - before);
        ctx.logger.debug({ day, bytes }, 'timelapse stored');
        const gifBytes = gifMade ? await ctx.statSize(gif) : undefined;
        return { day, file: video, bytes, meta: full, result, ...(gifBytes ? { gif: { file: gif, bytes: gifBytes } } : {}) };
      });
    });
  }

  /** The day's timelapse, or undefined when there is none (or the day is not a valid day). */
  async get(day: string): Promise<StoredTimelapse | undefined> {
    const { ctx } = this;
    if (!isDay(day)) return undefined;
    const file = path.join(ctx.dayDir(day), TIMELAPSE_FILE.video);
    const bytes = await ctx.statSize(file);
    if (bytes === undefined || bytes === 0) return undefined;
    let meta: TimelapseMeta = {};
    try {
      const value: unknown = JSON.parse((await ctx.fs.readFile(path.join(ctx.dayDir(day), TIMELAPSE_FILE.meta))).toString('utf8'));
      const parsed = timelapseMetaSchema.safeParse(value);
      if (parsed.success) meta = parsed.data;
    } catch {
      // A missing or unreadable description does not hide the video; the builder treats it as out of date.
    }
    const gif = path.join(ctx.dayDir(day), TIMELAPSE_FILE.gif);
    const gifBytes = meta.gif ? await ctx.statSize(gif) : undefined;
    // A GIF described but not there (removed by hand) is not offered.
    if (!gifBytes) delete meta.gif;
    return { day, file, bytes, meta: { ...meta, day, bytes }, ...(gifBytes ? { gif: { file: gif, bytes: gifBytes } } : {}) };
  }

  private async bytesOf(day: string): Promise<number> {
    return (await dayFiles(this.ctx, day)).reduce((n, t) => n + t.size, 0);
  }
}
