// What Home Assistant's controls show and set, as config values: the Interval and Night exposure options
// and how each maps to schedule.enabled / schedule.cron / schedule.exposure. Pure functions of the config.
import type { Config } from '../config/schema.ts';
import type { Overrides } from './overrides.ts';

/**
 * Interval presets (local time, schedule.timezone). `daily` is at noon: one still a day should show the
 * place in daylight. `off` turns scheduled stills off and keeps the pattern.
 */
export const INTERVALS = [
  { option: '5 min', cron: '*/5 * * * *' },
  { option: '15 min', cron: '*/15 * * * *' },
  { option: '30 min', cron: '*/30 * * * *' },
  { option: 'hourly', cron: '0 * * * *' },
  { option: '3 h', cron: '0 */3 * * *' },
  { option: 'daily', cron: '0 12 * * *' },
] as const;

/** `custom` is shown when the pattern is none of the presets; it cannot be chosen. */
export const INTERVAL_OPTIONS = ['off', ...INTERVALS.map((i) => i.option), 'custom'] as const;

/**
 * Night exposure of scheduled stills: off = camera.exposure always (schedule.exposure unset), auto =
 * camera.exposure by day and schedule.night_exposure by night, always = schedule.night_exposure always.
 * `custom`: schedule.exposure is a fixed profile that is neither.
 */
export const NIGHT_OPTIONS = ['off', 'auto', 'always', 'custom'] as const;

export type IntervalOption = (typeof INTERVAL_OPTIONS)[number];
export type NightOption = (typeof NIGHT_OPTIONS)[number];

const spaces = (cron: string) => cron.trim().split(/\s+/).join(' ');

export function intervalOf(config: Config): IntervalOption {
  if (!config.schedule.enabled) return 'off';
  const cron = spaces(config.schedule.cron);
  return INTERVALS.find((i) => i.cron === cron)?.option ?? 'custom';
}

/** The settings an interval option stands for; undefined for `custom` (or anything else). */
export function intervalSettings(option: string): Overrides | undefined {
  if (option === 'off') return { 'schedule.enabled': false };
  const preset = INTERVALS.find((i) => i.option === option);
  return preset ? { 'schedule.enabled': true, 'schedule.cron': preset.cron } : undefined;
}

export function nightOf(config: Config): NightOption {
  const { exposure, night_exposure } = config.schedule;
  if (exposure === 'auto') return 'auto';
  if (exposure === undefined || exposure === config.camera.exposure) return 'off';
  return exposure === night_exposure ? 'always' : 'custom';
}

export function nightSettings(option: string, config: Config): Overrides | undefined {
  if (option === 'off') return { 'schedule.exposure': null };
  if (option === 'auto') return { 'schedule.exposure': 'auto' };
  if (option === 'always') return { 'schedule.exposure': config.schedule.night_exposure };
  return undefined;
}
