// Runs a camera program once and turns its exit into a JPEG or a classified CameraError.
// Camera programs talk a lot on stderr (libcamera INFO lines) and sometimes hang or crash
// mid-write, so only the exit code, the signal and the JPEG's structure decide success.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { validateJpeg, type JpegInfo } from './jpeg.ts';
import { signalLadder } from './ladder.ts';
import { CameraError, type CameraErrorCode, type StillRequest } from './types.ts';

/** What a backend concluded from a failed run; `detail` is the stderr line that proves it. */
export interface Classification {
  code: CameraErrorCode;
  detail?: string;
  /** Human explanation, e.g. "camera is in use by another process". */
  message?: string;
}

export type Classify = (stderrLines: readonly string[], exitCode: number | null, signal: NodeJS.Signals | null) => Classification | undefined;

export interface RunProgramOptions {
  program: string;
  args: readonly string[];
  /** Hard limit; then SIGTERM, then SIGKILL after `killGraceMs`. */
  timeoutMs: number;
  killGraceMs?: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** stdout larger than this is not a still (runaway output): the program is killed. */
  maxBytes?: number;
  /** How much of stderr's end is kept; the beginning is INFO noise. */
  stderrTailBytes?: number;
  /** Rewrites each kept stderr line, e.g. to hide credentials in a stream URL. */
  scrubLine?: (line: string) => string;
}

export interface RunProgramResult {
  stdout: Buffer;
  /** The last lines of stderr (bounded), without empty lines. */
  stderr: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Why moncam killed the program, if it did. */
  killedFor?: 'timeout' | 'aborted' | 'oversize';
  /** The strongest signal moncam had to send. */
  killSignal?: 'SIGTERM' | 'SIGKILL';
  pid?: number;
}

export const DEFAULT_KILL_GRACE_MS = 2000;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_STDERR_TAIL_BYTES = 16 * 1024;

/**
 * Spawns `program` (argument array, never a shell) and collects its output. Resolves once the
 * process is gone ('close', so no zombie and all output read) whatever the exit; rejects only
 * when it cannot be started (`not_installed` for ENOENT/EACCES).
 */
