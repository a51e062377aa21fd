// Chooses the camera backend: the configured one, or for `auto` the first that really has a camera.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ParsedConfig } from '../config/schema.ts';
import { FfmpegCamera, redactUrl } from './ffmpeg.ts';
import { RaspistillCamera } from './raspistill.ts';
import { RpicamCamera } from './rpicam.ts';
import { cameraIndex, fullSize, parseListCameras, type Size } from './sensor.ts';
import { runProgram } from './spawn.ts';
import { SyntheticCamera } from './synthetic.ts';
import type { Camera, StillRequest } from './types.ts';
import { warmDecision, WarmRpicamCamera } from './warm.ts';

export type CameraConfig = Pick<ParsedConfig['camera'], 'backend' | 'command' | 'device' | 'url' | 'extra_args' | 'width' | 'height'> &
  Partial<Pick<ParsedConfig['camera'], 'warm' | 'hdr'>>;

export interface SyntheticFactoryOptions {
  width?: number;
  height?: number;
  timeZone?: string;
}

export interface ProbeDeps {
  logger: Logger;
  /** Environment of the camera programs (probes and captures). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where programs are looked up (PATH syntax). Default: env.PATH. */
  searchPath?: string;
  /** Does the V4L2 device exist? Default: fs.existsSync. */
  exists?: (file: string) => boolean;
  createSynthetic?: (opts: SyntheticFactoryOptions) => Camera;
  /** Time zone of the synthetic scene's clock. */
  timeZone?: string;
  /** Limit for one probe run (`--list-cameras`, `vcgencmd`). */
  probeTimeoutMs?: number;
  killGraceMs?: number;
  /**
   * The still a warm rpicam-still is kept ready for (the daemon's on-demand still); camera.warm decides.
   * Without it (one-shot commands) the camera is never warm.
   */
  warmProfile?: StillRequest;
  /** RAM for camera.warm auto. Default: os.totalmem(). */
  totalMemBytes?: number;
}

export interface ProbeResult {
  camera: Camera;
  /** Why this camera was chosen, for the log and `moncam config`. */
  reason: string;
  /** Set when `auto` found no camera and fell back to the synthetic scene: what each probe saw (the health status shows it). */
  fallback?: string;
}

type Backend = 'rpicam' | 'raspistill' | 'ffmpeg';

interface Ctx {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  searchPath: string;
  exists: (file: string) => boolean;
  probeTimeoutMs: number;
  killGraceMs?: number;
  warmProfile?: StillRequest;
  totalMemBytes?: number;
}

