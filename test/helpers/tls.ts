// TLS test material made by the real `moncam cert` code (src/cli/cert.ts): a CA with a server pair valid
// for localhost, loopback and this machine's addresses, and a second unrelated CA for "wrong CA" cases.
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import { issueCertificates } from '../../src/cli/cert.ts';
import { tempDir } from './setup.ts';

export interface Pki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

async function makePki(host: string): Promise<Pki> {
  const dir = tempDir('moncam-pki-');
  const { files } = await issueCertificates({ dir, hosts: [host] });
  return {
    dir,
    caFile: files.caCert,
    certFile: files.cert,
    keyFile: files.key,
    ca: fs.readFileSync(files.caCert),
    cert: fs.readFileSync(files.cert),
    key: fs.readFileSync(files.key),
  };
}

let pkis: Promise<{ good: Pki; wrong: Pki }> | undefined;

/** Made once per test process (RSA keys take a moment). `wrong` is a valid pair from another CA. */
export function testPki(): Promise<{ good: Pki; wrong: Pki }> {
  pkis ??= Promise.all([makePki('moncam-test'), makePki('moncam-test')]).then(([good, wrong]) => ({ good, wrong }));
  return pkis;
}

/** This machine's first non-loopback IPv4 address: connections from it are "remote" for the broker's caps. */
export function lanAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  return undefined;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request on a new connection (no agent reuse), trusting only `ca`. */
export function httpsRequest(
  url: string,
  opts: { ca: Buffer; method?: string; headers?: Record<string, string>; body?: string; servername?: string },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca, agent: false, ...(opts.servername ? { servername: opts.servername } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Opens raw TCP sockets that never speak (a TLS handshake that never starts); resolves once all are connected. */
export async function silentSockets(n: number, port: number, host: string, localAddress?: string): Promise<net.Socket[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
          s.resume(); // reads (and drops) what comes, so the server's FIN is seen and the socket closes
          s.on('error', reject);
        }),
    ),
  );
}

/** When the socket closes (ms after `t0`), or rejects after `ms`. */
export function closedAt(socket: net.Socket, t0: number, ms = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(Date.now() - t0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}
