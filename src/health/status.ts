// The camera's status in one snapshot, as a pure function of what the parts know: the page shows it,
// /api/state serves it and Home Assistant gets it as the Stale problem sensor and diagnostic sensors.
import type { HealthSnapshot } from '../capture/health.ts';

export type StatusState = 'ok' | 'stale' | 'failing' | 'paused' | 'no_stills';

/** The JSON shape (snake_case) of `status` in GET /api/state and the MQTT health topic. */
export interface CameraStatus {
  /** The camera backend in use: rpicam, raspistill, ffmpeg, synthetic, ... */
  backend: string;
  /** Stills come from the synthetic test scene, not a camera. */
  synthetic: boolean;
  state: StatusState;
  /** On when the newest still is overdue, or the camera is failing or paused. */
  stale: boolean;
  /** A plain sentence for people; null when all is well. */
  reason: string | null;
  /** What to do about it; null when nothing needs doing. */
  advice: string | null;
  /** ISO times with offset. */
  latest_at: string | null;
  next_at: string | null;
  free_bytes: number | null;
  stills_kept: number;
  last_error: { code: string; message: string; at: string } | null;
}

/** Everything the status is computed from; times are Dates, the status formats them. */
export interface StatusInputs {
  now: Date;
  backend: string;
  /** Set when `camera.backend: auto` found no camera and fell back to the synthetic scene: what the probe saw. */
  fallback?: string;
  capture: HealthSnapshot;
  latestAt?: Date;
  /** When the schedule next takes a still; undefined with no schedule. */
  nextAt?: Date;
  /** When the newest still becomes overdue (see staleAfter); undefined when it never does (no schedule). */
  staleAt?: Date;
  /** When a daemon without any still becomes overdue. */
  noStillsStaleAt?: Date;
  freeBytes?: number;
  stillsKept: number;
  /** The newest failure since start, even once captures work again (capture health forgets it then). */
  lastError?: { code: string; message: string; at: Date };
  /** Local ISO time with offset for a Date (the app's clock). */
  iso: (d: Date) => string;
}

/**
 * When a still taken at `latest` is overdue: the two scheduled runs after it have both passed, and it is
 * older than twice the schedule's interval (the gap between those two runs), plus a little grace for the
 * camera run itself. For a regular schedule that is "older than twice the interval"; a schedule that
 * rests at night (`*\/5 6-20 * * *`) is not stale all night, only once two morning stills are missing.
 * `runs` are the first two scheduled runs after `latest`; undefined without them (no schedule).
 */
export function staleAfter(latest: Date, runs: readonly Date[]): Date | undefined {
  const [first, second] = runs;
  if (!first || !second) return undefined;
  const interval = second.getTime() - first.getTime();
  const grace = Math.min(interval / 10, 60_000);
  return new Date(Math.max(second.getTime(), latest.getTime() + 2 * interval) + grace);
}

/** Plain advice per error code (capture/types.ts FailureCode and the camera's codes). */
const ADVICE: Record<string, string> = {
  no_camera: "Check the camera's ribbon cable (power off first) and that `rpicam-still --list-cameras` lists the camera.",
  not_installed: 'Install the camera program (`sudo apt install rpicam-apps`) or set camera.command.',
  busy: 'Another program is using the camera: stop it, or let moncam be the only one using the camera.',
  config: 'The camera refused the settings: check camera.width, camera.height and camera.extra_args.',
  timeout: 'The camera did not answer in time: check the cable and the power supply, or raise camera.timeout_ms.',
  corrupt: 'The camera sent a broken picture: check the cable and the power supply.',
  failed: "The camera program failed: moncam's log (journalctl -u moncam) has its error.",
  disk_full: 'The disk is full: free space, or lower storage.retention_days or storage.max_bytes.',
  io: "Stills cannot be written: check the storage device; moncam's log names the file and the error.",
  internal: "This is a moncam bug: please report it with moncam's log.",
};
const DEFAULT_ADVICE = "moncam's log (journalctl -u moncam) says more.";

function ago(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 1) return 'less than a minute';
  if (min < 120) return `${min} minute${min === 1 ? '' : 's'}`;
  const h = Math.round(min / 60);
  if (h < 48) return `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

function lastError(inp: StatusInputs): CameraStatus['last_error'] {
  const f = inp.capture.last_failure;
  if (f) return { code: f.code, message: f.message, at: inp.iso(new Date(f.at)) };
  const e = inp.lastError;
  return e ? { code: e.code, message: e.message, at: inp.iso(e.at) } : null;
}

export function cameraStatus(inp: StatusInputs): CameraStatus {
  const { now, capture } = inp;
  const failure = capture.last_failure;
  let state: StatusState = 'ok';
  let stale = false;
  let reason: string | null = null;
  let advice: string | null = null;

  if (capture.paused_until && Date.parse(capture.paused_until) > now.getTime()) {
    state = 'paused';
    stale = true;
    const until = inp.iso(new Date(capture.paused_until)).slice(11, 16);
    reason = `Captures are paused until ${until} after ${capture.consecutive_failures} failures in a row${failure ? ` (${failure.code}: ${failure.message})` : ''}.`;
    advice = (failure && ADVICE[failure.code]) ?? DEFAULT_ADVICE;
  } else if (capture.consecutive_failures > 0) {
    state = 'failing';
    stale = true;
    const n = capture.consecutive_failures;
    reason = `The last ${n === 1 ? 'capture' : `${n} captures`} failed${failure ? ` (${failure.code}: ${failure.message})` : ''}.`;
    advice = (failure && ADVICE[failure.code]) ?? DEFAULT_ADVICE;
  } else if (!inp.latestAt) {
    state = 'no_stills';
    stale = Boolean(inp.noStillsStaleAt && now >= inp.noStillsStaleAt);
    reason = stale ? 'No still has been taken although the schedule should have taken two by now.' : 'No still has been taken yet.';
    advice = stale ? "Check that the schedule is on; moncam's log (journalctl -u moncam) says more." : null;
  } else if (inp.staleAt && now >= inp.staleAt) {
    state = 'stale';
    stale = true;
    reason = `The newest still is ${ago(now.getTime() - inp.latestAt.getTime())} old: the schedule has missed at least two stills.`;
    advice = "Check that the schedule is on and moncam is running; moncam's log (journalctl -u moncam) says more.";
  }
  if (state === 'ok' && inp.fallback) {
    // Not stale (stills do arrive), but a Pi user with a loose ribbon must see it in HA, not only in a log.
    reason = `No camera was found, so moncam takes stills of its synthetic test scene (${inp.fallback}).`;
    advice = ADVICE.no_camera! + ' Then restart moncam, or set camera.backend.';
  }

  return {
    backend: inp.backend,
    synthetic: inp.backend === 'synthetic',
    state,
    stale,
    reason,
    advice,
    latest_at: inp.latestAt ? inp.iso(inp.latestAt) : null,
    next_at: inp.nextAt ? inp.iso(inp.nextAt) : null,
    free_bytes: inp.freeBytes ?? null,
    stills_kept: inp.stillsKept,
    last_error: lastError(inp),
  };
}
