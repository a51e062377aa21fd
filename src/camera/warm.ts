// Warm mode for the rpicam backend: `rpicam-still -t 0 --signal` keeps the camera running and writes a still
// on each SIGUSR1, so an on-demand still costs one switch to still mode (well under a second) instead of
// camera start plus the settle time (several seconds).
//
// What this relies on, from raspberrypi/rpicam-apps apps/rpicam_still.cpp (and apps/libcamera_still.cpp,
// its name before Bookworm), core/options.cpp and core/logging.hpp:
// - event_loop() installs its SIGUSR1/SIGUSR2 handlers (signal(), setting a flag read once per frame) only
//   after OpenCamera(). Until then SIGUSR1 has its default action: the program is terminated. So no signal is
//   sent before the readiness line.
// - The readiness line is "Viewfinder frame N", printed for every viewfinder frame inside the loop, i.e.
//   after the handlers are in place. It is LOG(2, ...): printed only at verbosity 2, which a bare `-v` gives
//   ("verbose,v" is an unsigned int, default 1, implicit_value(2); old libcamera_still.cpp printed it
//   `if (options->verbose)`, which `-v` also satisfies). `-v 2` would not do: an implicit value is not
//   taken from the next word.
// - SIGUSR1 logs "Received signal 10"; the next frame switches to still mode; "Still capture image received"
//   (LOG 1) comes BEFORE the file is written; jpeg_save() writes the file named by -o in place (fopen "w"),
//   then save_image() logs "Saved image W x H to file F" (LOG 2). Only after that line is the file read.
//   Then it goes back to the viewfinder and waits for the next signal.
// - SIGUSR2 makes event_loop() return: exit 0 (acted on at the next frame). SIGTERM is not handled.
// - -o is used as a printf format (generate_filename: snprintf(filename, 128, output, framestart)): a '%'
//   must be doubled and the name must stay under 128 bytes.
// Read from the source, not run on hardware here: timings (start-up, a still's mode switch) are assumptions.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { validateJpeg } from './jpeg.ts';
import { classifyRpicam, rotationLeft, rpicamImageArgs, RpicamCamera, type RpicamOptions } from './rpicam.ts';
import { spawnFailure } from './spawn.ts';
import { CameraError, type Camera, type Still, type StillRequest } from './types.ts';

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

const READY_LINE = /^Viewfinder frame \d+/;
const SAVED_LINE = /^Saved image \d+ x \d+ to file /;
/** rpicam-still formats -o into char filename[128]. */
const MAX_OUTPUT_NAME = 127;
const TAIL_LINES = 30;

/** The argv of the warm program after its name; pure so tests can check it. */
export function rpicamWarmArgs(file: string, req: StillRequest, extraArgs: readonly string[] = []): string[] {
  // `-t 0`: no timeout; `--signal`: a still per SIGUSR1, quit on SIGUSR2; `-v`: verbosity 2 for the readiness
  // and save lines; -o is a printf format, so '%' is doubled. The image options are the single-shot ones.
  return ['-t', '0', '--signal', '-v', '-n', '-o', file.replace(/%/g, '%%'), '--encoding', 'jpg', ...rpicamImageArgs(req), ...extraArgs];
}

