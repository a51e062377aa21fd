// The page over HTTPS (web.tls_cert / web.tls_key) with Node's https client: login works and the session
// cookie is Secure, a client with another CA is refused, and the HTTP limits hold over TLS, plus a
// handshake deadline so silent sockets cannot pile up.
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import path from 'node:path';
import { setPassword } from '../../src/auth/password.ts';
import { DEFAULT_HTTP_LIMITS, WebServer } from '../../src/web/server.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, quietLogger, tempDir } from '../helpers/setup.ts';
import { closedAt, httpsRequest, silentSockets, testPki, type Pki } from '../helpers/tls.ts';

const PASSWORD = 'garden-secret-1';

async function daemon(env: Record<string, string>): Promise<Daemon> {
  const dataDir = tempDir();
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  return startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_ENABLED: 'false', ...env });
}

const login = {
  method: 'POST',
  body: `password=${encodeURIComponent(PASSWORD)}`,
  headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
};

describe('web over HTTPS', () => {
  let d: Daemon;
  let pki: { good: Pki; wrong: Pki };
  let base: string;
  before(async () => {
    pki = await testPki();
    d = await daemon({ MONCAM_WEB_TLS_CERT: pki.good.certFile, MONCAM_WEB_TLS_KEY: pki.good.keyFile });
    base = `https://127.0.0.1:${d.app.web!.address.port}`;
  });
  after(() => d.stop());

  test('healthz, login and the page work for a client trusting the CA; the session cookie is Secure', async () => {
    const ca = pki.good.ca;
    assert.equal((await httpsRequest(`${base}/healthz`, { ca })).body, '{"status":"ok"}');
    // By name too (the certificate names localhost), not only by address.
    assert.equal((await httpsRequest(`${base}/healthz`, { ca, servername: 'localhost' })).status, 200);
    const res = await httpsRequest(`${base}/login`, { ca, ...login });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/');
    const cookie = (res.headers['set-cookie'] as string[]).find((c) => c.startsWith('moncam.sid='))!;
    assert.match(cookie, /; Secure/i);
    assert.match(cookie, /; HttpOnly/i);
    const page = await httpsRequest(`${base}/`, { ca, headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(page.status, 200);
    assert.match(page.body, /Take still/);
  });

  test('a client with another CA is refused before any request is made', async () => {
    await assert.rejects(
      httpsRequest(`${base}/login`, { ca: pki.wrong.ca, ...login }),
      (e: Error & { code?: string }) => e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
    await assert.rejects(
      httpsRequest(`${base}/healthz`, { ca: pki.good.ca, servername: 'nas.example.org' }),
      (e: Error & { code?: string }) => e.code === 'ERR_TLS_CERT_ALTNAME_INVALID',
    );
  });

  test('plain HTTP on the HTTPS port gets no page', async () => {
    const answer = await new Promise<string>((resolve) => {
      const req = http.get(`http://127.0.0.1:${d.app.web!.address.port}/healthz`, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    });
    assert.notEqual(answer, 'status 200');
  });
});

describe('web over plain HTTP (the default)', () => {
  test('the session cookie is not Secure, so a browser on http:// keeps it', async () => {
    const d = await daemon({});
    try {
      const res = await fetch(`${d.web}/login`, { ...login, redirect: 'manual' });
      assert.equal(res.status, 303);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('moncam.sid='))!;
      assert.doesNotMatch(cookie, /Secure/i);
    } finally {
      await d.stop();
    }
  });
});

describe('HTTPS limits', () => {
  let d: Daemon;
  let server: WebServer;
  let pki: { good: Pki; wrong: Pki };
  before(async () => {
    pki = await testPki();
    d = await daemon({});
    // The same app, served with short deadlines so the test does not wait for the real ones.
    server = new WebServer({
      app: d.app.web!.app,
      host: '127.0.0.1',
      port: 0,
      logger: quietLogger(),
      tls: { cert: pki.good.cert, key: pki.good.key },
      limits: { handshakeTimeoutMs: 400, headersTimeoutMs: 600, checkIntervalMs: 100 },
    });
    await server.start();
  });
  after(async () => {
    await server.stop();
    await d.stop();
  });

  test('the handshake deadline is 5 s by default', () => {
    assert.equal(DEFAULT_HTTP_LIMITS.handshakeTimeoutMs, 5000);
    assert.equal(new WebServer({ app: d.app.web!.app, host: '127.0.0.1', port: 0, logger: quietLogger() }).limits.handshakeTimeoutMs, 5000);
  });

  test('sockets that never start the handshake are closed at the deadline', async () => {
    const t0 = Date.now();
    const sockets = await silentSockets(20, server.address.port, '127.0.0.1');
    const times = await Promise.all(sockets.map((s) => closedAt(s, t0)));
    for (const ms of times) assert.ok(ms >= 350 && ms < 2500, `closed after ${ms} ms`);
  });

  test('a handshake trickled a byte at a time is cut at the deadline too (it is not an idle timer)', async () => {
    const t0 = Date.now();
    const [s] = await silentSockets(1, server.address.port, '127.0.0.1');
    s!.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0xf4])); // a TLS record header announcing a 500-byte ClientHello
    const drip = setInterval(() => s!.writable && s!.write(Buffer.from([1])), 100);
    try {
      const ms = await closedAt(s!, t0);
      assert.ok(ms >= 350 && ms < 2500, `closed after ${ms} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  test('after the handshake the HTTP header deadline still applies (slowloris over TLS gets 408)', async () => {
    const t0 = Date.now();
    const s = tls.connect({ port: server.address.port, host: '127.0.0.1', ca: pki.good.ca });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', () => resolve()).once('error', reject));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // and never the blank line
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    const ms = await closedAt(s, t0);
    assert.match(got, /^HTTP\/1\.1 408/);
    assert.ok(ms >= 500 && ms < 3000, `closed after ${ms} ms`);
  });

  test('a client that completes the handshake in time is served (the deadline ends with the handshake)', async () => {
    const agentless = await httpsRequest(`https://127.0.0.1:${server.address.port}/healthz`, { ca: pki.good.ca });
    assert.equal(agentless.status, 200);
    // A kept-alive TLS connection outlives the handshake deadline and still answers.
    const s = tls.connect({ port: server.address.port, host: '127.0.0.1', ca: pki.good.ca });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', () => resolve()).once('error', reject));
    await new Promise((r) => setTimeout(r, 600));
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await closedAt(s, Date.now());
    assert.match(got, /^HTTP\/1\.1 200/);
  });
});
