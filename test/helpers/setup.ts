// Shared test scaffolding: temp data dirs, configs built through the real loader, quiet loggers.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { pino, type Logger } from 'pino';
import type { Camera, Shot, StillRequest } from '../../src/camera/types.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';

export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');
export const GARDEN_8MP = path.join(FIXTURES, 'garden-8mp.jpg');

const made: string[] = [];

/** A new directory under the OS temp dir, removed when the test file's process exits. */
export function tempDir(prefix = 'moncam-test-'): string {
  if (made.length === 0) process.once('exit', () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * A schedule whose next still is 29-30 min away (hourly, UTC), whenever a test runs: a real daemon's
 * schedule neither fires during the test nor reads "due now" (a fixed `*\/5` did both near its minute).
 */
export function farSchedule(): Record<string, string> {
  return { MONCAM_SCHEDULE_CRON: `${(new Date().getUTCMinutes() + 30) % 60} * * * *`, MONCAM_SCHEDULE_TIMEZONE: 'UTC' };
}

/**
 * Waits into the next day (local, or UTC for a daemon on schedule.timezone UTC) when less than `needMs` is
 * left of this one. For tests about one day's stills (today, yesterday): a run across midnight would split
 * them. Costs a wait on ~needMs/24 h of runs.
 */
export async function notNearMidnight(needMs: number, utc = false): Promise<void> {
  const now = new Date();
  const midnight = utc
    ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
    : new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1).getTime();
  const left = midnight - now.getTime();
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 1000));
}

/**
 * libfaketime's settings, when the suite runs under it (npm run test:at; CONTRIBUTING.md, Tests): spawned
 * daemons and CLIs get them too, or they would run on the real clock beside a test on the faked one.
 */
export const CLOCK_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => (e[0] === 'LD_PRELOAD' || e[0].startsWith('FAKETIME')) && e[1] !== undefined),
);

export function quietLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger whose lines are kept in memory, for asserting what was logged. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void chunks.push(s) });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A config from the real loader, with a temp data dir; env-style overrides. */
export function testConfig(env: Record<string, string> = {}, dataDir = tempDir()): Config {
  return loadConfig({ env: { MONCAM_DATA_DIR: dataDir, MONCAM_CAMERA_ID: 'testcam', ...env }, cwd: dataDir }).config;
}

export async function makeJpeg(width = 320, height = 240, colour = '#336699'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .jpeg({ quality: 80 })
    .toBuffer();
}

/** An in-process camera whose captures the test releases one by one; counts runs. */
export class GateCamera implements Camera {
  readonly backend = 'gate';
  readonly description = 'test camera';
  runs = 0;
  requests: StillRequest[] = [];
  private waiting: Array<{ resolve: (s: Shot) => void; reject: (e: unknown) => void }> = [];
  private readonly jpeg: Buffer;
  constructor(jpeg: Buffer) {
    this.jpeg = jpeg;
  }
  /** Aborted runs, as the real program camera is killed on abort. */
  aborted = 0;
  capture(req: StillRequest, signal?: AbortSignal): Promise<Shot> {
    this.runs++;
    this.requests.push(req);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', () => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        this.aborted++;
        reject(new Error('capture aborted'));
      });
    });
  }
  get pending(): number {
    return this.waiting.length;
  }
  /** Completes the oldest waiting capture. */
  release(still: Partial<Shot> = {}): void {
    const w = this.waiting.shift();
    if (!w) throw new Error('no capture is waiting');
    w.resolve({ jpeg: this.jpeg, ...still });
  }
  fail(err: unknown): void {
    const w = this.waiting.shift();
    if (!w) throw new Error('no capture is waiting');
    w.reject(err);
  }
}

/** Waits until `cond` holds, polling; fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let ephemeralLow: number | undefined;
/** The lowest port the kernel hands out as a connection's own port (bind to 0, outgoing connections). */
function lowestEphemeral(): number {
  if (ephemeralLow === undefined) {
    try {
      ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
    } catch {
      ephemeralLow = 32768;
    }
  }
  return ephemeralLow;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    // 0.0.0.0: taken on any address (loopback or the LAN one the storm tests use) fails here too.
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free a moment ago, for a daemon or broker to listen on. Picked at random below the
 * kernel's ephemeral range: a port from bind(0) could be taken by any test's next outgoing connection
 * (thousands in the storm tests) before the daemon listens on it, and that made a daemon fail to start.
 */
export async function freePort(): Promise<number> {
  const high = lowestEphemeral();
  const low = Math.max(1024, high - 12_000);
  for (let i = 0; i < 100; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${low}-${high - 1}`);
}

/** mulberry32: small, seeded, good enough for noise. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
