// The settings Home Assistant may change, as overrides of config keys kept in <data_dir>/settings.json:
// the schema of that file, reading it (bounded, validated; a bad file is reported, never fatal), and
// applying the overrides to the config.
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { cronPatternSchema, JPEG_QUALITY, scheduleExposureSchema, type Config } from '../config/schema.ts';

/** The config keys an override may set; nothing else is ever read from the file. */
export const OVERRIDE_KEYS = ['schedule.enabled', 'schedule.cron', 'schedule.exposure', 'camera.quality'] as const;
export type OverrideKey = (typeof OVERRIDE_KEYS)[number];

/** schedule.exposure null: unset, i.e. scheduled stills use camera.exposure (the config's "no value"). */
export const overridesSchema = z.strictObject({
  'schedule.enabled': z.boolean().optional(),
  'schedule.cron': cronPatternSchema.max(100).optional(),
  'schedule.exposure': scheduleExposureSchema.nullable().optional(),
  'camera.quality': z.number().int().min(JPEG_QUALITY.min).max(JPEG_QUALITY.max).optional(),
});
export type Overrides = z.infer<typeof overridesSchema>;

const fileSchema = z.strictObject({ version: z.literal(1), overrides: overridesSchema });

/** A settings file holds four small values; anything bigger is not one we wrote. */
export const MAX_SETTINGS_BYTES = 16 * 1024;

export function settingsFile(dataDir: string): string {
  return path.join(dataDir, 'settings.json');
}

export interface ReadResult {
  overrides: Overrides;
  /** Why the file was ignored (it is left in place; the next change from HA replaces it). */
  problem?: { code: 'settings_too_large' | 'settings_unreadable' | 'settings_bad_json' | 'settings_invalid'; message: string };
}

/** Never throws: a missing file is no overrides, a bad one is no overrides plus the problem. */
export async function readOverrides(file: string): Promise<ReadResult> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { overrides: {} };
    return { overrides: {}, problem: { code: 'settings_unreadable', message: `${file}: cannot read (${code ?? String(err)})` } };
  }
  let text: string;
  try {
    // Read at most one byte past the limit, so a huge file costs nothing.
    const buf = Buffer.alloc(MAX_SETTINGS_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_SETTINGS_BYTES)
      return { overrides: {}, problem: { code: 'settings_too_large', message: `${file}: larger than ${MAX_SETTINGS_BYTES} bytes; ignored` } };
    text = buf.subarray(0, bytesRead).toString('utf8');
  } catch (err) {
    return { overrides: {}, problem: { code: 'settings_unreadable', message: `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` } };
  } finally {
    await handle.close().catch(() => undefined);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { overrides: {}, problem: { code: 'settings_bad_json', message: `${file}: not valid JSON (${(err as Error).message}); ignored` } };
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.map(String).join('.');
    return { overrides: {}, problem: { code: 'settings_invalid', message: `${file}: ${where ? where + ': ' : ''}${issue.message}; ignored` } };
  }
  return { overrides: parsed.data.overrides };
}

export function serializeOverrides(overrides: Overrides): string {
  return JSON.stringify({ version: 1, overrides }, null, 2) + '\n';
}

/** The config's own value of an override key (schedule.exposure unset -> null). */
export function baseValue(config: Config, key: OverrideKey): unknown {
  switch (key) {
    case 'schedule.enabled':
      return config.schedule.enabled;
    case 'schedule.cron':
      return config.schedule.cron;
    case 'schedule.exposure':
      return config.schedule.exposure ?? null;
    case 'camera.quality':
      return config.camera.quality;
  }
}

/** `config` with the overrides applied (a new object; `config` is not changed). */
export function applyOverrides(config: Config, o: Overrides): Config {
  const schedule = { ...config.schedule };
  if (o['schedule.enabled'] !== undefined) schedule.enabled = o['schedule.enabled'];
  if (o['schedule.cron'] !== undefined) schedule.cron = o['schedule.cron'];
  if (o['schedule.exposure'] === null) delete schedule.exposure;
  else if (o['schedule.exposure'] !== undefined) schedule.exposure = o['schedule.exposure'];
  const camera = o['camera.quality'] !== undefined ? { ...config.camera, quality: o['camera.quality'] } : config.camera;
  return { ...config, schedule, camera };
}

/** schedule.exposure auto needs day_above over night_below (the config check, for a value set from HA). */
export function conflictWithConfig(config: Config, o: Overrides): string | undefined {
  const effective = applyOverrides(config, o);
  const { exposure, day_above, night_below } = effective.schedule;
  if (exposure === 'auto' && day_above <= night_below)
    return `schedule.exposure auto needs schedule.day_above (${day_above}) above schedule.night_below (${night_below}); fix the config file first`;
  return undefined;
}