/** Returns the absolute path of an executable file, like the shell's PATH lookup (without a shell). */
export function findOnPath(name: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return isExecutable(path.resolve(name)) ? path.resolve(name) : undefined;
  for (const dir of searchPath.split(path.delimiter)) {
    // An empty entry means the current directory; a daemon should not run programs from its cwd.
    if (!dir) continue;
    const file = path.resolve(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isLogger(x: ProbeDeps | Logger): x is Logger {
  return typeof (x as Logger).child === 'function' && typeof (x as Logger).info === 'function';
}

/**
 * Picks the camera. Accepts the whole config or its camera section, and a logger or full deps
 * (tests inject PATH, environment and the synthetic factory). Never throws for a missing camera:
 * `auto` falls back to the synthetic scene, an explicit backend reports at capture time.
 */
export async function probeCamera(
  config: CameraConfig | { camera: CameraConfig; schedule?: { timezone?: string } },
  depsOrLogger: ProbeDeps | Logger,
): Promise<ProbeResult> {
  const cam = 'camera' in config ? config.camera : config;
  const deps: ProbeDeps = isLogger(depsOrLogger) ? { logger: depsOrLogger } : depsOrLogger;
  const env = deps.env ?? process.env;
  const ctx: Ctx = {
    logger: deps.logger,
    env,
    searchPath: deps.searchPath ?? env.PATH ?? '',
    exists: deps.exists ?? ((f) => fs.existsSync(f)),
    probeTimeoutMs: deps.probeTimeoutMs ?? 10_000,
    killGraceMs: deps.killGraceMs,
    warmProfile: deps.warmProfile,
    totalMemBytes: deps.totalMemBytes,
  };
  const timeZone = deps.timeZone ?? ('camera' in config ? config.schedule?.timezone : undefined);
  const synthetic = () =>
    (deps.createSynthetic ?? ((o) => new SyntheticCamera(o)))({
      ...(cam.width ? { width: cam.width } : {}),
      ...(cam.height ? { height: cam.height } : {}),
      ...(timeZone ? { timeZone } : {}),
    });

  if (cam.backend === 'synthetic') {
    const result = { camera: synthetic(), reason: 'camera.backend is synthetic' };
    ctx.logger.info({ backend: 'synthetic', reason: result.reason }, `camera: ${result.camera.description}`);
    return result;
  }
  if (cam.backend !== 'auto') return await explicit(cam, cam.backend, ctx);

  const tried: string[] = [];
  const found = await probeAuto(cam, ctx, tried);
  if (found) {
    ctx.logger.info({ backend: found.camera.backend, reason: found.reason, tried }, `camera: ${found.camera.description}`);
    return found;
  }
  const result = { camera: synthetic(), reason: `no camera found (${tried.join('; ')})`, fallback: tried.join('; ') };
  ctx.logger.warn({ backend: 'synthetic', tried }, 'no camera found: using the synthetic test scene; set camera.backend to use a real camera');
  return result;
}

function make(backend: Backend, program: string, cam: CameraConfig, ctx: Ctx, sensorSize?: Size): Camera {
  const common = { program, extraArgs: cam.extra_args, env: ctx.env, killGraceMs: ctx.killGraceMs, logger: ctx.logger };
  if (backend === 'rpicam') {
    const rpicam = { ...common, ...(sensorSize ? { sensorSize } : {}) };
    if (ctx.warmProfile) {
      const warm = warmDecision(cam.warm ?? 'auto', backend, ctx.totalMemBytes);
      ctx.logger.info({ warm: warm.on, reason: warm.reason }, `camera: warm mode ${warm.on ? 'on' : 'off'} (${warm.reason})`);
      if (warm.on) return new WarmRpicamCamera({ ...rpicam, profile: ctx.warmProfile });
    }
    return new RpicamCamera(rpicam);
  }
  if (backend === 'raspistill') return new RaspistillCamera(common);
  return new FfmpegCamera({ ...common, device: cam.device, ...(cam.url ? { url: cam.url } : {}) });
}

const DEFAULT_PROGRAMS: Record<Backend, string[]> = { rpicam: ['rpicam-still', 'libcamera-still'], raspistill: ['raspistill'], ffmpeg: ['ffmpeg'] };

/**
 * An explicit backend is used as configured, unprobed: a failing camera is reported, not masked. Only rpicam
 * without camera.width/height lists the cameras, for the sensor's size; a failed listing leaves the size to
 * rpicam-still.
 */
async function explicit(cam: CameraConfig, backend: Backend, ctx: Ctx): Promise<ProbeResult> {
  let program = cam.command;
  if (!program) {
    const candidates = DEFAULT_PROGRAMS[backend];
    program = candidates.map((c) => findOnPath(c, ctx.searchPath)).find((p) => p !== undefined);
    if (!program) {
      program = candidates[0]!;
      ctx.logger.warn({ backend, searched: candidates }, `camera: ${candidates.join(' / ')} not found on PATH; captures will fail until it is installed`);
    }
  }
  const listed = backend === 'rpicam' && (!cam.width || !cam.height) ? await listLibcameraCameras(program, cam, ctx) : undefined;
  const camera = make(backend, program, cam, ctx, listed?.size);
  const reason = `camera.backend is ${backend}${cam.command ? ' (camera.command)' : ''}`;
  ctx.logger.info({ backend, program, reason }, `camera: ${camera.description}`);
  return { camera, reason };
}

/** With backend auto, a command named like a known program (e.g. /opt/bin/rpicam-still) replaces that backend's default. */
function backendOfCommand(command: string): Backend | undefined {
  const base = path.basename(command).toLowerCase();
  if (/rpicam|libcamera/.test(base)) return 'rpicam';
  if (base.includes('raspistill')) return 'raspistill';
  if (base.includes('ffmpeg')) return 'ffmpeg';
  return undefined;
}

async function probeAuto(cam: CameraConfig, ctx: Ctx, tried: string[]): Promise<ProbeResult | undefined> {
  const programs: Record<Backend, string[]> = { ...DEFAULT_PROGRAMS };
  if (cam.command) {
    const b = backendOfCommand(cam.command);
    if (b) programs[b] = [cam.command];
    else
      ctx.logger.warn({ command: cam.command }, 'camera.command is ignored with backend auto: its name does not tell which backend it is; set camera.backend');
  }

  for (const name of programs.rpicam) {
    const file = findOnPath(name, ctx.searchPath);
    if (!file) {
      tried.push(`${name}: not found`);
      continue;
    }
    const listed = await listLibcameraCameras(file, cam, ctx);
    tried.push(`${name}: ${listed.summary}`);
    if (listed.ok) return { camera: make('rpicam', file, cam, ctx, listed.size), reason: `${name} --list-cameras: ${listed.summary}` };
  }

  for (const name of programs.raspistill) {
    const file = findOnPath(name, ctx.searchPath);
    if (!file) {
      tried.push(`${name}: not found`);
      continue;
    }
    const detected = await legacyCameraDetected(ctx);
    tried.push(`${name}: ${detected.summary}`);
    if (detected.ok) return { camera: make('raspistill', file, cam, ctx), reason: `${name} found; ${detected.summary}` };
  }

  for (const name of programs.ffmpeg) {
    const file = findOnPath(name, ctx.searchPath);
    if (!file) {
      tried.push(`${name}: not found`);
      continue;
    }
    // ffmpeg is not run to probe: opening the device takes seconds and may grab it.
    if (cam.url) return { camera: make('ffmpeg', file, cam, ctx), reason: `${name} found; camera.url ${redactUrl(cam.url)}` };
    if (ctx.exists(cam.device)) return { camera: make('ffmpeg', file, cam, ctx), reason: `${name} found; ${cam.device} exists` };
    tried.push(`${name}: ${cam.device} does not exist`);
  }
  return undefined;
}

interface ProbeOutcome {
  ok: boolean;
  summary: string;
}

/**
 * `rpicam-still --list-cameras` exits 0 even with no camera ("No cameras available!"), so its output decides.
 * With camera.hdr on, `--hdr=MODE` is passed too: rpicam-still sets the sensor's HDR control before listing,
 * so the modes (and the size stills are taken at) are the HDR ones. Where camera.width/height are unset,
 * `size` is the sensor's full size (see sensor.ts).
 */
async function listLibcameraCameras(file: string, cam: CameraConfig, ctx: Ctx): Promise<ProbeOutcome & { size?: Size }> {
  try {
    const hdr = cam.hdr && cam.hdr !== 'off' ? [`--hdr=${cam.hdr}`] : [];
    const r = await runProgram({ program: file, args: ['--list-cameras', ...hdr], timeoutMs: ctx.probeTimeoutMs, killGraceMs: ctx.killGraceMs, env: ctx.env });
    const lines = [...r.stdout.toString('utf8').split('\n'), ...r.stderr];
    // e.g. "0 : imx219 [3280x2464 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx219@10)" (core/options.cpp)
    const cameras = lines.map((l) => /^\s*\d+\s*:\s*(\S+)/.exec(l)?.[1]).filter((m): m is string => m !== undefined);
    if (r.killedFor) return { ok: false, summary: `--list-cameras did not finish within ${ctx.probeTimeoutMs} ms` };
    if (cameras.length) {
      const index = cameraIndex(cam.extra_args);
      const sensor = parseListCameras(r.stdout.toString('utf8')).find((c) => c.index === index);
      const full = sensor ? fullSize(sensor) : undefined;
      const size = full && (!cam.width || !cam.height) ? full : undefined;
      if (size)
        ctx.logger.info(
          { sensor: sensor?.model, width: size.width, height: size.height },
          `camera: ${sensor?.model} full size ${size.width}x${size.height}, used where camera.width/height are not set`,
        );
      return { ok: true, summary: `found ${cameras.join(', ')}`, ...(size ? { size } : {}) };
    }
    const last = lines
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1);
    return { ok: false, summary: last ?? (r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}, no camera listed`) };
  } catch (err) {
    return { ok: false, summary: (err as Error).message };
  }
}

/**
 * Legacy stack: `vcgencmd get_camera` says "supported=1 detected=1". When vcgencmd is missing or
 * unreadable, raspistill is still chosen: it only exists on legacy systems, and a failing capture
 * reports the real problem, while falling back to the synthetic scene would hide a real camera.
 */
async function legacyCameraDetected(ctx: Ctx): Promise<ProbeOutcome> {
  const vcgencmd = findOnPath('vcgencmd', ctx.searchPath);
  if (!vcgencmd) return { ok: true, summary: 'vcgencmd not found, camera not verified' };
  try {
    const r = await runProgram({ program: vcgencmd, args: ['get_camera'], timeoutMs: ctx.probeTimeoutMs, killGraceMs: ctx.killGraceMs, env: ctx.env });
    const out = r.stdout.toString('utf8').trim();
    const detected = /detected=(\d+)/.exec(out);
    if (!detected) return { ok: true, summary: `vcgencmd get_camera unreadable (${out || r.stderr.at(-1) || `exit code ${r.exitCode}`}), camera not verified` };
    return Number(detected[1]) > 0 ? { ok: true, summary: `vcgencmd get_camera: ${out}` } : { ok: false, summary: `vcgencmd get_camera: ${out}` };
  } catch (err) {
    return { ok: true, summary: `vcgencmd failed (${(err as Error).message}), camera not verified` };
  }
}
