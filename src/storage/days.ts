// Day folders: listing and reading them. The file names are the index: nothing here opens a file.
import path from 'node:path';
import { errno } from './atomic.ts';
import type { StoreContext } from './context.ts';
import { countOriginals } from './counts.ts';
import { StorageError, toStorageError } from './errors.ts';
import { DAY_FILES, FILE_KINDS, addDays, fileName, isDay, parseCaptureId, parseFileName, type FileKind } from './layout.ts';
import { parseStillMeta, type StillFiles, type Still, type StillMeta } from './still.ts';

/** Day folders around the id's local day that get() tries when the zone changed since the save. */
const DAY_FALLBACKS = [0, -1, 1, -2, 2];

/** A day's capture files by id, and the day's own files (its timelapse), with their sizes. */
export interface DayScan {
  stills: Map<string, { size: number; names: Map<FileKind, number> }>;
  dayFiles: Array<{ file: string; size: number }>;
}

/** Day folders, oldest first (anything not named `YYYY-MM-DD` is ignored). */
export async function listDays(ctx: StoreContext): Promise<string[]> {
  return (await ctx.readDir(ctx.dir)).filter(isDay).sort();
}

/** Captures of one day folder, oldest first. Reads only that folder. Missing day: []. */
export async function listDay(ctx: StoreContext, day: string): Promise<Still[]> {
  if (!isDay(day)) throw new RangeError(`invalid day "${String(day)}": expected YYYY-MM-DD`);
  const ids = originalIds(await ctx.readDir(ctx.dayDir(day)));
  ids.sort();
  const captures = await Promise.all(ids.map((id) => statCapture(ctx, day, id)));
  return captures.filter((c): c is Still => c !== undefined);
}

/** One capture by id; undefined for unknown or malformed ids (never touches paths outside the store). */
export async function getCapture(ctx: StoreContext, id: string): Promise<Still | undefined> {
  const at = parseCaptureId(id);
  if (!at) return undefined;
  if (ctx.nowStill?.id === id) return ctx.nowStill;
  const day = ctx.clock.day(at);
  for (const delta of DAY_FALLBACKS) {
    const capture = await statCapture(ctx, delta === 0 ? day : addDays(day, delta), id);
    if (capture) return capture;
  }
  return undefined;
}

/** Newest capture, reading day folders from the newest back until one has an original. */
export async function findLatest(ctx: StoreContext, days: string[]): Promise<Still | undefined> {
  for (let i = days.length - 1; i >= 0; i--) {
    const day = days[i]!;
    for (const id of originalIds(await ctx.readDir(ctx.dayDir(day)))
      .sort()
      .reverse()) {
      const capture = await statCapture(ctx, day, id);
      if (capture) return capture;
    }
  }
  return undefined;
}

/** Where a capture's files are and when it was taken, in the store's zone. */
export function describe(ctx: StoreContext, id: string, day: string, at: Date, bytes: number, dir = ctx.dayDir(day)): Still {
  const dayDir = dir;
  const files = {} as StillFiles;
  for (const kind of FILE_KINDS) files[kind] = path.join(dayDir, fileName(id, kind));
  const local = ctx.clock.local(at);
  return { id, day, capturedAt: at, capturedAtIso: local.iso, hour: local.hour, bytes, files };
}

/** Sizes of one day's capture files grouped by id, and of its day files (temp files and strangers excluded). */
export async function scanDay(ctx: StoreContext, day: string): Promise<DayScan> {
  const dayDir = ctx.dayDir(day);
  const files = (await ctx.readDir(dayDir)).flatMap((name) => {
    const f = parseFileName(name);
    return f ? [{ name, ...f }] : [];
  });
  const sizes = await Promise.all(files.map((f) => ctx.statSize(path.join(dayDir, f.name))));
  const stills: DayScan['stills'] = new Map();
  files.forEach((f, i) => {
    const size = sizes[i];
    if (size === undefined) return;
    let group = stills.get(f.id);
    if (!group) stills.set(f.id, (group = { size: 0, names: new Map() }));
    group.size += size;
    group.names.set(f.kind, size);
  });
  // The timelapse counts towards max_bytes and goes when the day's stills have gone.
  return { stills, dayFiles: await dayFiles(ctx, day) };
}

export function scanBytes(scan: DayScan): number {
  let sum = 0;
  for (const group of scan.stills.values()) sum += group.size;
  for (const f of scan.dayFiles) sum += f.size;
  return sum;
}

/** The day's own files that are there (its timelapse video and description), with sizes. */
export async function dayFiles(ctx: StoreContext, day: string): Promise<Array<{ file: string; size: number }>> {
  const found = await Promise.all(
    DAY_FILES.map(async (name) => {
      const file = path.join(ctx.dayDir(day), name);
      return { file, size: await ctx.statSize(file) };
    }),
  );
  return found.flatMap((f) => (f.size === undefined ? [] : [{ file: f.file, size: f.size }]));
}

/** Measures every day folder once; later changes are tracked by the ledger. Runs inside exclusive(). */
export async function loadSizes(ctx: StoreContext): Promise<void> {
  if (ctx.ledger.loaded) return;
  const started = Date.now();
  const sizes = new Map<string, number>();
  for (const day of await listDays(ctx)) sizes.set(day, scanBytes(await scanDay(ctx, day)));
  ctx.ledger.load(sizes);
  ctx.logger.debug({ days: sizes.size, totalBytes: ctx.ledger.totalBytes, ms: Date.now() - started }, 'measured capture storage');
}

/** Counts every day folder's stills once (directory listings only); later changes are tracked. Runs inside exclusive(). */
export async function loadCounts(ctx: StoreContext): Promise<void> {
  if (ctx.stills.loaded) return;
  const counts = new Map<string, number>();
  for (const day of await listDays(ctx)) counts.set(day, countOriginals(await ctx.readDir(ctx.dayDir(day))));
  ctx.stills.load(counts);
}

/** A still's metadata file, checked once here; undefined when it is missing or not a still's metadata. */
export async function readMeta(ctx: StoreContext, capture: Still): Promise<StillMeta | undefined> {
  let text: string;
  try {
    text = (await ctx.fs.readFile(capture.files.meta)).toString('utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw toStorageError(err, 'read', capture.files.meta);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // reported below
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const meta = parseStillMeta(value);
    if (!meta) ctx.logger.warn({ file: capture.files.meta }, 'not the metadata of a still (unknown version or fields): read without it');
    return meta;
  }
  throw new StorageError('io', `cannot read ${capture.files.meta}: not a JSON object`, capture.files.meta);
}

async function statCapture(ctx: StoreContext, day: string, id: string): Promise<Still | undefined> {
  const at = parseCaptureId(id);
  if (!at) return undefined;
  const size = await ctx.statSize(path.join(ctx.dayDir(day), fileName(id, 'original')));
  // An empty original is never one of ours (they are fsynced before the rename that commits them), but a
  // power cut on storage that ignores flushes can produce one: it is not listed or served.
  return size === undefined || size === 0 ? undefined : describe(ctx, id, day, at, size);
}

function originalIds(names: string[]): string[] {
  return names.flatMap((name) => {
    const f = parseFileName(name);
    return f?.kind === 'original' ? [f.id] : [];
  });
}