/** Warm children alive; killed if moncam exits without stop() (a crash), since `-t 0` never ends by itself. */
const alive = new Set<ChildProcessByStdio<null, null, Readable>>();
let exitHookInstalled = false;
function trackChild(child: ChildProcessByStdio<null, null, Readable>): void {
  alive.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

/** One `rpicam-still -t 0 --signal` process and what its stderr said. */
class WarmProcess extends EventEmitter<{ change: [] }> {
  readonly child: ChildProcessByStdio<null, null, Readable>;
  readonly key: string;
  readonly startedAt = performance.now();
  ready = false;
  readyAt = 0;
  /** "Saved image" lines so far. */
  saves = 0;
  /** Gone and its stderr read to the end. */
  closed = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  spawnError?: NodeJS.ErrnoException;
  /** moncam asked it to go (no "unexpected exit"). */
  stopping = false;
  /** A capture is waiting on it (its failure is reported there, not as an unexpected exit). */
  busy = false;
  private readonly tail: string[] = [];
  private partial = '';

  constructor(program: string, args: readonly string[], env: NodeJS.ProcessEnv | undefined, key: string) {
    super();
    this.key = key;
    this.child = spawn(program, [...args], { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    trackChild(this.child);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => this.onStderr(text));
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      this.spawnError ??= err;
      if (this.child.pid === undefined) this.onClose(null, null);
    });
    this.child.on('exit', () => {
      // A grandchild holding stderr must not keep the process "alive" for us.
      setTimeout(() => this.child.stderr.destroy(), 1000).unref();
    });
    this.child.on('close', (code, signal) => this.onClose(code, signal));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.closed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last stderr lines other than the per-frame ones. */
  lines(): string[] {
    return [...this.tail];
  }

  howItEnded(): string {
    return this.exitSignal ? `killed by ${this.exitSignal}` : `exit code ${this.exitCode}`;
  }

  private onStderr(text: string): void {
    const parts = (this.partial + text).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    if (this.partial.length > 64 * 1024) this.partial = '';
    let changed = false;
    for (const raw of parts) {
      const line = raw.trimEnd();
      if (!line) continue;
      if (READY_LINE.test(line)) {
        if (!this.ready) {
          this.ready = true;
          this.readyAt = performance.now();
          changed = true;
        }
        continue;
      }
      if (SAVED_LINE.test(line)) {
        this.saves++;
        changed = true;
      }
      this.tail.push(line.length > 2000 ? line.slice(0, 2000) : line);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    }
    if (changed) this.emit('change');
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.closed) return;
    this.closed = true;
    this.exitCode = code;
    this.exitSignal = signal;
    alive.delete(this.child);
    this.emit('change');
  }
}

type Outcome = 'ok' | 'exited' | 'timeout' | 'aborted';

interface Job {
  key: string;
  req: StillRequest;
  controller: AbortController;
  /** Callers that can still use the result; the run is aborted when every one of them gave up. */
  waiting: number;
  promise: Promise<Still>;
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
  private readonly jobs: Job[] = [];
  private chain: Promise<unknown> = Promise.resolve();
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
    if (opts.profile) this.profileKey = this.keyOf(opts.profile);
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

