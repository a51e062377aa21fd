// How many stills the store keeps, per day folder: counted once (file names only, no stat), then kept
// up to date by every save and removal, so the health status can show it on every call for free.
import { parseFileName } from './layout.ts';

/** Stills per day folder; while not loaded, updates are no-ops (the first load counts what is there). */
export class StillCounter {
  private counts?: Map<string, number>;
  private total = 0;

  get loaded(): boolean {
    return this.counts !== undefined;
  }

  get totalStills(): number {
    return this.total;
  }

  load(counts: Map<string, number>): void {
    this.counts = counts;
    this.total = 0;
    for (const n of counts.values()) this.total += n;
  }

  /** `n` more (or fewer) stills in a day folder. */
  add(day: string, n: number): void {
    if (!this.counts) return;
    const next = Math.max(0, (this.counts.get(day) ?? 0) + n);
    this.total += next - (this.counts.get(day) ?? 0);
    this.counts.set(day, next);
  }

  /** A day re-listed: it now holds `n` stills, whatever the counter thought. */
  set(day: string, n: number): void {
    if (!this.counts) return;
    this.total += n - (this.counts.get(day) ?? 0);
    this.counts.set(day, n);
  }

  /** A day folder removed. */
  delete(day: string): void {
    const n = this.counts?.get(day);
    if (n === undefined) return;
    this.counts!.delete(day);
    this.total -= n;
  }
}

/** Originals named in a folder listing: one per still (the original is the commit point). */
export function countOriginals(names: Iterable<string>): number {
  let n = 0;
  for (const name of names) if (parseFileName(name)?.kind === 'original') n++;
  return n;
}
