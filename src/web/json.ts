// The JSON shape of a still for the page and the API.
import type { Still } from '../storage/store.ts';
import type { TimelapseMeta } from '../timelapse/files.ts';

export function imageUrl(id: string, kind: 'full' | 'thumb' | 'preview'): string {
  return `/images/${id}/${kind}.jpg`;
}

export function captureJson(c: Still) {
  return {
    id: c.id,
    captured_at: c.capturedAtIso,
    day: c.day,
    hour: c.hour,
    bytes: c.bytes,
    urls: { full: imageUrl(c.id, 'full'), thumb: imageUrl(c.id, 'thumb'), preview: imageUrl(c.id, 'preview') },
  };
}

/** A still with what was recorded with it (undefined fields are left out when its metadata is missing). */
export function stillJson(s: Still) {
  // filed: false for a visit's "now" still, which is in no day's history (web.keep_visit_stills).
  return { ...captureJson(s), trigger: s.meta?.trigger, width: s.meta?.full_width, height: s.meta?.full_height, filed: !s.transient };
}

/** A timelapse for the page: its session URL, versioned by its newest still so a rebuild is fetched anew. */
export function timelapseJson(meta: TimelapseMeta, day: string) {
  const version = typeof meta.last_id === 'string' ? `?v=${encodeURIComponent(meta.last_id)}` : '';
  return {
    day,
    url: `/timelapse/${day}.webp${version}`,
    /** The GIF made with it, to download and share (absent when there is none). */
    gif_url: meta.gif ? `/timelapse/${day}.gif${version}` : undefined,
    gif_bytes: meta.gif?.bytes,
    frames: meta.frames,
    frame_ms: meta.frame_ms,
    width: meta.width,
    height: meta.height,
    bytes: meta.bytes,
    created_at: meta.created_at,
    last_captured_at: meta.last_captured_at,
    /** Each frame's capture time, for the player; left out for a timelapse made before they were recorded. */
    frame_times: meta.frame_times?.length === meta.frames ? meta.frame_times : undefined,
  };
}
