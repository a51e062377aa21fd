// Config + per-request overrides -> what the camera is asked for.
import type { StillRequest } from '../camera/types.ts';
import type { Config, Exposure } from '../config/schema.ts';

export interface StillOverrides {
  exposure?: Exposure;
  shutterUs?: number;
  gain?: number;
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
    settleMs: cam.settle_ms,
    // A long exposure (up to 600 s) must not be killed by a timeout meant for normal stills: the sensor
    // may need a few frames of that length (exposure settling) before the still.
    timeoutMs: Math.max(cam.timeout_ms, shutterUs ? cam.settle_ms + Math.ceil((3 * shutterUs) / 1000) + 10_000 : 0),
  };
}
