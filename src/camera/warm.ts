// Warm mode for the rpicam backend: `rpicam-still -t 0 --signal` keeps the camera running and writes a still
// on each SIGUSR1, so an on-demand still costs one switch to still mode (well under a second) instead of
// camera start plus the settle time (several seconds). The process and the protocol it follows are in
// ./warm-process.ts; this file decides when warm mode is used and turns requests into stills.
// One file though over 300 lines: the warm process lifecycle and its job hand-off share one state machine; the process itself is already warm-process.ts.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { JoinedQueue } from './jobs.ts';
import { validateJpeg } from './jpeg.ts';
import { rotationLeft, rpicamImageArgs, RpicamCamera, type RpicamOptions } from './rpicam.ts';
import { CameraError, type Camera, type Shot, type StillRequest } from './types.ts';
import { withSensorSize } from './sensor.ts';
import { makeStillDir, MAX_OUTPUT_NAME, rpicamWarmArgs, WarmProcess, type Outcome } from './warm-process.ts';

export { rpicamWarmArgs } from './warm-process.ts';

/** camera.warm. */
export type WarmSetting = 'auto' | boolean;

/** Boards with this much RAM or less (Pi Zero, Zero 2 W, 3A+: 512 MB) do not keep the camera warm under auto. */
export const WARM_MIN_RAM_BYTES = 512 * 1024 * 1024;

/** Resolves camera.warm for a backend: auto is on for rpicam with more than 512 MB of RAM. */
export function warmDecision(setting: WarmSetting, backend: string, totalMemBytes: number = os.totalmem()): { on: boolean; reason: string } {
  if (backend !== 'rpicam') return { on: false, reason: `warm mode exists for rpicam only (backend ${backend})` };
  if (setting === true) return { on: true, reason: 'camera.warm is true' };
  if (setting === false) return { on: false, reason: 'camera.warm is false' };
  const mib = Math.round(totalMemBytes / 1024 / 1024);
  return totalMemBytes > WARM_MIN_RAM_BYTES
    ? { on: true, reason: `camera.warm is auto and the board has ${mib} MiB of RAM` }
    : { on: false, reason: `camera.warm is auto and the board has only ${mib} MiB of RAM` };
}

export interface WarmRpicamOptions extends RpicamOptions {
  /**
   * The request the warm process is kept for (the daemon's on-demand still). A request whose image options
   * differ (per-request exposure, shutter, gain; a night profile for scheduled stills) runs single-shot after
   * the warm process is stopped. Default: the first request's options.
   */
  profile?: StillRequest;
  /** Where the still file is written. Default: /dev/shm (tmpfs) when present, else os.tmpdir(). */
  tmpDir?: string;
  /** Each step of stopping: SIGUSR2, then SIGTERM, then SIGKILL, this long apart. Default 1000 ms. */
  stopStepMs?: number;
  /** Warm failures in a row after which stills are taken single-shot for good. Default 3. */
  maxFailures?: number;
}

/** A still to take: `key` says which requests are equal (the same image options). */
interface Job {
  key: string;
  req: StillRequest;
}

/**
 * The rpicam camera with a warm `rpicam-still`. Started lazily by the first still (so the camera is held
 * only once moncam was asked for one) and kept running; one still at a time, equal requests join the
 * one in flight; anything else runs single-shot with the warm process stopped first (the camera is
 * exclusive). Falls back to single-shot for good after `maxFailures` warm failures in a row.
 */
export class WarmRpicamCamera implements Camera {
  readonly backend = 'rpicam';
  readonly description: string;
  private readonly opts: WarmRpicamOptions;
  private readonly program: string;
  private readonly single: RpicamCamera;
  private readonly logger?: Logger;
  private readonly stopStepMs: number;
  private readonly maxFailures: number;
  private proc?: WarmProcess;
  private profileKey?: string;
  private failures = 0;
  private disabledReason?: string;
  private closed = false;
  private dir?: string;
  private readonly queue = new JoinedQueue<Shot>((signal) => this.abortError(signal));
  /** Stops under way (some are not awaited where they start, e.g. when warm mode turns itself off). */
  private readonly stopping = new Set<Promise<void>>();

