// Listens with the web app on web.host:web.port, over HTTPS when a certificate is given; stop() closes the
// socket and open connections (SSE included).
import http from 'node:http';
import https from 'node:https';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { MAX_HEADERS } from './guards.ts';

/** How long and how large a request may be before the server drops it; chosen for a Pi on a LAN. */
export interface HttpLimits {
  /** A browser sends its headers in one packet; a client that dribbles them (slowloris) is cut off. */
  headersTimeoutMs: number;
  /** Bodies are at most a few KiB, so the whole request arrives long before this. Responses are not
   *  covered: live-update streams stay open. */
  requestTimeoutMs: number;
  /** Node checks the two timeouts only this often (default 30 s would let a slow client stay ~40 s). */
  checkIntervalMs: number;
  /** Idle keep-alive sockets are freed after this. */
  keepAliveTimeoutMs: number;
  /** Total header bytes (request line included). Room for other apps' cookies, since cookies ignore
   *  ports (Home Assistant on :8123 shares them), yet bounded; beyond it Node answers 431. */
  maxHeaderSize: number;
  /** HTTPS: a client must finish the TLS handshake within this, or its socket is closed (Node's default
   *  is 120 s, long enough for silent sockets to pile up). */
  handshakeTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  checkIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16 * 1024,
  handshakeTimeoutMs: 5_000,
};

export class WebServer {
  /** The express app it serves (read by tests that listen on it a second time with other limits). */
  readonly app: Express;
  readonly limits: HttpLimits;
  private readonly host: string;
  private readonly port: number;
  private readonly logger: Logger;
  private readonly tls?: { cert: Buffer; key: Buffer };
  private server?: http.Server;

  constructor(deps: { app: Express; host: string; port: number; logger: Logger; limits?: Partial<HttpLimits>; tls?: { cert: Buffer; key: Buffer } }) {
    this.app = deps.app;
    this.tls = deps.tls;
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...deps.limits };
    this.host = deps.host;
    this.port = deps.port;
    this.logger = deps.logger;
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : { host: this.host, port: this.port };
  }

  async start(): Promise<void> {
    // Bounded header size, count and time: slow or huge requests cannot pin the daemon. Set here rather
    // than left to Node's defaults, which `--max-http-header-size` or a Node upgrade could change.
    const l = this.limits;
    const options: http.ServerOptions = {
      maxHeaderSize: l.maxHeaderSize,
      connectionsCheckingInterval: l.checkIntervalMs,
      requestTimeout: l.requestTimeoutMs,
      insecureHTTPParser: false,
    };
    // Same port, same limits; TLS only adds the handshake deadline (the header timeout starts after it).
    const server: http.Server = this.tls
      ? https.createServer({ ...options, cert: this.tls.cert, key: this.tls.key, handshakeTimeout: l.handshakeTimeoutMs }, this.app)
      : http.createServer(options, this.app);
    // Failed handshakes (wrong CA on the client, plain HTTP to the HTTPS port, the deadline) are the
    // client's business: the socket is closed, nothing else to do.
    server.on('tlsClientError', (err: Error & { code?: string }) => this.logger.debug({ err: err.code ?? err.message }, 'TLS handshake failed'));
    server.headersTimeout = l.headersTimeoutMs;
    server.keepAliveTimeout = l.keepAliveTimeoutMs;
    server.maxHeadersCount = MAX_HEADERS + 1; // one extra so the app can tell "too many" (431) from "exactly enough"
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? Object.assign(
                new Error(`cannot serve the web page: port ${this.port} on ${this.host} is in use: set web.port (MONCAM_WEB_PORT) to a free port`),
                { code: 'port_in_use' },
              )
            : err,
        ),
      );
      server.listen(this.port, this.host, () => resolve());
    });
    server.on('error', (err) => this.logger.error({ err }, 'web server error'));
    this.server = server;
    this.logger.info(
      { host: this.host, port: this.address.port, tls: Boolean(this.tls) },
      `web page on ${this.tls ? 'https' : 'http'}://${this.host === '0.0.0.0' ? 'localhost' : this.host}:${this.address.port}/`,
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeIdleConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // live-update streams would otherwise hold close() forever
    await closed;
  }
}