export function runProgram(opts: RunProgramOptions): Promise<RunProgramResult> {
  const grace = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const tailBytes = opts.stderrTailBytes ?? DEFAULT_STDERR_TAIL_BYTES;

  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(aborted(opts.program, opts.signal));
      return;
    }
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(opts.program, [...opts.args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    } catch (err) {
      // Synchronous refusals (e.g. a NUL byte in an argument) are bad configuration, not a crash.
      reject(new CameraError('config', `${opts.program}: cannot run: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tail = '';
    let killedFor: RunProgramResult['killedFor'];
    let killSignal: RunProgramResult['killSignal'];
    let spawnError: NodeJS.ErrnoException | undefined;
    let settled = false;

    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const kill = (why: NonNullable<RunProgramResult['killedFor']>) => {
      if (killedFor) return;
      killedFor = why;
      if (child.exitCode !== null || child.signalCode !== null) {
        // Already exited (output still draining, or a grandchild holds the pipes): stop reading.
        child.stdout.destroy();
        child.stderr.destroy();
        return;
      }
      void signalLadder(child, closed, ['SIGTERM', 'SIGKILL'], grace, (sig) => (killSignal = sig as RunProgramResult['killSignal']));
    };
    const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
    const onAbort = () => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (spawnError && child.pid === undefined) {
        reject(spawnFailure(opts.program, spawnError));
        return;
      }
      resolve({ stdout: Buffer.concat(chunks), stderr: tailLines(tail, tailBytes, opts.scrubLine), exitCode, signal, killedFor, killSignal, pid: child.pid });
    };

    child.stdout.on('data', (chunk: Buffer) => {
      if (killedFor === 'oversize') return;
      bytes += chunk.length;
      if (bytes > maxBytes) {
        chunks.length = 0;
        kill('oversize');
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      tail += text;
      // Keep a bounded tail; cut at a line start so no half line is reported as proof.
      if (tail.length > tailBytes * 2) tail = cutTail(tail, tailBytes);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError ??= err;
      // Not started at all: nothing to wait for (Node still emits 'close', finish() is idempotent).
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

function cutTail(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(-max);
  const nl = cut.indexOf('\n');
  return nl >= 0 ? cut.slice(nl + 1) : cut;
}

function tailLines(tail: string, max: number, scrub?: (line: string) => string): string[] {
  return cutTail(tail, max)
    .split(/\r?\n/)
    .map((l) => (scrub ? scrub(l.trimEnd()) : l.trimEnd()))
    .filter((l) => l.length > 0);
}

export function spawnFailure(program: string, err: NodeJS.ErrnoException): CameraError {
  if (err.code === 'ENOENT' || err.code === 'EACCES') {
    const why = err.code === 'ENOENT' ? 'not found' : 'not executable (permission denied)';
    return new CameraError('not_installed', `${program}: program ${why}; install it or set camera.command`, {
      detail: `spawn ${program} ${err.code}`,
      cause: err,
    });
  }
  return new CameraError('failed', `${program}: could not start: ${err.message}`, { detail: err.code, cause: err });
}

function aborted(program: string, signal: AbortSignal): CameraError {
  return new CameraError('failed', `${program}: capture aborted`, { detail: 'aborted', cause: signal.reason });
}

/** First rule (in order) that matches any stderr line; the latest matching line is the proof. */
export interface ClassifyRule {
  code: CameraErrorCode;
  pattern: RegExp;
  message: string;
}

export function classifyByRules(rules: readonly ClassifyRule[], lines: readonly string[]): Classification | undefined {
  for (const rule of rules) {
    for (let i = lines.length - 1; i >= 0; i--) {
      if (rule.pattern.test(lines[i]!)) return { code: rule.code, detail: lines[i]!, message: rule.message };
    }
  }
  return undefined;
}

export interface RunCameraOptions extends RunProgramOptions {
  /** Backend knowledge of its program's error messages; unknown failures become 'failed'. */
  classify?: Classify;
}

export interface CameraRun {
  jpeg: Buffer;
  info: JpegInfo;
  /** stderr tail, for debug logging. */
  stderr: string[];
  pid?: number;
}

const DEFAULT_MESSAGES: Record<CameraErrorCode, string> = {
  not_installed: 'program not installed',
  no_camera: 'no camera found',
  busy: 'camera is in use by another process',
  config: 'the camera program rejected its options',
  timeout: 'timed out',
  corrupt: 'output is not a complete JPEG',
  failed: 'capture failed',
};

/** Runs a camera program that writes one JPEG to stdout; resolves with it or throws CameraError. */
export async function runCamera(opts: RunCameraOptions): Promise<CameraRun> {
  const r = await runProgram(opts);
  const last = r.stderr.at(-1);
  const extra = { exitCode: r.exitCode, signal: r.signal };
  if (r.killedFor === 'timeout') {
    const how = r.killSignal ? `stopped with ${r.killSignal}` : 'it exited but its output stayed open';
    throw new CameraError('timeout', `${opts.program}: no still within ${opts.timeoutMs} ms; ${how}`, { ...extra, detail: last });
  }
  if (r.killedFor === 'aborted') throw new CameraError('failed', `${opts.program}: capture aborted`, { ...extra, detail: last, cause: opts.signal?.reason });
  if (r.killedFor === 'oversize') {
    const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    throw new CameraError('corrupt', `${opts.program}: output exceeded ${max} bytes; not a still`, { ...extra, detail: `more than ${max} bytes on stdout` });
  }
  if (r.exitCode !== 0 || r.signal) {
    const how = r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
    const c = opts.classify?.(r.stderr, r.exitCode, r.signal);
    if (c) throw new CameraError(c.code, `${opts.program}: ${c.message ?? DEFAULT_MESSAGES[c.code]} (${how})`, { ...extra, detail: c.detail ?? last });
    // A crash can leave a partial JPEG on stdout; the signal is the fact worth reporting.
    const bytes = r.stdout.length ? `, ${r.stdout.length} bytes of output discarded` : '';
    throw new CameraError('failed', `${opts.program}: ${DEFAULT_MESSAGES.failed} (${how}${bytes})`, { ...extra, detail: last });
  }
  try {
    return { jpeg: r.stdout, info: validateJpeg(r.stdout), stderr: r.stderr, pid: r.pid };
  } catch (err) {
    if (!(err instanceof CameraError)) throw err;
    throw new CameraError('corrupt', `${opts.program}: exited 0 but ${err.message}`, { ...extra, detail: err.detail, cause: err });
  }
}

/** What every program-backed camera (rpicam, raspistill, ffmpeg) is constructed with. */
export interface ProgramCameraOptions {
  /** The program name or path (camera.command); each backend has its default. */
  program?: string;
  extraArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
  killGraceMs?: number;
  logger?: Logger;
}

/** One still from a program backend: what rpicam, raspistill and ffmpeg capture() share. */
export async function captureWithProgram(
  opts: ProgramCameraOptions,
  program: string,
  still: { args: readonly string[]; req: StillRequest; signal?: AbortSignal; classify: Classify; scrubLine?: (line: string) => string },
): Promise<CameraRun> {
  const run = await runCamera({
    program,
    args: still.args,
    timeoutMs: still.req.timeoutMs,
    killGraceMs: opts.killGraceMs,
    signal: still.signal,
    env: opts.env,
    classify: still.classify,
    ...(still.scrubLine ? { scrubLine: still.scrubLine } : {}),
  });
  opts.logger?.debug({ program, width: run.info.width, height: run.info.height, bytes: run.jpeg.length, stderr: run.stderr.slice(-3) }, 'still captured');
  return run;
}