  constructor(opts: WarmRpicamOptions = {}) {
    this.opts = opts;
    this.program = opts.program ?? 'rpicam-still';
    this.description = `${this.program} (libcamera, kept warm)`;
    this.single = new RpicamCamera(opts);
    this.logger = opts.logger;
    this.stopStepMs = opts.stopStepMs ?? 1000;
    this.maxFailures = opts.maxFailures ?? 3;
    if (opts.profile) this.profileKey = this.keyOf(withSensorSize(opts.profile, opts.sensorSize));
  }

  /** The warm process's pid while one runs (diagnostics, tests). */
  get warmPid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  /** Why stills are taken single-shot for good, once warm mode gave up. */
  get fallbackReason(): string | undefined {
    return this.disabledReason;
  }

  /** The directory holding the still file while warm mode is in use. */
  get tmpDirectory(): string | undefined {
    return this.dir;
  }

  capture(asked: StillRequest, signal?: AbortSignal): Promise<Shot> {
    const req = withSensorSize(asked, this.opts.sensorSize);
    const job: Job = { key: this.keyOf(req), req };
    return this.queue.run(job.key, signal, (jobSignal) => this.run(job, jobSignal));
  }

  /**
   * Keeps the camera warm for stills like `profile` from now on (a quality changed from Home Assistant).
   * A warm process started with other options is replaced by the next such still, not at once: a still
   * may be in flight, and the camera is started only when a still is asked for.
   */
  setProfile(profile: StillRequest): void {
    this.profileKey = this.keyOf(withSensorSize(profile, this.opts.sensorSize));
  }

