// Backend 'rpicam': rpicam-still (libcamera-still on Raspberry Pi OS before Bookworm), JPEG on stdout.
import type { Exposure } from '../config/schema.ts';
import { captureWithProgram, classifyByRules, type Classification, type ClassifyRule, type ProgramCameraOptions } from './spawn.ts';
import { withSensorSize, type Size } from './sensor.ts';
import type { Camera, Shot, StillRequest } from './types.ts';

// libcamera has no night mode (rpicam-apps core/options.cpp exposure_table: normal, sport, short, long, custom).
const EXPOSURE: Record<Exposure, string> = { normal: 'normal', night: 'long', long: 'long', short: 'short', sport: 'sport' };

export interface RpicamArgs {
  args: string[];
  /** What moncam still has to rotate (EXIF orientation). */
  rotate?: 90 | 270;
}

/** The exact argv after the program name; pure so tests can check it. */
export function rpicamArgs(req: StillRequest, extraArgs: readonly string[] = []): RpicamArgs {
  // `-t` is explicit: the default is a 5 s preview. `-t 0` would mean "run forever", so a zero
  // settle time is `--immediate` (capture with no preview phase) plus a harmless 1 ms timeout.
  const args = ['-n', '-o', '-', '--encoding', 'jpg', '-t', String(Math.max(1, Math.round(req.settleMs)))];
  if (req.settleMs <= 0) args.push('--immediate');
  args.push(...rpicamImageArgs(req), ...extraArgs);
  const rotate = rotationLeft(req);
  return rotate ? { args, rotate } : { args };
}

/** The options that decide what the still looks like (shared with warm mode, which keys on them). */
export function rpicamImageArgs(req: StillRequest): string[] {
  const args = ['-q', String(req.quality)];
  if (req.width) args.push('--width', String(req.width));
  if (req.height) args.push('--height', String(req.height));
  // rpicam-still rejects anything but 0 and 180 ("illegal rotation value": a transpose is not supported),
  // so 90/270 are left to moncam.
  if (req.rotation === 180) args.push('--rotation', '180');
  if (req.hflip) args.push('--hflip');
  if (req.vflip) args.push('--vflip');
  args.push('--exposure', EXPOSURE[req.exposure]);
  if (req.shutterUs) args.push('--shutter', String(Math.round(req.shutterUs)));
  if (req.gain) args.push('--gain', String(req.gain));
  // Names and values as rpicam-apps core/options.cpp and core/still_options.hpp define them. --hdr has an
  // implicit value (boost::program_options never takes the next word as its value), so it is `--hdr=MODE`.
  if (req.autofocusMode && req.autofocusMode !== 'default') args.push('--autofocus-mode', req.autofocusMode);
  if (req.autofocusOnCapture) args.push('--autofocus-on-capture');
  if (req.lensPosition !== undefined) args.push('--lens-position', String(req.lensPosition));
  if (req.hdr && req.hdr !== 'off') args.push(`--hdr=${req.hdr}`);
  return args;
}

/** What moncam still has to rotate itself (EXIF orientation). */
export function rotationLeft(req: StillRequest): 90 | 270 | undefined {
  return req.rotation === 90 || req.rotation === 270 ? req.rotation : undefined;
}

// Messages as printed by rpicam-apps / libcamera-apps (main() prints "ERROR: *** <what()> ***", exit 255).
const RULES: readonly ClassifyRule[] = [
  // boost::program_options errors and Options::Parse() checks (core/options.cpp).
  {
    code: 'config',
    pattern:
      /illegal rotation value|transforms requiring transpose not supported|unrecogni[sz]ed option|too many positional options|for option '[^']*' is invalid|required argument for option|cannot be specified more than once|Invalid (exposure|metering|AWB|HDR|AfMode|AfRange|afSpeed|lens position|mode)\b|Packing indicator|unrecognised metadata format/i,
    message: 'the camera program rejected its options (check camera.* and extra_args)',
  },
  // libcamera "Pipeline handler in use by another process" (camera.cpp, logged at INFO), then
  // "failed to acquire camera <id>" (core/rpicam_app.cpp OpenCamera); V4L2 EBUSY.
  {
    code: 'busy',
    pattern: /Pipeline handler in use by another process|failed to acquire camera|Device or resource busy/i,
    message: 'camera is in use by another process',
  },
  // "no cameras available" / "selected camera is not available" (OpenCamera); legacy stack or non-Pi board (RPiCamApp ctor).
  {
    code: 'no_camera',
    pattern: /no cameras available|selected camera is not available|configured for the legacy camera stack|only supports the Raspberry Pi platforms/i,
    message: 'no camera found (check the ribbon cable and camera_auto_detect in config.txt)',
  },
];

export function classifyRpicam(lines: readonly string[]): Classification | undefined {
  return classifyByRules(RULES, lines);
}

export interface RpicamOptions extends ProgramCameraOptions {
  /** The sensor's full size (`--list-cameras`): the still size where camera.width/height are unset. */
  sensorSize?: Size;
}

export class RpicamCamera implements Camera {
  readonly backend = 'rpicam';
  readonly description: string;
  private readonly opts: RpicamOptions;
  private readonly program: string;

  constructor(opts: RpicamOptions = {}) {
    this.opts = opts;
    this.program = opts.program ?? 'rpicam-still';
    this.description = `${this.program} (libcamera)`;
  }

  async capture(asked: StillRequest, signal?: AbortSignal): Promise<Shot> {
    const req = withSensorSize(asked, this.opts.sensorSize);
    const { args, rotate } = rpicamArgs(req, this.opts.extraArgs);
    const run = await captureWithProgram(this.opts, this.program, { args, req, signal, classify: classifyRpicam });
    return rotate ? { jpeg: run.jpeg, rotate } : { jpeg: run.jpeg };
  }
}