  capture(req: StillRequest, signal?: AbortSignal): Promise<Still> {
    if (signal?.aborted) return Promise.reject(this.abortError(signal));
    const key = this.keyOf(req);
    let job = this.jobs.find((j) => j.key === key && !j.controller.signal.aborted);
    if (!job) {
      const created: Job = { key, req, controller: new AbortController(), waiting: 0, promise: undefined as unknown as Promise<Still> };
      created.promise = this.chain.then(() => this.run(created)).finally(() => this.jobs.splice(this.jobs.indexOf(created), 1));
      this.chain = created.promise.catch(() => undefined);
      this.jobs.push(created);
      job = created;
    }
    return this.attach(job, signal);
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

  /** A caller's view of a job: its own abort rejects it at once; the run stops when nobody waits any more. */
  private attach(job: Job, signal?: AbortSignal): Promise<Still> {
    if (!signal) {
      job.waiting = Infinity;
      return job.promise;
    }
    job.waiting++;
    return new Promise<Still>((resolve, reject) => {
      const onAbort = () => {
        reject(this.abortError(signal));
        if (--job.waiting <= 0) job.controller.abort(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.promise.then(
        (still) => {
          signal.removeEventListener('abort', onAbort);
          resolve(still);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  private async run(job: Job): Promise<Still> {
    const { req } = job;
    const signal = job.controller.signal;
    if (signal.aborted) throw this.abortError(signal);
    // Nothing runs while an earlier warm process may still hold the camera.
    while (this.stopping.size) await Promise.all(this.stopping);
    this.profileKey ??= job.key;
    if (this.closed || this.disabledReason || job.key !== this.profileKey) {
      // The camera is exclusive: a single-shot run next to the warm process would fail with "busy".
      if (this.proc) await this.stopWarm(job.key !== this.profileKey ? 'a still with other options is taken single-shot' : 'single-shot');
      return this.single.capture(req, signal);
    }
    return this.warmCapture(job, performance.now() + req.timeoutMs, signal);
  }

  private async warmCapture(job: Job, deadline: number, signal: AbortSignal): Promise<Still> {
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
      const ready = await this.waitFor(proc, () => proc.ready, deadline, signal);
      if (ready !== 'ok') return await this.startFailed(proc, ready, job, deadline, signal);
      // The first still after start: give exposure and white balance the configured settle time.
      const settleLeft = proc.readyAt + req.settleMs - performance.now();
      if (settleLeft > 0) {
        const settled = await this.waitFor(proc, () => performance.now() >= proc.readyAt + req.settleMs, Math.min(deadline, performance.now() + settleLeft), signal);
        if (settled === 'aborted') throw this.abortError(signal);
        if (settled === 'exited') return await this.startFailed(proc, settled, job, deadline, signal);
      }
      return await this.shoot(proc, req, deadline, signal);
    } finally {
      proc.busy = false;
    }
  }

  /** The process did not become ready: report, count, and for a warm-only problem take this still single-shot. */
  private async startFailed(proc: WarmProcess, outcome: Outcome, job: Job, deadline: number, signal: AbortSignal): Promise<Still> {
    if (outcome === 'aborted') throw this.abortError(signal); // it keeps starting; the next still uses it
    if (outcome === 'exited' && proc.stopping) throw new CameraError('failed', `${this.program} (warm): stopped while starting (${proc.howItEnded()})`, { detail: 'stopped' });
    let err: CameraError;
    if (outcome === 'timeout') {
      await this.stopWarm('it did not become ready in time', proc, false);
      err = new CameraError('timeout', `${this.program} (warm): not ready within ${job.req.timeoutMs} ms; stopped`, { detail: proc.lines().at(-1) });
    } else {
      if (this.proc === proc) this.proc = undefined;
      err = this.exitError(proc, 'exited while starting');
    }
    this.warmFailed(err);
    const left = deadline - performance.now();
    if (!warmOnly(err) || left < 1000 || signal.aborted) throw err;
    this.logger?.warn({ code: err.code, detail: err.detail }, `warm ${this.program} failed to start (${err.message}); taking this still single-shot`);
    return this.single.capture({ ...job.req, timeoutMs: Math.floor(left) }, signal);
  }

  private async shoot(proc: WarmProcess, req: StillRequest, deadline: number, signal: AbortSignal): Promise<Still> {
    const file = this.file();
    // Never return an earlier still: the file is gone before the signal, and only a new "Saved image" counts.
    fs.rmSync(file, { force: true });
    const target = proc.saves + 1;
    const sentAt = performance.now();
    proc.child.kill('SIGUSR1');
    const saved = await this.waitFor(proc, () => proc.saves >= target, deadline, signal);
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
        err = this.exitError(proc, 'exited during the capture');
      }
      this.warmFailed(err);
      throw err;
    }
    let jpeg: Buffer;
    try {
      jpeg = fs.readFileSync(file);
      fs.rmSync(file, { force: true }); // a few MB of RAM on tmpfs
    } catch (cause) {
      const err = new CameraError('corrupt', `${this.program} (warm): reported a saved still but ${file} cannot be read`, { detail: (cause as Error).message, cause });
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
    this.logger?.debug({ program: this.program, cameraPid: proc.pid, width: info.width, height: info.height, bytes: jpeg.length, ms: Math.round(performance.now() - sentAt) }, 'still captured (warm)');
    const rotate = rotationLeft(req);
    return rotate ? { jpeg, rotate } : { jpeg };
  }

  private startWarm(key: string, req: StillRequest): WarmProcess {
    const file = this.file();
    if (Buffer.byteLength(file) > MAX_OUTPUT_NAME) throw new Error(`the still file name ${file} is longer than rpicam-still accepts (${MAX_OUTPUT_NAME} bytes)`);
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
      const err = this.exitError(proc, 'exited unexpectedly');
      this.logger?.warn({ cameraPid: proc.pid, code: err.code, detail: err.detail }, `warm ${this.program} ${proc.spawnError ? 'could not start' : `exited unexpectedly (${proc.howItEnded()})`}; it is started again for the next still`);
      this.warmFailed(err);
    });
    this.logger?.debug({ cameraPid: proc.pid, args }, `starting warm ${this.program}`);
    return proc;
  }

  /** The still's file on tmpfs, in a private directory made on first use. */
  private file(): string {
    if (!this.dir) {
      const bases = this.opts.tmpDir ? [this.opts.tmpDir] : [...(isWritableDir('/dev/shm') ? ['/dev/shm'] : []), os.tmpdir()];
      let lastErr: unknown;
      for (const base of bases) {
        try {
          this.dir = fs.mkdtempSync(path.join(base, 'moncam-warm-'));
          break;
        } catch (err) {
          lastErr = err;
        }
      }
      if (!this.dir) throw new Error(`no directory for the warm still (${(lastErr as Error)?.message})`);
    }
    return path.join(this.dir, 'still.jpg');
  }

  /** Stops `proc` (default: the current warm process). Graceful: SIGUSR2 first (the program quits at its next frame). */
  private stopWarm(why: string, proc: WarmProcess | undefined = this.proc, graceful = true): Promise<void> {
    if (!proc) return Promise.resolve();
    if (this.proc === proc) this.proc = undefined;
    proc.stopping = true;
    if (proc.closed) return Promise.resolve();
    const done = this.kill(proc, why, graceful);
    this.stopping.add(done);
    return done.finally(() => this.stopping.delete(done));
  }

  private async kill(proc: WarmProcess, why: string, graceful: boolean): Promise<void> {
    this.logger?.debug({ cameraPid: proc.pid, why }, `stopping warm ${this.program}: ${why}`);
    const steps: NodeJS.Signals[] = graceful ? ['SIGUSR2', 'SIGTERM', 'SIGKILL'] : ['SIGTERM', 'SIGKILL'];
    for (const sig of steps) {
      if (proc.closed) break;
      if (proc.running) {
        this.logger?.debug({ cameraPid: proc.pid, signal: sig }, `warm ${this.program}: ${sig}`);
        proc.child.kill(sig);
      }
      // Until it is gone and reaped. After SIGKILL only the kernel is left (bounded, so stop() always ends).
      await this.waitFor(proc, () => false, performance.now() + (sig === 'SIGKILL' ? 5000 : this.stopStepMs));
    }
    if (!proc.closed) this.logger?.error({ cameraPid: proc.pid }, `warm ${this.program} did not exit after SIGKILL`);
    else this.logger?.debug({ cameraPid: proc.pid, how: proc.howItEnded() }, `warm ${this.program} stopped`);
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

  private exitError(proc: WarmProcess, what: string): CameraError {
    if (proc.spawnError && proc.pid === undefined) return spawnFailure(this.program, proc.spawnError);
    const lines = proc.lines();
    const how = proc.howItEnded();
    const extra = { exitCode: proc.exitCode, signal: proc.exitSignal };
    const c = classifyRpicam(lines);
    if (c) return new CameraError(c.code, `${this.program} (warm): ${c.message ?? 'failed'} (${how})`, { ...extra, detail: c.detail });
    return new CameraError('failed', `${this.program} (warm): ${what} (${how})`, { ...extra, detail: lines.at(-1) });
  }

  private abortError(signal: AbortSignal): CameraError {
    return new CameraError('failed', `${this.program}: capture aborted`, { detail: 'aborted', cause: signal.reason });
  }

  /** Until `check()` holds, the process is gone, the deadline passes or the signal aborts. */
  private async waitFor(proc: WarmProcess, check: () => boolean, deadline: number, signal?: AbortSignal): Promise<Outcome> {
    for (;;) {
      if (check()) return 'ok';
      if (proc.closed) return 'exited';
      if (signal?.aborted) return 'aborted';
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          proc.off('change', done);
          resolve();
        };
        const timer = setTimeout(done, Math.ceil(left));
        signal?.addEventListener('abort', done, { once: true });
        proc.on('change', done);
      });
    }
  }
}

/** Failures single-shot would share (no program, no camera, camera busy) do not count against warm mode. */
function warmOnly(err: CameraError): boolean {
  return err.code !== 'not_installed' && err.code !== 'no_camera' && err.code !== 'busy';
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
