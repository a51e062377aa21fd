// Names on disk: capture ids (UTC instants), local day folders and file names. Pure functions only.
import { formatDay, utcDate } from '../clock.ts';

/** `20261123T200804.123Z`: the capture instant in UTC, sortable as a string, safe as a file name. */
const ID_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The capture id of an instant. Throws RangeError for invalid dates or years outside 0000..9999. */
export function captureId(date: Date): string {
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new RangeError('captureId: invalid date');
  const iso = date.toISOString(); // 2026-11-23T20:08:04.123Z; years outside 0..9999 get a sign and 6 digits
  if (iso.length !== 24) throw new RangeError(`captureId: year out of range: ${iso}`);
  return iso.replace(/[-:]/g, '');
}

/** The instant of a capture id, or undefined for anything that is not exactly a valid id. */
export function parseCaptureId(id: string): Date | undefined {
  if (typeof id !== 'string') return undefined;
  const m = ID_RE.exec(id);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  // Round-trip rejects impossible dates such as month 13 or Feb 30 that Date would roll over or refuse.
  if (!Number.isFinite(date.getTime()) || captureId(date) !== id) return undefined;
  return date;
}

export function isCaptureId(s: unknown): s is string {
  return typeof s === 'string' && parseCaptureId(s) !== undefined;
}

/** True for a real calendar day written `YYYY-MM-DD`. */
export function isDay(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DAY_RE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = utcDate(y, mo, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** Calendar arithmetic on day strings (no time zone involved): `addDays('2026-03-01', -1)` is `2026-02-28`. */
export function addDays(day: string, n: number): string {
  const m = DAY_RE.exec(day);
  if (!m || !isDay(day)) throw new RangeError(`invalid day "${day}": expected YYYY-MM-DD`);
  const date = utcDate(Number(m[1]), Number(m[2]), Number(m[3]) + n);
  return formatDay(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
}

/** The files of one capture, in `<dir>/<day>/`. */
export const FILE_SUFFIX = {
  original: '.jpg',
  thumb: '.thumb.jpg',
  preview: '.preview.jpg',
  meta: '.json',
} as const;
export type FileKind = keyof typeof FILE_SUFFIX;
export const FILE_KINDS = Object.keys(FILE_SUFFIX) as FileKind[];

export function fileName(id: string, kind: FileKind): string {
  return id + FILE_SUFFIX[kind];
}

const FILE_RE = /^(\d{8}T\d{6}\.\d{3}Z)(\.thumb\.jpg|\.preview\.jpg|\.jpg|\.json)$/;
const KIND_BY_SUFFIX = new Map<string, FileKind>(FILE_KINDS.map((k) => [FILE_SUFFIX[k], k]));

/** Which capture file a directory entry is, or undefined for anything else (temp files, strangers). */
export function parseFileName(name: string): { id: string; kind: FileKind } | undefined {
  const m = FILE_RE.exec(name);
  if (!m || !isCaptureId(m[1])) return undefined;
  const kind = KIND_BY_SUFFIX.get(m[2]!);
  return kind ? { id: m[1]!, kind } : undefined;
}

/** A day's timelapse (animated WebP, and a GIF for phones) and what it was built from, in `<dir>/<day>/` beside the stills. */
export const TIMELAPSE_FILE = { video: 'timelapse.webp', gif: 'timelapse.gif', meta: 'timelapse.json' } as const;
/** Files of a day as a whole (its timelapse): they count towards max_bytes and go once the day's stills have gone. */
export const DAY_FILES: readonly string[] = Object.values(TIMELAPSE_FILE);

/**
 * The folder of the "now" still: a page visit's still (unless web.keep_visit_stills), shown and
 * published as the latest but filed in no day. It holds one still, replaced by the next still of any kind.
 * Not a day name, so day listings, the timelapse and age folders never see it.
 */
export const NOW_FOLDER = 'now';
