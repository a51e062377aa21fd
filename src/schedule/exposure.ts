// Night awareness for scheduled stills: the exposure profile follows the brightness of the last still.
import type { Logger } from 'pino';
import type { CaptureRecord, CaptureService } from '../capture/service.ts';
import type { Config, Exposure } from '../config/schema.ts';
import type { CaptureStore } from '../storage/store.ts';

export interface AutoExposureDeps {
  config: Config;
  logger: Logger;
  /** start() learns from the last stored still and then from each new one (tests may call observe() instead). */
  captures?: Pick<CaptureService, 'on' | 'off'>;
  store?: Pick<CaptureStore, 'latest' | 'readMeta'>;
}

/**
 * `schedule.exposure: auto`. A still taken with the day profile that comes out darker than
 * `night_below` switches the scheduled stills to `night_exposure`; a night still brighter than
 * `day_above` switches back. Two thresholds, each judged on a still of its own profile: a long
 * exposure makes the night look brighter than a day still would, and one threshold would flip the
 * profile on every still at dusk. Chosen over sun times: it needs no location, follows clouds and
 * indoor lights, and works the same for a camera that looks into a room.
 */
export class AutoExposure {
  private readonly day: Exposure;
  private readonly night: Exposure;
  private readonly nightBelow: number;
  private readonly dayAbove: number;
  private readonly logger: Logger;
  private isNight = false;
  private readonly deps: AutoExposureDeps;
  private readonly onCaptured = (r: CaptureRecord) => this.observe(r.capture.meta);

  constructor(opts: AutoExposureDeps) {
    this.deps = opts;
    const { camera, schedule } = opts.config;
    this.day = camera.exposure;
    this.night = schedule.night_exposure;
    this.nightBelow = schedule.night_below;
    this.dayAbove = schedule.day_above;
    this.logger = opts.logger;
  }

  /** Starts from the light of the still stored last (day when there is none), then follows each new still. */
  async start(): Promise<void> {
    const { store, captures } = this.deps;
    const latest = store?.latest();
    const meta = latest ? await store!.readMeta(latest.id).catch(() => undefined) : undefined;
    this.observe(meta ?? {});
    captures?.on('captured', this.onCaptured);
  }

  stop(): void {
    this.deps.captures?.off('captured', this.onCaptured);
  }

  /** The profile the next scheduled still uses. */
  get exposure(): Exposure {
    return this.isNight ? this.night : this.day;
  }

  get mode(): 'day' | 'night' {
    return this.isNight ? 'night' : 'day';
  }

  /**
   * Learns from a stored still (any trigger): the profile it was taken with and its brightness. Stills
   * of other profiles, or with a manual shutter or gain, say nothing about the light and are ignored.
   */
  observe(still: { exposure?: unknown; brightness?: unknown; manual?: boolean }): void {
    const { exposure, brightness } = still;
    if (still.manual || typeof brightness !== 'number' || !Number.isFinite(brightness) || this.day === this.night) return;
    let night = this.isNight;
    if (exposure === this.day) night = brightness < this.nightBelow;
    else if (exposure === this.night) night = brightness <= this.dayAbove;
    else return;
    if (night === this.isNight) return;
    this.isNight = night;
    this.logger.info(
      { brightness, exposure: this.exposure, night_below: this.nightBelow, day_above: this.dayAbove },
      night
        ? `it got dark (brightness ${brightness} %): scheduled stills now use exposure ${this.night}`
        : `it got light (brightness ${brightness} %): scheduled stills now use exposure ${this.day}`,
    );
  }
}
