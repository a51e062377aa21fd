// Backend 'raspistill': the legacy MMAL camera stack (Raspberry Pi OS Buster and older, or legacy mode).
import type { Exposure } from '../config/schema.ts';
import { captureWithProgram, classifyByRules, type Classification, type ClassifyRule, type ProgramCameraOptions } from './spawn.ts';
import type { Camera, Shot, StillRequest } from './types.ts';

// raspistill -ex modes (RaspiCamControl.c): auto, night, verylong, sports, ...; it has no "short", sports is the fast-shutter one.
const EXPOSURE: Record<Exposure, string> = { normal: 'auto', night: 'night', long: 'verylong', short: 'sports', sport: 'sports' };

/** The exact argv after the program name. raspistill rotates by 90/270 itself, so nothing is left to moncam. */
export function raspistillArgs(req: StillRequest, extraArgs: readonly string[] = []): string[] {
  // -t 0 would keep the preview running forever; keep the settle time explicit and positive.
  const args = ['-n', '-o', '-', '-e', 'jpg', '-t', String(Math.max(1, Math.round(req.settleMs))), '-q', String(req.quality)];
  if (req.width) args.push('-w', String(req.width));
  if (req.height) args.push('-h', String(req.height));
  if (req.rotation) args.push('-rot', String(req.rotation));
  if (req.hflip) args.push('-hf');
  if (req.vflip) args.push('-vf');
  args.push('-ex', EXPOSURE[req.exposure]);
  if (req.shutterUs) args.push('-ss', String(Math.round(req.shutterUs)));
  if (req.gain) args.push('-ag', String(req.gain));
  args.push(...extraArgs);
  return args;
}

// userland host_applications/linux/apps/raspicam: raspicamcontrol_check_configuration() prints the last,
// most specific line ("Camera is not detected...", "Camera is not enabled in this build..."); ENOSPC from
// mmal_vc_component_enable means another process holds the camera. Exit codes: 64 usage, 70 camera failure.
const RULES: readonly ClassifyRule[] = [
  {
    code: 'no_camera',
    pattern: /Camera is not detected|Camera is not enabled in this build/i,
    message: 'no camera found (check the ribbon cable and that the camera is enabled)',
  },
  {
    code: 'config',
    pattern: /Invalid command line option|Only \d+M of gpu_mem is configured/i,
    message: 'raspistill rejected its options or the system configuration',
  },
  {
    code: 'busy',
    pattern: /ENOSPC|couldn't be enabled|Failed to enable camera|out of resources/i,
    message: 'camera is in use by another process (or out of GPU resources)',
  },
  { code: 'no_camera', pattern: /Failed to create camera component/i, message: 'camera component could not be created (is the camera connected and enabled?)' },
];

export function classifyRaspistill(lines: readonly string[]): Classification | undefined {
  return classifyByRules(RULES, lines);
}

export type RaspistillOptions = ProgramCameraOptions;

export class RaspistillCamera implements Camera {
  readonly backend = 'raspistill';
  readonly description: string;
  private readonly opts: RaspistillOptions;
  private readonly program: string;

  constructor(opts: RaspistillOptions = {}) {
    this.opts = opts;
    this.program = opts.program ?? 'raspistill';
    this.description = `${this.program} (legacy MMAL camera stack)`;
  }

  async capture(req: StillRequest, signal?: AbortSignal): Promise<Shot> {
    const run = await captureWithProgram(this.opts, this.program, {
      args: raspistillArgs(req, this.opts.extraArgs),
      req,
      signal,
      classify: classifyRaspistill,
    });
    return { jpeg: run.jpeg };
  }
}
