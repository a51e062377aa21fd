// The small interface every camera backend implements, and the error classes callers act on.
import type { AutofocusMode, Exposure, HdrMode } from '../config/schema.ts';

/** Why a capture failed, machine-readable: it names MQTT `failed` events and page messages. */
export type CameraErrorCode = 'not_installed' | 'no_camera' | 'busy' | 'config' | 'timeout' | 'corrupt' | 'failed';

export class CameraError extends Error {
  readonly code: CameraErrorCode;
  /** The stderr line (or other fact) that proves the classification. */
  readonly detail?: string;
  readonly exitCode?: number | null;
  readonly signal?: NodeJS.Signals | null;
  constructor(
    code: CameraErrorCode,
    message: string,
    extra: { detail?: string; exitCode?: number | null; signal?: NodeJS.Signals | null; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'CameraError';
    this.code = code;
    this.detail = extra.detail;
    this.exitCode = extra.exitCode;
    this.signal = extra.signal;
  }
}

/** What one still is taken with; built from config plus per-request options. */
export interface StillRequest {
  width?: number;
  height?: number;
  quality: number;
  /** Clockwise; a backend that cannot do it returns the rest in `Shot.rotate`. */
  rotation: 0 | 90 | 180 | 270;
  hflip: boolean;
  vflip: boolean;
  exposure: Exposure;
  shutterUs?: number;
  gain?: number;
  /** rpicam, Camera Module 3: `--autofocus-mode` (unset or default: rpicam-still's choice). */
  autofocusMode?: AutofocusMode;
  /** rpicam: an autofocus scan just before the still. */
  autofocusOnCapture?: boolean;
  /** rpicam: fixed focus in dioptres (0: infinity). */
  lensPosition?: number;
  /** rpicam: `--hdr` (unset or off: none). */
  hdr?: HdrMode;
  settleMs: number;
  timeoutMs: number;
}

/** What a camera backend returns; `Still` (storage/still.ts) is the kept still with its metadata. */
export interface Shot {
  /** The JPEG exactly as the camera produced it. */
  jpeg: Buffer;
  /** Rotation still to apply losslessly (EXIF orientation); the backend did the rest. */
  rotate?: 90 | 270;
}

export interface Camera {
  /** Backend name: rpicam, raspistill, ffmpeg, synthetic. */
  readonly backend: string;
  /** Human-readable: the program and device it uses. */
  readonly description: string;
  capture(req: StillRequest, signal?: AbortSignal): Promise<Shot>;
  /**
   * The daemon's on-demand still has new options (a quality set from Home Assistant): a camera that keeps
   * itself ready for one kind of still (warm mode) switches to these; optional.
   */
  setProfile?(profile: StillRequest): void;
  /** Release anything held open (warm processes); optional. */
  stop?(): Promise<void>;
}
