// Listens with the web app on web.host:web.port; stop() closes the socket and open connections (SSE included).
import http from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';

export class WebServer {
  private readonly app: Express;
  private readonly host: string;
  private readonly port: number;
  private readonly logger: Logger;
  private server?: http.Server;

  constructor(deps: { app: Express; host: string; port: number; logger: Logger }) {
    this.app = deps.app;
    this.host = deps.host;
    this.port = deps.port;
    this.logger = deps.logger;
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : { host: this.host, port: this.port };
  }

  async start(): Promise<void> {
    const server = http.createServer(this.app);
    // Bounded header size and time: slow or huge requests cannot pin the daemon.
    server.headersTimeout = 15_000;
    server.requestTimeout = 60_000;
    server.maxHeadersCount = 100;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`cannot serve the web page: port ${this.port} on ${this.host} is in use (set web.port)`) : err),
      );
      server.listen(this.port, this.host, () => resolve());
    });
    server.on('error', (err) => this.logger.error({ err }, 'web server error'));
    this.server = server;
    this.logger.info({ host: this.host, port: this.address.port }, `web page on http://${this.host === '0.0.0.0' ? 'localhost' : this.host}:${this.address.port}/`);
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
