// Backend 'ffmpeg': a USB webcam through V4L2, or an RTSP/HTTP source; one frame as JPEG on stdout.
import { captureWithProgram, classifyByRules, type Classification, type ClassifyRule, type ProgramCameraOptions } from './spawn.ts';
import type { Camera, Shot, StillRequest } from './types.ts';

export interface FfmpegSource {
  /** V4L2 device, used when no url is set. */
  device?: string;
  url?: string;
}

/** JPEG quality 1..100 -> mjpeg -q:v 31..2 (lower is better). */
export function mjpegQscale(quality: number): number {
  const q = Math.min(100, Math.max(1, quality));
  return Math.round(2 + ((100 - q) * 29) / 99);
}

/** The exact argv after the program name. */
export function ffmpegArgs(req: StillRequest, source: FfmpegSource, extraArgs: readonly string[] = []): string[] {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'];
  const filters: string[] = [];
  if (source.url) {
    if (/^rtsps?:/i.test(source.url)) args.push('-rtsp_transport', 'tcp');
    args.push('-i', source.url);
    // A stream has its own size; scale only when both sides are asked for.
    if (req.width && req.height) filters.push(`scale=${req.width}:${req.height}`);
  } else {
    args.push('-f', 'v4l2');
    if (req.width && req.height) args.push('-video_size', `${req.width}x${req.height}`);
    args.push('-i', source.device ?? '/dev/video0');
    // Webcams start dark: drop frames for the settle time so auto exposure can catch up.
    if (req.settleMs > 0) args.push('-ss', (req.settleMs / 1000).toFixed(3));
  }
  args.push('-frames:v', '1');
  // It re-encodes anyway, so flips and rotation are done here (flip first, then rotate, like libcamera).
  if (req.hflip) filters.push('hflip');
  if (req.vflip) filters.push('vflip');
  if (req.rotation === 90) filters.push('transpose=clock');
  else if (req.rotation === 180) filters.push('hflip', 'vflip');
  else if (req.rotation === 270) filters.push('transpose=cclock');
  if (filters.length) args.push('-vf', filters.join(','));
  // Extra args go before the output: options after the last output are ignored by ffmpeg.
  args.push('-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', String(mjpegQscale(req.quality)), ...extraArgs, '-');
  return args;
}

// ffmpeg prints "<input>: <strerror>" (and libavdevice/v4l2.c "Cannot open video device <dev>: <strerror>").
const RULES: readonly ClassifyRule[] = [
  { code: 'busy', pattern: /Device or resource busy/i, message: 'video device is in use by another process' },
  { code: 'no_camera', pattern: /No such file or directory|No such device/i, message: 'video device not found' },
  { code: 'no_camera', pattern: /Permission denied/i, message: 'no access to the video device (is the user in the video group?)' },
  {
    code: 'no_camera',
    pattern:
      /Connection refused|timed out|Server returned 404|404 Not Found|No route to host|Network is unreachable|Name or service not known|Temporary failure in name resolution/i,
    message: 'camera stream not reachable',
  },
  {
    code: 'config',
    pattern: /Invalid argument|Unrecognized option|Option not found|Error splitting the argument list|Unknown encoder/i,
    message: 'ffmpeg rejected its options',
  },
];

export function classifyFfmpeg(lines: readonly string[]): Classification | undefined {
  return classifyByRules(RULES, lines);
}

export interface FfmpegOptions extends FfmpegSource, ProgramCameraOptions {}

export class FfmpegCamera implements Camera {
  readonly backend = 'ffmpeg';
  readonly description: string;
  private readonly opts: FfmpegOptions;
  private readonly program: string;

  constructor(opts: FfmpegOptions = {}) {
    this.opts = opts;
    this.program = opts.program ?? 'ffmpeg';
    this.description = `${this.program} from ${opts.url ? redactUrl(opts.url) : (opts.device ?? '/dev/video0')}`;
  }

  async capture(req: StillRequest, signal?: AbortSignal): Promise<Shot> {
    const run = await captureWithProgram(this.opts, this.program, {
      args: ffmpegArgs(req, this.opts, this.opts.extraArgs),
      req,
      signal,
      classify: classifyFfmpeg,
      scrubLine: scrubCredentials,
    });
    return { jpeg: run.jpeg };
  }
}

/** ffmpeg names the input URL in its errors; the stderr line becomes `detail`, which is logged and published. */
export function scrubCredentials(line: string): string {
  return line.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi, '$1:***@');
}

/** RTSP URLs often carry a password; never show it in descriptions or logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
