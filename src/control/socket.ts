// A local control socket beside the data: `moncam capture` while the daemon runs asks the daemon for the still
// (the daemon holds the data dir and the camera). A Unix socket in the 0700 private folder: whoever may read
// the data dir may ask, nobody else, and no password is needed. One request line, one answer line, both JSON.
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CaptureRecord, CaptureService } from '../capture/service.ts';
import { CaptureFailedError } from '../capture/service.ts';

/** The socket's path for a data dir. */
export function controlSocketPath(dataDir: string): string {
  return path.join(dataDir, 'private', 'moncam.sock');
}

/** sockaddr_un holds 108 bytes on Linux, the terminating NUL included. */
const MAX_SOCKET_PATH = 107;
/** A request is `{"command":"capture"}`: anything longer is not one. */
const MAX_REQUEST_BYTES = 1024;
const REQUEST_DEADLINE_MS = 5000;
const MAX_CONNECTIONS = 4;

export interface CaptureAnswer {
  ok: true;
  id: string;
  path: string;
  width: number;
  height: number;
  bytes: number;
  backend: string;
}
export interface FailureAnswer {
  ok: false;
  error: { code: string; message: string; detail?: string };
}

export class ControlServer {
  private readonly deps: { dataDir: string; captures: Pick<CaptureService, 'capture'>; backend: string; logger: Logger };
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(deps: ControlServer['deps']) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const file = controlSocketPath(this.deps.dataDir);
    if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
      this.deps.logger.warn({ file }, 'data_dir path too long for a control socket: `moncam capture` cannot ask this daemon');
      return;
    }
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // The data dir lock is held: a socket file here is a leftover of a daemon that was killed.
    await fs.rm(file, { force: true });
    const server = net.createServer((socket) => this.handle(socket));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
    server.on('error', (err) => this.deps.logger.error({ err }, 'control socket error'));
    await fs.chmod(file, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // a client that went away: nothing to answer
    socket.setTimeout(REQUEST_DEADLINE_MS, () => socket.destroy());
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\n');
      if (end < 0 && buffered.length <= MAX_REQUEST_BYTES) return;
      socket.off('data', onData);
      socket.setTimeout(0); // the answer waits for the camera, bounded by camera.timeout_ms
      void this.answer(end < 0 ? undefined : buffered.slice(0, end)).then((a) => socket.end(JSON.stringify(a) + '\n'));
    };
    socket.on('data', onData);
  }

  private async answer(line: string | undefined): Promise<CaptureAnswer | FailureAnswer> {
    let command: unknown;
    try {
      command = line === undefined ? undefined : (JSON.parse(line) as { command?: unknown }).command;
    } catch {
      command = undefined;
    }
    if (command !== 'capture') return { ok: false, error: { code: 'bad_request', message: 'expected {"command":"capture"}' } };
    try {
      const r: CaptureRecord = await this.deps.captures.capture('cli');
      return {
        ok: true,
        id: r.capture.id,
        path: r.capture.files.original,
        width: r.capture.meta.full_width,
        height: r.capture.meta.full_height,
        bytes: r.capture.bytes,
        backend: this.deps.backend,
      };
    } catch (err) {
      if (err instanceof CaptureFailedError) return { ok: false, error: err.failure.error };
      this.deps.logger.error({ err }, 'still for the control socket failed');
      return { ok: false, error: { code: 'internal', message: (err as Error).message } };
    }
  }
}

/**
 * Asks the daemon behind the socket for a still. undefined when no daemon listens there (no socket, or a
 * leftover one nobody accepts on); the answer otherwise.
 */
export function requestCapture(dataDir: string): Promise<CaptureAnswer | FailureAnswer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(controlSocketPath(dataDir));
    let connected = false;
    let text = '';
    socket.on('connect', () => {
      connected = true;
      socket.write('{"command":"capture"}\n');
    });
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && ['ENOENT', 'ECONNREFUSED', 'ENOTSOCK'].includes(err.code ?? '')) resolve(undefined);
      else reject(Object.assign(new Error(`the running moncam did not answer on ${controlSocketPath(dataDir)}: ${err.message}`), { code: 'control_failed' }));
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as CaptureAnswer | FailureAnswer);
      } catch {
        reject(
          Object.assign(new Error(`the running moncam closed ${controlSocketPath(dataDir)} without an answer (is it stopping?)`), { code: 'control_failed' }),
        );
      }
    });
  });
}
