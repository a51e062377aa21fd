// A day's stills for the page: in hours, each with its scene change (read from its metadata once and
// remembered: a still never changes, so its change score never does).
import { readMeta } from '../storage/days.ts';
import type { CaptureStore, Still } from '../storage/store.ts';
import { captureJson } from './json.ts';

/** Change scores remembered; a day of one still a minute is 1440, so a few days fit. */
const CACHE_MAX = 8000;
/** Metadata files read at once: a day of many stills must not open them all together. */
const READ_AT_ONCE = 16;

type Change = number | null;

export class DayStills {
  private readonly store: CaptureStore;
  private readonly threshold: number;
  private readonly changes = new Map<string, Change>();

  constructor(store: CaptureStore, threshold: number) {
    this.store = store;
    this.threshold = threshold;
  }

  /** 24 hours, each with its stills oldest first; `change` in %, `changed` at or above scene.change_threshold. */
  async hours(day: string) {
    const stills = await this.store.listDay(day);
    const changes = await this.changesOf(stills);
    const hours = Array.from({ length: 24 }, (_, hour) => ({ hour, captures: [] as Array<ReturnType<typeof this.json>> }));
    stills.forEach((s, i) => hours[s.hour]!.captures.push(this.json(s, changes[i]!)));
    return hours;
  }

  private json(s: Still, change: Change) {
    return { ...captureJson(s), change, changed: change !== null && change >= this.threshold };
  }

  private async changesOf(stills: Still[]): Promise<Change[]> {
    const out: Change[] = new Array<Change>(stills.length);
    let next = 0;
    const worker = async () => {
      while (next < stills.length) {
        const i = next++;
        out[i] = await this.changeOf(stills[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_AT_ONCE, stills.length) }, worker));
    return out;
  }

  private async changeOf(still: Still): Promise<Change> {
    const known = this.changes.get(still.id);
    if (known !== undefined) return known;
    // A still whose metadata is missing or unreadable is shown without a mark (and asked again next time).
    const meta = await readMeta(this.store.context, still).catch(() => undefined);
    if (!meta) return null;
    const change = typeof meta.change === 'number' ? meta.change : null;
    this.changes.set(still.id, change);
    if (this.changes.size > CACHE_MAX) this.changes.delete(this.changes.keys().next().value!);
    return change;
  }
}
