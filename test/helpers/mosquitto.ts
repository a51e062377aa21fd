// A real Mosquitto broker for tests: its own config in a temp dir, a free loopback port, stop() and
// restart() on the same port. Never leaves a broker behind: tests stop it in after() hooks, every
// live broker is SIGKILLed on process 'exit', and a tiny watchdog kills it if this process dies hard.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, tempDir } from './setup.ts';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';
export const MOSQUITTO_INSTALL = 'apt-get install -y mosquitto';

const LOG_LIMIT = 64 * 1024; // bytes of broker output kept for diagnostics
const READY_MS = 5000;
const STOP_MS = 3000;

const live = new Set<ChildProcess>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function exitedPromise(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true once something accepts a TCP connection on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export interface MosquittoOptions {
  /** Defaults to a free loopback port. */
  port?: number;
  /** Defaults to MOSQUITTO_BIN. */
  bin?: string;
}

export class Mosquitto {
  readonly bin: string;
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  private child?: ChildProcess;
  private watchdog?: ChildProcess;
  private logChunks: Buffer[] = [];
  private logBytes = 0;

  private constructor(bin: string, port: number, dir: string) {
    this.bin = bin;
    this.port = port;
    this.dir = dir;
    this.configFile = path.join(dir, 'mosquitto.conf');
  }

  /** Starts a broker on a free loopback port; throws (with the install command) if Mosquitto is missing. */
  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const bin = opts.bin ?? MOSQUITTO_BIN;
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      throw new Error(`Mosquitto is not installed: ${bin} is missing. These tests need a real broker; install it with: ${MOSQUITTO_INSTALL}`);
    }
    const broker = new Mosquitto(bin, opts.port ?? (await freePort()), tempDir('moncam-mosquitto-'));
    fs.writeFileSync(
      broker.configFile,
      [
        `listener ${broker.port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        'log_type information',
        'connection_messages true',
        'log_timestamp_format %H:%M:%S',
        '',
      ].join('\n'),
    );
    await broker.launch();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** The tail of the broker's own log (bounded). */
  log(): string {
    return Buffer.concat(this.logChunks).toString('utf8');
  }

  /** SIGTERM and wait for exit; SIGKILL if it does not go within a few seconds. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.killWatchdog();
    if (!child) return;
    const exited = exitedPromise(child);
    if (this.running) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), STOP_MS)))]);
      clearTimeout(timer);
      if (!gone) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    live.delete(child);
    if (this.child === child) this.child = undefined;
  }

  /** Stops (if running) and starts again on the same port with the same config: nothing retained survives. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  private appendLog(chunk: Buffer): void {
    this.logChunks.push(chunk);
    this.logBytes += chunk.length;
    while (this.logBytes > LOG_LIMIT && this.logChunks.length > 1) this.logBytes -= this.logChunks.shift()!.length;
  }

  /** Spawns the broker and waits until it accepts TCP connections; retries a bind that races a closing port. */
  private async launch(): Promise<void> {
    const deadline = Date.now() + READY_MS;
    for (;;) {
      const child = spawn(this.bin, ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      live.add(child);
      hookExit();
      child.stdout?.on('data', (c: Buffer) => this.appendLog(c));
      child.stderr?.on('data', (c: Buffer) => this.appendLog(c));
      // A broker a test forgot to stop must not keep this process alive; 'exit' then kills it.
      child.unref();
      (child.stdout as unknown as net.Socket | null)?.unref?.();
      (child.stderr as unknown as net.Socket | null)?.unref?.();
      const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
      const exited = exitedPromise(child);
      const dog = child.pid !== undefined ? this.startWatchdog(child.pid) : undefined;
      child.once('exit', () => {
        live.delete(child);
        killIfRunning(dog); // its broker is gone: it must not outlive it (pid reuse)
      });

      let outcome: 'ready' | 'exited' | Error | undefined;
      while (!outcome) {
        outcome = await Promise.race([
          spawnError,
          exited.then(() => 'exited' as const),
          canConnect(this.port).then((ok) => (ok ? ('ready' as const) : undefined)),
        ]);
        if (!outcome) {
          if (Date.now() > deadline) break;
          await sleep(25);
        }
      }
      if (outcome === 'ready' && this.running) return;
      if (outcome instanceof Error) throw new Error(`could not run ${this.bin} (${outcome.message}); install it with: ${MOSQUITTO_INSTALL}`);
      if (outcome === 'exited' && /address already in use/i.test(this.log()) && Date.now() < deadline) {
        await sleep(100); // the port is still held a moment after the previous broker exited
        continue;
      }
      await this.stop();
      throw new Error(`Mosquitto did not start on 127.0.0.1:${this.port} within ${READY_MS} ms (${outcome ?? 'timeout'}). Its log:\n${this.log()}`);
    }
  }

  /**
   * A shell that blocks reading a pipe from this process and SIGKILLs the broker when the pipe closes,
   * i.e. when this process dies in a way that skips 'exit' (SIGKILL, a runner timeout). Killed on stop().
   */
  private startWatchdog(pid: number): ChildProcess {
    const dog = spawn('/bin/sh', ['-c', 'read _ ; kill -KILL "$1" 2>/dev/null', 'moncam-mosquitto-watchdog', String(pid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    dog.on('error', () => undefined); // best effort
    dog.unref();
    (dog.stdin as unknown as net.Socket | null)?.unref?.();
    this.watchdog = dog;
    live.add(dog);
    dog.once('exit', () => live.delete(dog));
    return dog;
  }

  private killWatchdog(): void {
    killIfRunning(this.watchdog);
    this.watchdog = undefined;
  }
}

function killIfRunning(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Starts a real Mosquitto on a free loopback port (the caller stops it in an after() hook). */
export function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  return Mosquitto.start(opts);
}
