// Names on disk: capture ids (UTC instants), local day folders and file names. Pure functions only.

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

// Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
function utcDate(y: number, month: number, day: number, h = 0, mi = 0, s = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(y, month - 1, day);
  date.setUTCHours(h, mi, s, 0);
  return date;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const formatDay = (y: number, mo: number, d: number) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;

/** The wall-clock fields of an instant in one zone, plus that zone's UTC offset at that instant. */
export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Local minus UTC, in seconds (whole minutes except for historical local mean times). */
  offsetSeconds: number;
}

/**
 * Local day/hour/ISO string of instants in one IANA zone (undefined: the system's). Creating an
 * Intl.DateTimeFormat is expensive (~0.1 ms), so one clock is kept per store and reused.
 */
export class LocalClock {
  readonly timeZone: string;
  private readonly fmt: Intl.DateTimeFormat;

  /** Throws RangeError for an unknown time zone. */
  constructor(timeZone?: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    this.timeZone = this.fmt.resolvedOptions().timeZone;
  }

  parts(date: Date): LocalParts {
    const f: Record<string, number> = {};
    for (const p of this.fmt.formatToParts(date)) if (p.type !== 'literal') f[p.type] = Number(p.value);
    const year = f.year ?? NaN;
    const month = f.month ?? NaN;
    const day = f.day ?? NaN;
    const hour = (f.hour ?? NaN) % 24; // some ICU versions print midnight as 24 even with h23
    const minute = f.minute ?? NaN;
    const second = f.second ?? NaN;
    // The offset is what turns the wall clock back into the instant (to the second).
    const wall = utcDate(year, month, day, hour, minute, second).getTime();
    const offsetSeconds = Math.round((wall - Math.floor(date.getTime() / 1000) * 1000) / 1000);
    return { year, month, day, hour, minute, second, offsetSeconds };
  }

  /** The local day folder name, `YYYY-MM-DD`. */
  day(date: Date): string {
    const p = this.parts(date);
    return formatDay(p.year, p.month, p.day);
  }

  /** The local hour, 0..23. */
  hour(date: Date): number {
    return this.parts(date).hour;
  }

  /** ISO 8601 local time with offset, e.g. `2026-11-23T21:08:04.123+01:00`. */
  iso(date: Date): string {
    return this.local(date).iso;
  }

  /** Day, hour and ISO string from one formatting pass (listing a day describes every capture). */
  local(date: Date): { day: string; hour: number; iso: string } {
    const p = this.parts(date);
    const ms = ((date.getTime() % 1000) + 1000) % 1000;
    const sign = p.offsetSeconds < 0 ? '-' : '+';
    const abs = Math.abs(p.offsetSeconds);
    const secs = abs % 60;
    const offset = `${sign}${pad(Math.floor(abs / 3600))}:${pad(Math.floor(abs / 60) % 60)}${secs ? `:${pad(secs)}` : ''}`;
    const day = formatDay(p.year, p.month, p.day);
    return { day, hour: p.hour, iso: `${day}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}.${pad(ms, 3)}${offset}` };
  }
}

/** One-off helpers; a store uses its cached LocalClock instead. */
export const localDay = (date: Date, timeZone?: string): string => new LocalClock(timeZone).day(date);
export const localHour = (date: Date, timeZone?: string): number => new LocalClock(timeZone).hour(date);
export const isoWithOffset = (date: Date, timeZone?: string): string => new LocalClock(timeZone).iso(date);

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

/** A day's timelapse (animated WebP) and what it was built from, in `<dir>/<day>/` beside the stills. */
export const TIMELAPSE_FILE = { video: 'timelapse.webp', meta: 'timelapse.json' } as const;