  /** Stops the warm process (SIGUSR2, SIGTERM, SIGKILL, `stopStepMs` apart) and removes its file; later stills are single-shot. */
  async stop(): Promise<void> {
    this.closed = true;
    await this.stopWarm('moncam is stopping');
    await Promise.all(this.stopping);
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private keyOf(req: StillRequest): string {
    return JSON.stringify([rpicamImageArgs(req), rotationLeft(req) ?? 0]);
  }

  private async run(job: Job, signal: AbortSignal): Promise<Shot> {
    const { req } = job;
    if (signal.aborted) throw this.abortError(signal);
    // Nothing runs while an earlier warm process may still hold the camera.
    while (this.stopping.size) await Promise.all(this.stopping);
    this.profileKey ??= job.key;
    if (this.closed || this.disabledReason || job.key !== this.profileKey) {
      // The camera is exclusive: a single-shot run next to the warm process would fail with "busy".
      if (this.proc) await this.stopWarm(job.key !== this.profileKey ? 'a still with other options is taken single-shot' : 'single-shot');
      return this.single.capture(req, signal);
    }
    // Started for other options (the profile changed since): the camera is restarted with these.
    if (this.proc && this.proc.key !== job.key) await this.stopWarm('the still options changed (a setting from Home Assistant)');
    return this.warmCapture(job, performance.now() + req.timeoutMs, signal);
  }

  private async warmCapture(job: Job, deadline: number, signal: AbortSignal): Promise<Shot> {
    const { req } = job;
    let proc = this.proc;
    if (!proc || !proc.running) {
      try {
        proc = this.startWarm(job.key, req);
      } catch (err) {
        // No usable still file (or arguments the OS refuses): warm mode cannot work here.
        this.disable(err instanceof Error ? err.message : String(err));
        return this.single.capture(req, signal);
      }
    }
    proc.busy = true;
    try {
      const ready = await proc.waitFor(() => proc.ready, deadline, signal);
      if (ready !== 'ok') return await this.startFailed(proc, ready, job, deadline, signal);
      // The first still after start: give exposure and white balance the configured settle time.
      const settleLeft = proc.readyAt + req.settleMs - performance.now();
      if (settleLeft > 0) {
        const settled = await proc.waitFor(() => performance.now() >= proc.readyAt + req.settleMs, Math.min(deadline, performance.now() + settleLeft), signal);
        if (settled === 'aborted') throw this.abortError(signal);
        if (settled === 'exited') return await this.startFailed(proc, settled, job, deadline, signal);
      }
      return await this.shoot(proc, req, deadline, signal);
    } finally {
      proc.busy = false;
    }
  }

  /** The process did not become ready: report, count, and for a warm-only problem take this still single-shot. */
  private async startFailed(proc: WarmProcess, outcome: Outcome, job: Job, deadline: number, signal: AbortSignal): Promise<Shot> {
    if (outcome === 'aborted') throw this.abortError(signal); // it keeps starting; the next still uses it
    if (outcome === 'exited' && proc.stopping)
      throw new CameraError('failed', `${this.program} (warm): stopped while starting (${proc.howItEnded()})`, { detail: 'stopped' });
    let err: CameraError;
    if (outcome === 'timeout') {
      await this.stopWarm('it did not become ready in time', proc, false);
      err = new CameraError('timeout', `${this.program} (warm): not ready within ${job.req.timeoutMs} ms; stopped`, { detail: proc.lines().at(-1) });
    } else {
      if (this.proc === proc) this.proc = undefined;
      err = proc.failure('exited while starting');
    }
    this.warmFailed(err);
    const left = deadline - performance.now();
    if (!warmOnly(err) || left < 1000 || signal.aborted) throw err;
    this.logger?.warn({ code: err.code, detail: err.detail }, `warm ${this.program} failed to start (${err.message}); taking this still single-shot`);
    return this.single.capture({ ...job.req, timeoutMs: Math.floor(left) }, signal);
  }

  private async shoot(proc: WarmProcess, req: StillRequest, deadline: number, signal: AbortSignal): Promise<Shot> {
    const file = this.file();
    // Never return an earlier still: the file is gone before the signal, and only a new "Saved image" counts.
    await fsp.rm(file, { force: true });
    const target = proc.saves + 1;
    const sentAt = performance.now();
    proc.child.kill('SIGUSR1');
    const saved = await proc.waitFor(() => proc.saves >= target, deadline, signal);
    if (saved !== 'ok') {
      if (saved === 'aborted') {
        // It will still write a still nobody reads; its state is unknown to the next capture: start afresh.
        await this.stopWarm('the capture was aborted', proc, false);
        throw this.abortError(signal);
      }
      let err: CameraError;
      if (saved === 'timeout') {
        await this.stopWarm('no still in time', proc, false);
        err = new CameraError('timeout', `${this.program} (warm): no still within ${req.timeoutMs} ms; stopped`, { detail: proc.lines().at(-1) });
      } else if (proc.stopping) {
        throw new CameraError('failed', `${this.program} (warm): stopped during the capture (${proc.howItEnded()})`, { detail: 'stopped' });
      } else {
        if (this.proc === proc) this.proc = undefined;
        err = proc.failure('exited during the capture');
      }
      this.warmFailed(err);
      throw err;
    }
    let jpeg: Buffer;
    try {
      jpeg = await fsp.readFile(file); // 3-5 MB: not on the event loop
      await fsp.rm(file, { force: true }); // a few MB of RAM on tmpfs
    } catch (cause) {
      const err = new CameraError('corrupt', `${this.program} (warm): reported a saved still but ${file} cannot be read`, {
        detail: (cause as Error).message,
        cause,
      });
      this.warmFailed(err);
      throw err;
    }
    let info;
    try {
      info = validateJpeg(jpeg);
    } catch (cause) {
      const err = new CameraError('corrupt', `${this.program} (warm): ${(cause as Error).message}`, { detail: (cause as CameraError).detail, cause });
      this.warmFailed(err);
      throw err;
    }
    this.failures = 0;
    this.logger?.debug(
      { program: this.program, cameraPid: proc.pid, width: info.width, height: info.height, bytes: jpeg.length, ms: Math.round(performance.now() - sentAt) },
      'still captured (warm)',
    );
    const rotate = rotationLeft(req);
    return rotate ? { jpeg, rotate } : { jpeg };
  }

  private startWarm(key: string, req: StillRequest): WarmProcess {
    const file = this.file();
    if (Buffer.byteLength(file) > MAX_OUTPUT_NAME)
      throw new Error(`the still file name ${file} is longer than rpicam-still accepts (${MAX_OUTPUT_NAME} bytes)`);
    const args = rpicamWarmArgs(file, req, this.opts.extraArgs);
    const proc = new WarmProcess(this.program, args, this.opts.env, key);
    this.proc = proc;
    const onChange = () => {
      if (proc.ready) {
        this.logger?.info({ cameraPid: proc.pid, ms: Math.round(proc.readyAt - proc.startedAt) }, `camera warm: ${this.program} is ready for stills`);
        proc.off('change', onChange);
      } else if (proc.closed) proc.off('change', onChange);
    };
    proc.on('change', onChange);
    proc.on('change', () => {
      if (!proc.closed || proc.stopping || proc.busy) return;
      // Died between stills. Not restarted now (no loop): the next still starts it again.
      if (this.proc === proc) this.proc = undefined;
      const err = proc.failure('exited unexpectedly');
      this.logger?.warn(
        { cameraPid: proc.pid, code: err.code, detail: err.detail },
        `warm ${this.program} ${proc.spawnError ? 'could not start' : `exited unexpectedly (${proc.howItEnded()})`}; it is started again for the next still`,
      );
      this.warmFailed(err);
    });
    this.logger?.debug({ cameraPid: proc.pid, args }, `starting warm ${this.program}`);
    return proc;
  }

  /** The still's file on tmpfs, in a private directory made on first use. */
  private file(): string {
    this.dir ??= makeStillDir(this.opts.tmpDir);
    return path.join(this.dir, 'still.jpg');
  }

  /** Stops `proc` (default: the current warm process). Graceful: SIGUSR2 first (the program quits at its next frame). */
  private stopWarm(why: string, proc: WarmProcess | undefined = this.proc, graceful = true): Promise<void> {
    if (!proc) return Promise.resolve();
    if (this.proc === proc) this.proc = undefined;
    proc.stopping = true;
    if (proc.closed) return Promise.resolve();
    const done = proc.stop(why, graceful, this.stopStepMs, this.logger);
    this.stopping.add(done);
    return done.finally(() => this.stopping.delete(done));
  }

  /** Counts a warm-only failure; gives up on warm mode after `maxFailures` in a row (logged once). */
  private warmFailed(err: CameraError): void {
    if (!warmOnly(err)) return;
    this.failures++;
    if (this.failures >= this.maxFailures && !this.disabledReason) {
      this.disable(`${this.failures} warm failures in a row (last: ${err.code}: ${err.message})`);
    }
  }

  private disable(reason: string): void {
    if (this.disabledReason) return;
    this.disabledReason = reason;
    this.logger?.warn({ reason }, `warm mode off: ${reason}; stills are taken single-shot from now on (restart moncam to try again)`);
    void this.stopWarm('warm mode is off');
  }

  private abortError(signal: AbortSignal): CameraError {
    return new CameraError('failed', `${this.program}: capture aborted`, { detail: 'aborted', cause: signal.reason });
  }
}

/** Failures single-shot would share (no program, no camera, camera busy) do not count against warm mode. */
function warmOnly(err: CameraError): boolean {
  return err.code !== 'not_installed' && err.code !== 'no_camera' && err.code !== 'busy';
}
