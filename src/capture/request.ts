// Config + per-request overrides -> what the camera is asked for.
import type { StillRequest } from '../camera/types.ts';
import type { Config, Exposure } from '../config/schema.ts';

export interface StillOverrides {
  exposure?: Exposure;
  shutterUs?: number;
  gain?: number;
  /** A fixed focus for this still (dioptres): the lens is set, no autofocus scan. */
  lensPosition?: number;
  /** true: an autofocus scan before this still; false: none, whatever camera.autofocus_on_capture says. */
  autofocus?: boolean;
}

/**
 * `scheduledExposure`: the profile a scheduled still uses when the request does not name one
 * (`schedule.exposure`, or what `auto` chose from the last still's brightness).
 */
export function stillRequest(config: Config, overrides: StillOverrides = {}, scheduledExposure?: Exposure): StillRequest {
  const cam = config.camera;
  const exposure = overrides.exposure ?? scheduledExposure ?? cam.exposure;
  const shutterUs = overrides.shutterUs ?? cam.shutter_us;
  const gain = overrides.gain ?? cam.gain;
  // A per-still lens position means manual focus for that still (rpicam-still ignores it while autofocus
  // moves the lens); a per-still autofocus scan replaces the configured lens position.
  const lensPosition = overrides.autofocus ? undefined : (overrides.lensPosition ?? cam.lens_position);
  const autofocusMode = overrides.lensPosition !== undefined && !overrides.autofocus ? 'manual' : cam.autofocus_mode;
  const autofocusOnCapture = overrides.autofocus ?? (overrides.lensPosition !== undefined ? false : cam.autofocus_on_capture);
  return {
    ...(cam.width ? { width: cam.width } : {}),
    ...(cam.height ? { height: cam.height } : {}),
    quality: cam.quality,
    rotation: cam.rotation,
    hflip: cam.hflip,
    vflip: cam.vflip,
    exposure,
    ...(shutterUs ? { shutterUs } : {}),
    ...(gain ? { gain } : {}),
    ...(autofocusMode !== 'default' ? { autofocusMode } : {}),
    ...(autofocusOnCapture ? { autofocusOnCapture } : {}),
    ...(lensPosition !== undefined ? { lensPosition } : {}),
    ...(cam.hdr !== 'off' ? { hdr: cam.hdr } : {}),
    settleMs: cam.settle_ms,
    // A long exposure (up to 600 s) must not be killed by a timeout meant for normal stills: the sensor
    // may need a few frames of that length (exposure settling) before the still.
    timeoutMs: Math.max(cam.timeout_ms, shutterUs ? cam.settle_ms + Math.ceil((3 * shutterUs) / 1000) + 10_000 : 0),
  };
}
