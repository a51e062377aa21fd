// One `rpicam-still -t 0 --signal` process for warm mode (./warm.ts): its argv, what its stderr says
// (ready, a still saved), waiting on it and stopping it.
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
import { signalLadder } from './ladder.ts';
import { classifyRpicam, rpicamImageArgs } from './rpicam.ts';
import { spawnFailure } from './spawn.ts';
import { CameraError, type StillRequest } from './types.ts';

const READY_LINE = /^Viewfinder frame \d+/;
const SAVED_LINE = /^Saved image \d+ x \d+ to file /;
/** rpicam-still formats -o into char filename[128]. */
export const MAX_OUTPUT_NAME = 127;
const TAIL_LINES = 30;

/** The argv of the warm program after its name; pure so tests can check it. */
export function rpicamWarmArgs(file: string, req: StillRequest, extraArgs: readonly string[] = []): string[] {
  // `-t 0`: no timeout; `--signal`: a still per SIGUSR1, quit on SIGUSR2; `-v`: verbosity 2 for the readiness
  // and save lines; -o is a printf format, so '%' is doubled. The image options are the single-shot ones.
  return ['-t', '0', '--signal', '-v', '-n', '-o', file.replace(/%/g, '%%'), '--encoding', 'jpg', ...rpicamImageArgs(req), ...extraArgs];
}

/** A private directory for the still file: on tmpfs (/dev/shm) when there is one, so no SD card write. */
export function makeStillDir(preferred?: string): string {
  const bases = preferred ? [preferred] : [...(isWritableDir('/dev/shm') ? ['/dev/shm'] : []), os.tmpdir()];
  let lastErr: unknown;
  for (const base of bases) {
    try {
      return fs.mkdtempSync(path.join(base, 'moncam-warm-'));
    } catch (err) {
      lastErr = err;
    }
  }
  throw new Error(`no directory for the warm still (${(lastErr as Error)?.message})`);
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** How a wait on the process ended. */
export type Outcome = 'ok' | 'exited' | 'timeout' | 'aborted';

/** One `rpicam-still -t 0 --signal` process and what its stderr said. */
export class WarmProcess extends EventEmitter<{ change: [] }> {
  readonly child: ChildProcessByStdio<null, null, Readable>;
  readonly program: string;
  readonly key: string;
  readonly startedAt = performance.now();
  /** Settles when the process is gone and its stderr read to the end. */
  readonly gone: Promise<void>;
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
  private markGone!: () => void;
  /** `-t 0` never ends by itself: if moncam exits without stop() (a crash), the camera must not stay held. */
  private readonly killOnExit = () => {
    if (this.running) this.child.kill('SIGKILL');
  };

  constructor(program: string, args: readonly string[], env: NodeJS.ProcessEnv | undefined, key: string) {
    super();
    this.program = program;
    this.key = key;
    this.gone = new Promise((resolve) => (this.markGone = resolve));
    this.child = spawn(program, [...args], { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    process.on('exit', this.killOnExit);
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

  /** Why it ended, from its stderr (the same rules as a single-shot run), for a capture waiting on it. */
  failure(what: string): CameraError {
    if (this.spawnError && this.pid === undefined) return spawnFailure(this.program, this.spawnError);
    const lines = this.lines();
    const how = this.howItEnded();
    const extra = { exitCode: this.exitCode, signal: this.exitSignal };
    const c = classifyRpicam(lines);
    if (c) return new CameraError(c.code, `${this.program} (warm): ${c.message ?? 'failed'} (${how})`, { ...extra, detail: c.detail });
    return new CameraError('failed', `${this.program} (warm): ${what} (${how})`, { ...extra, detail: lines.at(-1) });
  }

  /** Graceful: SIGUSR2 first (the program quits at its next frame), then SIGTERM and SIGKILL, `stepMs` apart. */
  async stop(why: string, graceful: boolean, stepMs: number, logger?: Logger): Promise<void> {
    this.stopping = true;
    if (this.closed) return;
    logger?.debug({ cameraPid: this.pid, why }, `stopping warm ${this.program}: ${why}`);
    const steps: NodeJS.Signals[] = graceful ? ['SIGUSR2', 'SIGTERM', 'SIGKILL'] : ['SIGTERM', 'SIGKILL'];
    const onSignal = (signal: NodeJS.Signals) => logger?.debug({ cameraPid: this.pid, signal }, `warm ${this.program}: ${signal}`);
    if (await signalLadder(this.child, this.gone, steps, stepMs, onSignal)) {
      logger?.debug({ cameraPid: this.pid, how: this.howItEnded() }, `warm ${this.program} stopped`);
    } else {
      logger?.error({ cameraPid: this.pid }, `warm ${this.program} did not exit after SIGKILL`);
    }
  }

  /** Until `check()` holds, the process is gone, the deadline passes or the signal aborts. */
  async waitFor(check: () => boolean, deadline: number, signal?: AbortSignal): Promise<Outcome> {
    for (;;) {
      if (check()) return 'ok';
      if (this.closed) return 'exited';
      if (signal?.aborted) return 'aborted';
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.off('change', done);
          resolve();
        };
        const timer = setTimeout(done, Math.ceil(left));
        signal?.addEventListener('abort', done, { once: true });
        this.on('change', done);
      });
    }
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
    process.off('exit', this.killOnExit);
    this.markGone();
    this.emit('change');
  }
}
