// The scene each new still is measured against: the last stored still of the same exposure profile.
import type { Exposure } from '../config/schema.ts';
import { changeScore, decodeSignature } from '../scene/scene.ts';
import type { StillMeta } from '../storage/store.ts';
import type { SceneReading } from './types.ts';

/** Stills are compared like with like: same exposure profile, and forced shutter/gain apart from automatic. */
export function sceneProfile(exposure: Exposure, manual: boolean): string {
  return manual ? `${exposure}+manual` : exposure;
}

/**
 * The last still's scene per exposure profile. A night exposure of an unchanged garden looks nothing
 * like a normal one, and comparing across profiles would fire `changed` twice (at the night still, and
 * at the normal one after it).
 */
export class SceneReferences {
  private readonly refs = new Map<string, { signature?: Buffer; brightness?: number }>();
  private readonly threshold: number;

  /** `threshold`: scene.change_threshold (0: `changed` never fires). */
  constructor(threshold: number) {
    this.threshold = threshold;
  }

  /** Picks up the scene of a stored still's metadata (after a restart, the first still gets a change score too). */
  restore(meta: StillMeta | undefined): void {
    if (!meta) return;
    const signature = decodeSignature(meta.scene_signature);
    const brightness = meta.brightness;
    if (signature || brightness !== undefined) this.refs.set(sceneProfile(meta.exposure ?? 'normal', meta.manual === true), { signature, brightness });
  }

  /** How a new still of `profile` compares with the reference. */
  reading(brightness: number, signature: Buffer, profile: string): SceneReading {
    const previous = this.refs.get(profile);
    const change = changeScore(previous?.signature, signature);
    return {
      brightness,
      ...(change !== undefined ? { change } : {}),
      changed: this.threshold > 0 && change !== undefined && change >= this.threshold,
      ...(previous?.brightness !== undefined ? { previousBrightness: previous.brightness } : {}),
    };
  }

  /** Only a stored still becomes the reference: a failed save must not hide the change from the next one. */
  remember(profile: string, signature: Buffer, brightness: number): void {
    this.refs.set(profile, { signature, brightness });
  }
}
