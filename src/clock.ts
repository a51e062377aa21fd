// The app's local clock: day folders, local hours and ISO times with offset in the configured zone. Pure.

// Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
export function utcDate(y: number, month: number, day: number, h = 0, mi = 0, s = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(y, month - 1, day);
  date.setUTCHours(h, mi, s, 0);
  return date;
}

export const pad = (n: number, w = 2) => String(n).padStart(w, '0');
export const formatDay = (y: number, mo: number, d: number) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;

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
 * Intl.DateTimeFormat is expensive (~0.1 ms), so the app builds one clock
 * (src/app.ts) and passes it to whatever needs local days and times.
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

/** One-off helpers (tests, tools); services use the app's LocalClock instead. */
export const localDay = (date: Date, timeZone?: string): string => new LocalClock(timeZone).day(date);
export const localHour = (date: Date, timeZone?: string): number => new LocalClock(timeZone).hour(date);
export const isoWithOffset = (date: Date, timeZone?: string): string => new LocalClock(timeZone).iso(date);
