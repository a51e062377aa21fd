// What the store knows about a stored still.
import type { FileKind } from './layout.ts';

/** Absolute paths of one capture's files. */
export type CaptureFiles = Record<FileKind, string>;

export interface StoredCapture {
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
  files: CaptureFiles;
}
