// Runs the real daemon (`moncam run` through src/bin.ts) as a child process, for tests that need a
// process to kill, signal or measure (RSS, open file descriptors) from outside.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setPassword } from '../../src/auth/password.ts';
import { MALLOC_ENV } from '../../src/runtime.ts';
import { BIN, TSX } from './cli.ts';
import { CLOCK_ENV, FIXTURES, freePort, tempDir, until } from './setup.ts';

export const FAKE_RPICAM = path.join(FIXTURES, 'fake-rpicam-still.mjs');
export const PASSWORD = 'correct horse battery staple';

export interface ChildDaemonOptions {
  /** Reused across restarts to keep the stills; a fresh temp dir by default. */
  dataDir?: string;
  /** Extra MONCAM_* / FAKE_CAMERA_* variables. */
  env?: Record<string, string>;
  /** Node flags before the script, e.g. the ones `npm start` uses. */
  nodeArgs?: string[];
  /** Ports to reuse across restarts (clients reconnect to the same place). */
  brokerPort?: number;
  webPort?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running `moncam run`; `logs` are its pino lines (stderr), parsed. */
export class ChildDaemon {
  readonly dataDir: string;
  readonly brokerPort: number;
  readonly webPort: number;
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderrRest = '';
  stdout = '';

  private constructor(child: ChildProcessByStdio<Writable, Readable, Readable>, dataDir: string, brokerPort: number, webPort: number) {
    this.child = child;
    this.dataDir = dataDir;
    this.brokerPort = brokerPort;
    this.webPort = webPort;
    child.stdout.on('data', (c: Buffer) => (this.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      const text = this.stderrRest + c.toString();
      const lines = text.split('\n');
      this.stderrRest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ msg: line, raw: true });
        }
      }
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts the daemon with the fake rpicam-still, embedded broker and web page on free ports; waits until it is ready. */
  static async start(opts: ChildDaemonOptions = {}): Promise<ChildDaemon> {
    const dataDir = opts.dataDir ?? tempDir('moncam-daemon-');
    const brokerPort = opts.brokerPort ?? (await freePort());
    const webPort = opts.webPort ?? (await freePort());
    const passwordFile = path.join(dataDir, 'private', 'pass_user');
    if (!fs.existsSync(passwordFile)) await setPassword(passwordFile, PASSWORD);
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', TSX, BIN, 'run'], {
      cwd: dataDir,
      env: {
        ...CLOCK_ENV,
        PATH: process.env.PATH,
        HOME: dataDir,
        // What the shebang and the unit set: moncam then runs as this one process (tests signal and measure
        // its pid); without them it re-runs itself once (src/runtime.ts, tested in test/runtime.test.ts).
        ...MALLOC_ENV,
        MONCAM_DATA_DIR: dataDir,
        MONCAM_CAMERA_ID: 'childcam',
        MONCAM_CAMERA_BACKEND: 'rpicam',
        MONCAM_CAMERA_COMMAND: FAKE_RPICAM,
        MONCAM_CAMERA_WIDTH: '640',
        MONCAM_CAMERA_HEIGHT: '480',
        MONCAM_CAMERA_SETTLE_MS: '0',
        // Single-shot: these tests count camera runs and check no camera process is left; warm mode has its own.
        MONCAM_CAMERA_WARM: 'false',
        MONCAM_SCHEDULE_ENABLED: 'false',
        MONCAM_BROKER_HOST: '127.0.0.1',
        MONCAM_BROKER_PORT: String(brokerPort),
        MONCAM_WEB_HOST: '127.0.0.1',
        MONCAM_WEB_PORT: String(webPort),
        MONCAM_WEB_FRESH_ON_VISIT: 'false',
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const daemon = new ChildDaemon(child, dataDir, brokerPort, webPort);
    const failed = daemon.exited.then((e) => {
      throw new Error(`moncam exited before it was ready (${JSON.stringify(e)}): ${daemon.logs.map((l) => l.msg).join(' | ')}`);
    });
    failed.catch(() => undefined);
    // 60 s: a start after a power cut checks the data dir, slow on a loaded machine (seen past 30 s at 8
    // test files at once). A daemon that is not ready is killed: left running, it kept the test file alive.
    try {
      await Promise.race([until(() => daemon.logged('moncam started'), 60_000, 'moncam started'), failed]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return daemon;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.brokerPort}`;
  }

  get webUrl(): string {
    return `http://127.0.0.1:${this.webPort}`;
  }

  logged(msg: string | RegExp): boolean {
    return this.logs.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  }

  /** Resident set size in bytes, from /proc. */
  rss(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  }

  /** Open file descriptors (sockets, files, pipes). */
  fds(): number {
    return fs.readdirSync(`/proc/${this.pid}/fd`).length;
  }

  /** Processes whose parent is the daemon, with their state (Z = zombie). */
  children(): { pid: number; state: string; cmd: string }[] {
    return childrenOf(this.pid);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** SIGTERM and wait; returns how it exited and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo & { ms: number }> {
    const t0 = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const e = await this.exited;
    return { ...e, ms: Date.now() - t0 };
  }
}

/** Children of `pid` from the process table, with their state letter (R, S, Z...). */
export function childrenOf(pid: number): { pid: number; state: string; cmd: string }[] {
  const out: { pid: number; state: string; cmd: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid ...; comm may contain spaces and parentheses
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (Number(ppid) !== pid) continue;
    let cmd = stat.slice(stat.indexOf('(') + 1, close);
    try {
      cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() || cmd;
    } catch {
      // keep comm
    }
    out.push({ pid: Number(name), state: state!, cmd });
  }
  return out;
}
