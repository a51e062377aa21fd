// The JSON shape of a still for the page and the API.
import type { StoredCapture } from '../storage/store.ts';

export function imageUrl(id: string, kind: 'full' | 'thumb' | 'preview'): string {
  return `/images/${id}/${kind}.jpg`;
}

export function captureJson(c: StoredCapture) {
  return {
    id: c.id,
    captured_at: c.capturedAtIso,
    day: c.day,
    hour: c.hour,
    bytes: c.bytes,
    urls: { full: imageUrl(c.id, 'full'), thumb: imageUrl(c.id, 'thumb'), preview: imageUrl(c.id, 'preview') },
  };
}
