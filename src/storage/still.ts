// One typed still: where its files are and when it was taken (from its name, without opening a file),
// and what was recorded with it: its `<id>.json`, checked by one zod schema when it is read.
import { z } from 'zod';
import { exposureSchema } from '../config/schema.ts';
import type { FileKind } from './layout.ts';

/** The version save() writes as `v`. Files written before there was a `v` are version 1. */
export const STILL_VERSION = 2;

/** Who asked for a still; published as `trigger` in events (ha-config's blueprint filters on it). */
export const TRIGGERS = ['schedule', 'mqtt', 'web', 'visit', 'cli', 'startup'] as const;
export type Trigger = (typeof TRIGGERS)[number];

const size = z.number().int().nonnegative();

const requestSchema = z.object({ trigger: z.enum(TRIGGERS), requestId: z.string().optional(), source: z.string().optional() });

/** What the capture pipeline records with a still: the caller's part of a save. */
const recordedShape = {
  trigger: z.enum(TRIGGERS),
  /** Every request this still answers (joined requests share one camera run). */
  requests: z.array(requestSchema),
  camera: z.string(),
  /** The preview's size (the MQTT image), the original's, the thumbnail's. */
  width: size,
  height: size,
  full_width: size,
  full_height: size,
  thumb_width: size,
  thumb_height: size,
  /** The exposure profile the camera was asked for; `manual`: a shutter time or gain was forced. */
  exposure: exposureSchema,
  manual: z.literal(true).optional(),
  /** Scene sensors: brightness 0..100 %; change since the previous still of the profile (none for the first). */
  brightness: z.number().optional(),
  change: z.number().optional(),
  /** The thumbnail's scene signature (base64), the next still's reference after a restart. */
  scene_signature: z.string().optional(),
};

/** What the store adds: the id and instant, the local time and zone, the day folder, the original's size. */
const storedShape = {
  id: z.string(),
  capturedAt: z.string(),
  capturedAtLocal: z.string(),
  timeZone: z.string(),
  day: z.string(),
  bytes: size,
};

/** `<id>.json` as save() writes it now. */
const stillMetaV2 = z.object({ v: z.literal(STILL_VERSION), ...recordedShape, ...storedShape });

/**
 * Version 1, written without `v`: the same fields, but stills stored before the scene sensors lack
 * exposure and the scene fields, so a field that is missing or not what version 2 expects is left out.
 */
const stillMetaV1 = z.object({
  ...recordedShape,
  ...storedShape,
  exposure: exposureSchema.optional().catch(undefined),
  manual: recordedShape.manual.catch(undefined),
  brightness: recordedShape.brightness.catch(undefined),
  change: recordedShape.change.catch(undefined),
  scene_signature: recordedShape.scene_signature.catch(undefined),
});

export type StillMeta = Omit<z.infer<typeof stillMetaV2>, 'exposure'> & { exposure?: z.infer<typeof exposureSchema> };
/** What a caller hands save(); the store adds the rest. */
export type RecordedMeta = Omit<z.infer<typeof stillMetaV2>, 'v' | keyof typeof storedShape>;

/** Absolute paths of one still's files. */
export type StillFiles = Record<FileKind, string>;

export interface Still {
  /** `20261123T200804.123Z`, the capture instant in UTC. */
  id: string;
  /** The day folder, `YYYY-MM-DD` (local day in the store's zone when it was saved). */
  day: string;
  capturedAt: Date;
  /** Local time with offset in the store's zone, e.g. `2026-11-23T21:08:04.123+01:00`. */
  capturedAtIso: string;
  /** Local hour 0..23 in the store's zone. */
  hour: number;
  /** Size of the original. */
  bytes: number;
  files: StillFiles;
  /** A page visit's still kept only as the "now" still: shown and published, filed in no day (storage/now.ts). */
  transient?: true;
  /**
   * Its `<id>.json`, checked when read (CaptureStore.read) or as saved (the capture service's event).
   * Listings leave it out: they open no file. Undefined too when the file is missing or unreadable.
   */
  meta?: StillMeta;
}

/** A still with its metadata, as the capture service hands it on after a save. */
export type SavedStill = Still & { meta: StillMeta };

/** The metadata file of a still: what was recorded with it, and the store's fields (which win). */
export function stillMeta(still: Still, recorded: RecordedMeta, timeZone: string): StillMeta {
  return {
    v: STILL_VERSION,
    ...recorded,
    id: still.id,
    capturedAt: still.capturedAt.toISOString(),
    capturedAtLocal: still.capturedAtIso,
    timeZone,
    day: still.day,
    bytes: still.bytes,
  };
}

/** A metadata file's content (any version) as the current StillMeta; undefined when it is not one. */
export function parseStillMeta(value: unknown): StillMeta | undefined {
  const v = value && typeof value === 'object' && !Array.isArray(value) ? (value as { v?: unknown }).v : undefined;
  if (v === undefined) {
    const old = stillMetaV1.safeParse(value);
    return old.success ? { v: STILL_VERSION, ...old.data } : undefined;
  }
  const current = stillMetaV2.safeParse(value);
  return current.success ? current.data : undefined;
}
