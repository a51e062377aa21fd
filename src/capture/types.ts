// The shapes the capture service hands to its callers and listeners: a stored still's record, a
// failure, the per-request options. Outputs (MQTT, web, control socket) import these, not the service.
import { CameraError } from '../camera/types.ts';
import type { Exposure } from '../config/schema.ts';
import { StorageError, type SavedStill, type Trigger } from '../storage/store.ts';

/** Per-request overrides (MQTT validates its own whitelist before calling). */
export interface CaptureOptions {
  exposure?: Exposure;
  shutterUs?: number;
  gain?: number;
  /** Per-still focus (rpicam, Camera Module 3): see StillOverrides. */
  lensPosition?: number;
  autofocus?: boolean;
  /** Caller's id, echoed in events (MQTT `id`). */
  requestId?: string;
  /** Free text naming who asked (MQTT `source`). */
  source?: string;
  /** Accept the capture already in flight instead of queueing a fresh one (page visits). */
  joinInFlight?: boolean;
}

export interface CaptureRequest {
  trigger: Trigger;
  requestId?: string;
  source?: string;
}

/** A stored still with the metadata it was saved with, and what only its capture knows. */
export interface CaptureRecord {
  capture: SavedStill;
  /** The MQTT preview JPEG, so outputs need not read it back from disk. */
  preview: Buffer;
  scene: SceneReading;
  /** Time from the camera's start to its JPEG, and from the JPEG to stored files. */
  cameraMs: number;
  pipelineMs: number;
}

/** Scene sensors of one still (DESIGN: computed from the thumbnail, before its time tag). */
export interface SceneReading {
  /** Mean brightness, 0..100 %. */
  brightness: number;
  /** % of the picture that changed since the previous still; undefined for the first still. */
  change?: number;
  /** change reached `scene.change_threshold`. */
  changed: boolean;
  previousBrightness?: number;
}

/** `backoff`: refused without running the camera, during the pause after failures in a row; `stopped`: the daemon is shutting down. */
export type FailureCode = CameraError['code'] | 'disk_full' | 'io' | 'internal' | 'backoff' | 'stopped';

export interface CaptureFailure {
  trigger: Trigger;
  requests: CaptureRequest[];
  at: Date;
  error: { code: FailureCode; message: string; detail?: string };
}

export interface CaptureEvents {
  captured: [CaptureRecord];
  failed: [CaptureFailure];
}

export class CaptureFailedError extends Error {
  readonly failure: CaptureFailure;
  constructor(failure: CaptureFailure) {
    super(failure.error.message);
    this.name = 'CaptureFailedError';
    this.failure = failure;
  }
}

/** Requests with an id (or source) echoed per still (MQTT `ids`, metadata); a burst beyond shares the still unnamed. */
export const MAX_REQUESTS_PER_CAPTURE = 1000;

export function classify(err: unknown): CaptureFailure['error'] {
  if (err instanceof CameraError) return { code: err.code, message: err.message, ...(err.detail ? { detail: err.detail } : {}) };
  // too_old is only thrown for a timelapse of a past day; a still is always of today.
  if (err instanceof StorageError) return { code: err.code === 'too_old' ? 'io' : err.code, message: err.message };
  return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
}
