// The image topic's attributes JSON, from a still (fresh from a capture, or read back after a restart). Pure.
import type { Still } from '../storage/still.ts';

/** Metadata fields are left out (undefined) when the still's metadata is missing or unreadable. */
export function stillAttributes(still: Still, previewBytes: number) {
  const meta = still.meta;
  return {
    captured_at: still.capturedAtIso,
    trigger: meta?.trigger,
    id: still.id,
    width: meta?.width,
    height: meta?.height,
    bytes: previewBytes,
    full_width: meta?.full_width,
    full_height: meta?.full_height,
    original_bytes: still.bytes,
    exposure: meta?.exposure,
    // Scene sensors; null (HA: unknown) for the first still or a still stored by an older version.
    brightness: meta?.brightness ?? null,
    change: meta?.change ?? null,
  };
}
