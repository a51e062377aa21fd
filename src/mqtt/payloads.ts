// What moncam publishes about a still, a failure or a timelapse, as pure functions of the typed records:
// the image topic's attributes and the event payloads (DESIGN's event table).
import type { CaptureFailure, CaptureRecord } from '../capture/service.ts';
import type { Still } from '../storage/still.ts';
import type { TimelapseFailure, TimelapseRecord } from '../timelapse/service.ts';

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

/** The request ids a still or failure answers: `id` is the first, `ids` all of them (joined requests). */
function idFields(requests: readonly { requestId?: string }[]): { id?: string; ids?: string[] } {
  const ids = requests.flatMap((r) => (r.requestId ? [r.requestId] : []));
  return ids.length ? { id: ids[0]!, ids } : {};
}

function sceneFields(record: CaptureRecord) {
  return { brightness: record.scene.brightness, change: record.scene.change ?? null };
}

/** `captured`: one per stored still, published after the retained state it refers to. */
export function capturedEvent(record: CaptureRecord) {
  const { meta } = record.capture;
  const source = meta.requests.find((r) => r.source)?.source;
  return {
    event_type: 'captured',
    ...idFields(meta.requests),
    capture_id: record.capture.id,
    trigger: meta.trigger,
    ...(source ? { source } : {}),
    captured_at: record.capture.capturedAtIso,
    width: meta.width,
    height: meta.height,
    ...sceneFields(record),
  };
}

/** `changed`: the still's scene change reached scene.change_threshold; undefined when it did not. */
export function changedEvent(record: CaptureRecord) {
  const { scene } = record;
  if (!scene.changed) return undefined;
  return {
    event_type: 'changed',
    capture_id: record.capture.id,
    trigger: record.capture.meta.trigger,
    captured_at: record.capture.capturedAtIso,
    ...sceneFields(record),
    ...(scene.previousBrightness !== undefined ? { previous_brightness: scene.previousBrightness } : {}),
  };
}

/** `failed` for a capture that ran (or was refused by the service). */
export function failedEvent(failure: CaptureFailure) {
  return {
    event_type: 'failed',
    ...idFields(failure.requests),
    trigger: failure.trigger,
    error: failure.error.code,
    message: failure.error.message,
    ...(failure.error.detail ? { detail: failure.error.detail } : {}),
    at: failure.at.toISOString(),
  };
}

/** `failed` for a command refused before any capture (bad payload); `what: 'timelapse'` for the timelapse topic. */
export function refusedEvent(refused: { error: string; message: string; id?: string }, at: Date, what?: 'timelapse') {
  return {
    event_type: 'failed',
    ...(what ? { what } : {}),
    ...(refused.id ? { id: refused.id } : {}),
    trigger: 'mqtt',
    error: refused.error,
    message: refused.message,
    at: at.toISOString(),
  };
}

/** `failed` for a setting command refused (bad payload) or not applied (conflict, save error): nothing changed. */
export function settingRefusedEvent(setting: string, refused: { error: string; message: string }, at: Date) {
  return { event_type: 'failed', what: 'setting', setting, trigger: 'mqtt', error: refused.error, message: refused.message, at: at.toISOString() };
}

/** `timelapse`: a day's timelapse was built (the record is also the retained timelapse state). */
export function timelapseEvent(record: TimelapseRecord) {
  return { event_type: 'timelapse', ...record };
}

export function timelapseFailedEvent(f: TimelapseFailure) {
  return {
    event_type: 'failed',
    what: 'timelapse',
    ...(f.requestId ? { id: f.requestId } : {}),
    day: f.day,
    trigger: f.trigger,
    error: f.error.code,
    message: f.error.message,
    at: f.at.toISOString(),
  };
}
