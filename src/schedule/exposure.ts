// Night awareness for scheduled stills: the exposure profile follows the brightness of the last still.
import type { Logger } from 'pino';
import type { Config, Exposure } from '../config/schema.ts';

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

  constructor(opts: { config: Config; logger: Logger }) {
    const { camera, schedule } = opts.config;
    this.day = camera.exposure;
    this.night = schedule.night_exposure;
    this.nightBelow = schedule.night_below;
    this.dayAbove = schedule.day_above;
    this.logger = opts.logger;
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
      night ? `it got dark (brightness ${brightness} %): scheduled stills now use exposure ${this.night}` : `it got light (brightness ${brightness} %): scheduled stills now use exposure ${this.day}`,
    );
  }
}
