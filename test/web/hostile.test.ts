// Hostile HTTP input against the real running web server (real sockets, real daemon): oversized and
// malformed bodies, header floods, traversal, forged cookies, cross-site POSTs, SSE floods, slow clients.
// Every refusal must carry the exact status, reveal nothing, capture nothing, and leave the daemon serving.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, afterEach, before, describe, test } from 'node:test';
import { setPassword } from '../../src/auth/password.ts';
import { DEFAULT_HTTP_LIMITS, WebServer } from '../../src/web/server.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, memoryLogger, quietLogger, tempDir, until } from '../helpers/setup.ts';
import { WebClient } from '../helpers/web.ts';

const PASSWORD = 'hostile-test-secret-1';
const MAX_EVENT_CLIENTS = 3;
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);
const CAPTURE_ID = /\d{8}T\d{6}\.\d{3}Z/;
const REPO = path.resolve(import.meta.dirname, '..', '..');
const TEN_MB = 'a'.repeat(10 * 1024 * 1024);

let daemon: Daemon;
let camera: ReturnType<typeof instantCamera>;
let dataDir: string;
let secret: string;
let web: WebClient;
let port: number;
const log = memoryLogger();

// ---------- what a refusal must never contain ----------

/** Everything private a response could leak: ids, image bytes, the hash, the secret, stacks, paths. */
function leaks(bytes: Buffer): string[] {
  const text = bytes.toString('latin1');
  const found: string[] = [];
  if (bytes.includes(JPEG_SOI)) found.push('JPEG bytes');
  if (CAPTURE_ID.test(text)) found.push('a capture id');
  for (const s of ['$argon2', secret, REPO, dataDir, `${os.tmpdir()}/`, 'node_modules', '    at ', 'Error:', 'ENOENT', 'ENOTDIR'])
    if (s && text.includes(s)) found.push(JSON.stringify(s));
  return found;
}

/** Asserts the exact status and a clean answer (headers included); returns the body text. */
async function expect(res: Response, status: number, what: string): Promise<string> {
  const body = Buffer.from(await res.arrayBuffer());
  const head = Buffer.from(JSON.stringify([...res.headers]));
  assert.equal(res.status, status, `${what}: status`);
  assert.deepEqual(leaks(Buffer.concat([head, body])), [], `${what}: leaked`);
  return body.toString();
}

// ---------- raw sockets, for what fetch refuses to send ----------

interface RawAnswer {
  status: number;
  text: string;
  closed: boolean;
  ms: number;
}

/** Writes `data` (or feeds `drip` pieces slowly) and collects the answer until the server closes. */
function raw(data: string | Buffer, opts: { drip?: { piece: string; everyMs: number }; waitMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      assert.deepEqual(leaks(bytes), [], `raw answer leaked: ${bytes.toString('latin1').slice(0, 200)}`);
      const text = bytes.toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text, closed, ms: Date.now() - started });
    };
    const giveUp = setTimeout(() => done(false), opts.waitMs ?? 3000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined); // a reset after the answer is fine
    socket.on('close', () => done(true));
    socket.write(data);
    if (opts.drip) timer = setInterval(() => socket.writable && socket.write(opts.drip!.piece), opts.drip.everyMs);
  });
}

function rawGet(target: string, headers = ''): Promise<RawAnswer> {
  return raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);
}

/** The headers a logged-in page sends with an API POST. */
function pageHeaders(client = web): string {
  return `Cookie: ${client.cookieHeader}\r\nX-CSRF-Token: ${client.csrf}\r\nSec-Fetch-Site: same-origin\r\n`;
}

// ---------- the daemon under attack ----------

/** A logged-in client still gets its state and a real thumbnail; /healthz still answers. */
async function assertAlive(): Promise<void> {
  const state = await web.get('/api/state');
  assert.equal(state.status, 200, 'daemon still serves /api/state');
  const { latest } = (await state.json()) as { latest: { urls: { thumb: string } } };
  const thumb = await web.get(latest.urls.thumb);
  assert.equal(thumb.status, 200);
  assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  const bytes = Buffer.from(await thumb.arrayBuffer());
  assert.ok(bytes.subarray(0, 3).equals(JPEG_SOI) && bytes.length > 200, 'a real thumbnail');
  assert.equal((await fetch(`${daemon.web}/healthz`)).status, 200);
}

/** Runs `attack` and asserts the camera was not run by it. */
async function noCapture(attack: () => Promise<void>): Promise<void> {
  const runs = camera.runs;
  await attack();
  await new Promise((r) => setTimeout(r, 20)); // a capture started by a refused request would show by now
  assert.equal(camera.runs, runs, 'a refused request captured a still');
}

before(async () => {
  dataDir = tempDir();
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  camera = instantCamera(await makeJpeg(640, 480));
  // Fresh window 0: an accepted /api/visit always captures, so a refused one shows as "no run".
  const env = {
    MONCAM_DATA_DIR: dataDir,
    MONCAM_BROKER_ENABLED: 'false',
    MONCAM_WEB_LOGIN_ATTEMPTS: '1000',
    MONCAM_WEB_FRESH_WINDOW_S: '0',
    MONCAM_WEB_MAX_EVENT_CLIENTS: String(MAX_EVENT_CLIENTS),
  };
  daemon = await startDaemon(camera, env, { logger: log.logger });
  port = Number(new URL(daemon.web).port);
  secret = fs.readFileSync(path.join(dataDir, 'private', 'session_secret'), 'utf8').trim();
  await daemon.app.captures.capture('web');
  web = new WebClient(daemon.web);
  assert.equal((await web.login(PASSWORD)).headers.get('location'), '/');
});

afterEach(assertAlive);

after(async () => {
  await daemon.stop();
  const errors = log.lines().filter((l) => (l.level as number) >= 50);
  assert.deepEqual(errors, [], 'no attack made the daemon log an error (no 500s)');
});

describe('hostile: bodies', () => {
  const json = { 'content-type': 'application/json' };

  test('login: oversized, chunked past the limit, bad percent-encoding, wrong type, zip bomb, too many fields', async () => {
    const anon = new WebClient(daemon.web);
    await expect(await anon.post('/login', `password=${TEN_MB}`), 413, '10 MB form');
    const chunked = `POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10000\r\n${'a'.repeat(0x10000)}\r\n0\r\n\r\n`;
    assert.equal((await raw(chunked)).status, 413, 'chunked body without Content-Length is bounded too');
    await expect(await anon.post('/login', 'password=%E0%A4%A'), 400, 'truncated percent-encoding');
    await expect(await anon.post('/login', 'password=%ZZ'), 400, 'invalid percent-encoding');
    await expect(await anon.post('/login', JSON.stringify({ password: PASSWORD }), json), 415, 'JSON login (right password)');
    await expect(await anon.post('/login', `password=${PASSWORD}`, { 'content-type': 'text/plain' }), 415, 'text/plain login');
    const bomb = zlib.gzipSync(`password=${'a'.repeat(1_000_000)}`); // ~1 KB on the wire, 1 MB inflated
    await expect(
      await anon.request('/login', {
        method: 'POST',
        body: bomb,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
      }),
      415,
      'gzip bomb',
    );
    await expect(await anon.post('/login', Array.from({ length: 50 }, (_, i) => `f${i}=1`).join('&')), 413, 'too many fields');
    assert.equal(anon.cookieHeader, '', 'no refused login got a session');
  });

  test('API POSTs: oversized, chunked, truncated JSON, non-object JSON, wrong type or charset, compressed — nothing captured', async () => {
    await noCapture(async () => {
      for (const route of ['/api/capture', '/api/visit']) {
        await expect(await web.api(route, `{"a":"${TEN_MB}"}`), 413, `${route} 10 MB JSON`);
        const chunked = `POST ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\n${pageHeaders()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10000\r\n${'['.repeat(0x10000)}\r\n0\r\n\r\n`;
        assert.equal((await raw(chunked)).status, 413, `${route} chunked past the limit`);
        await expect(await web.api(route, '{"a":'), 400, `${route} truncated JSON`);
        await expect(await web.api(route, '"just a string"'), 400, `${route} non-object JSON`);
        await expect(await web.post(route, 'x', { 'x-csrf-token': web.csrf, 'content-type': 'text/plain' }), 415, `${route} text/plain`);
        await expect(await web.post(route, 'a=%zz', { 'x-csrf-token': web.csrf }), 415, `${route} urlencoded with bad encoding`);
        await expect(
          await web.post(route, '{}', { 'x-csrf-token': web.csrf, 'content-type': 'application/json; charset=iso-8859-1' }),
          415,
          `${route} odd charset`,
        );
        const gz = zlib.gzipSync('{}');
        await expect(
          await web.request(route, {
            method: 'POST',
            body: gz,
            headers: { ...json, 'content-encoding': 'gzip', 'x-csrf-token': web.csrf, 'sec-fetch-site': 'same-origin', cookie: web.cookieHeader },
          }),
          415,
          `${route} gzip`,
        );
      }
      const anon = new WebClient(daemon.web);
      await expect(await anon.post('/api/capture', `{"a":"${TEN_MB}"}`, json), 413, 'anonymous 10 MB: refused before any session work');
      await expect(await anon.post('/api/capture', '{"a":', json), 401, 'anonymous truncated JSON');
    });
  });

  test('the page’s own POSTs still work: no body, or an empty JSON object', async () => {
    const runs = camera.runs;
    const bare = await web.request('/api/capture', { method: 'POST', headers: { 'x-csrf-token': web.csrf, 'sec-fetch-site': 'same-origin' } });
    assert.equal(bare.status, 200, 'POST without a body, as app.js sends it');
    assert.equal((await web.api('/api/capture', '{}')).status, 200);
    assert.equal(camera.runs, runs + 2);
  });

  test('logout: oversized or malformed bodies are refused and the session lives on', async () => {
    await expect(await web.post('/logout', TEN_MB), 413, '10 MB logout');
    await expect(await web.post('/logout', 'x=%E0%A4%A'), 400, 'bad encoding');
    await expect(await web.post('/logout', '{}', { 'content-type': 'application/json' }), 415, 'JSON logout');
    assert.equal((await web.get('/api/state')).status, 200, 'still logged in');
  });
});

describe('hostile: headers and request line', () => {
  test('one huge header, thousands of headers, a huge cookie: 431 from the HTTP parser, nothing served', async () => {
    const cookie = `Cookie: ${web.cookieHeader}\r\n`;
    assert.equal((await rawGet('/api/state', `${cookie}X-Big: ${'a'.repeat(20 * 1024)}\r\n`)).status, 431, 'one 20 KiB header');
    assert.equal((await rawGet('/api/state', `${cookie}${Array.from({ length: 3000 }, (_, i) => `X-H${i}: 1\r\n`).join('')}`)).status, 431, '3000 headers');
    assert.equal((await rawGet('/api/state', `Cookie: ${web.cookieHeader}; ${'junk=1; '.repeat(2500)}\r\n`)).status, 431, '20 KiB cookie');
  });

  test('many small headers under the size limit: 431 from the app, not silently truncated', async () => {
    const headers = `Cookie: ${web.cookieHeader}\r\n${Array.from({ length: 150 }, (_, i) => `X-${i}: 1\r\n`).join('')}`;
    const res = await rawGet('/api/state', headers);
    assert.equal(res.status, 431);
    assert.match(res.text, /headers_too_large/);
  });

  test('long URLs: 414 from the app, 431 past the parser limit', async () => {
    await expect(await web.get(`/images/${'a'.repeat(5000)}/thumb.jpg`), 414, '5 KB URL');
    await expect(await web.get(`/api/state?${'x=1&'.repeat(1000)}`), 414, '4 KB query string');
    assert.equal((await rawGet(`/images/${'a'.repeat(20 * 1024)}`)).status, 431, '20 KiB URL');
  });

  test('request smuggling and malformed framing: 400, the smuggled capture never runs', async () => {
    await noCapture(async () => {
      const smuggled = `POST /api/capture HTTP/1.1\r\nHost: 127.0.0.1\r\n${pageHeaders()}Content-Length: 0\r\n\r\n`;
      const clte = await raw(
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      );
      assert.equal(clte.status, 400, 'Content-Length with Transfer-Encoding');
      assert.equal(clte.text.split('HTTP/1.1 ').length - 1, 1, 'exactly one answer');
      const dup = await raw(
        `POST /api/visit HTTP/1.1\r\nHost: 127.0.0.1\r\n${pageHeaders()}Content-Length: 0\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
      );
      assert.equal(dup.status, 400, 'two different Content-Lengths');
      assert.equal((await raw('GET /api/state HTTP/1.1\r\nConnection: close\r\n\r\n')).status, 400, 'HTTP/1.1 without Host');
    });
  });

  test('TRACE echoes nothing back', async () => {
    const res = await raw(`TRACE /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${web.cookieHeader}\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 404);
    assert.ok(!res.text.includes(web.cookieHeader.split('=')[1]!), 'the cookie was not reflected');
  });
});

describe('hostile: traversal and encoded names', () => {
  test('/images/:id/:file — encoded slashes and backslashes, double encoding, ..;, NUL, overlong UTF-8', async () => {
    const id = daemon.app.store.latest()!.id;
    const notFound = [
      `/images/${id}%2fthumb.jpg`,
      `/images/${id}%2Fthumb.jpg`,
      `/images/${id}%5cthumb.jpg`,
      `/images/${id}/..%2f..%2f..%2fprivate%2fpass_user`,
      `/images/${id}/..%2F..%2Fprivate%2Fsession_secret`,
      `/images/..%252f..%252fprivate/thumb.jpg`,
      `/images/${id}%252fthumb.jpg`,
      `/images/${id}/..;/thumb.jpg`,
      `/images/${id};/thumb.jpg`,
      `/images/${id}/thumb.jpg%00`,
      `/images/${id}%00/thumb.jpg`,
      `/images/${id}/thumb.jpg%00.png`,
      `/images/${id}/%2e%2e%2fpass_user`,
    ];
    for (const url of notFound) await expect(await web.get(url), 404, url);
    for (const url of [`/images/%c0%ae%c0%ae%c0%af/thumb.jpg`, `/images/${id}/thumb.jpg%`, `/images/${id}/%e0%80%ae.jpg`])
      await expect(await web.get(url), 400, url);
    // Unnormalised dot segments: fetch would resolve these before sending, a raw socket does not.
    for (const target of [
      `/images/../private/pass_user`,
      `/images/${id}/../../../package.json`,
      `/images/%2e%2e/thumb.jpg`,
      `/images/%2e%2e/%2e%2e/private/pass_user`,
    ]) {
      assert.equal((await rawGet(target, `Cookie: ${web.cookieHeader}\r\n`)).status, 404, target);
    }
  });

  test('/api/days/:day — anything but a calendar day is 400, undecodable is 400', async () => {
    const bad = [
      '..%2f..%2fprivate',
      '..%2F..%2Fprivate',
      '..%5c..%5cprivate',
      '2026-01-01%00',
      '2026-01-01%2f..',
      '..;',
      '%252e%252e',
      '%c0%ae%c0%ae',
      '%',
      '2026-01-01%0d%0aSet-Cookie:x=1',
    ];
    for (const day of bad) await expect(await web.get(`/api/days/${day}`), 400, day);
    assert.equal((await rawGet('/api/days/../../private/pass_user', `Cookie: ${web.cookieHeader}\r\n`)).status, 404, 'raw dot segments');
  });

  test('/assets (public) — traversal is 403, garbage 400, unknown 404, no file system path in any answer', async () => {
    const anon = new WebClient(daemon.web);
    const cases: Array<[string, number]> = [
      ['/assets/..%2f..%2fpackage.json', 403],
      ['/assets/..%2F..%2Fdata%2Fprivate%2Fpass_user', 403],
      ['/assets/..%5c..%5cpackage.json', 403],
      ['/assets/%252e%252e%252fpackage.json', 404],
      ['/assets/..;/package.json', 404],
      ['/assets/style.css%00', 400],
      ['/assets/style.css%00.png', 400],
      ['/assets/%c0%ae%c0%ae/package.json', 400],
      ['/assets/%', 400],
      ['/assets/style.css/', 404], // ENOTDIR inside serve-static: its message names the folder
      ['/assets/style.css/..%2f..%2flogin.html', 403],
    ];
    for (const [url, status] of cases) await expect(await anon.get(url), status, url);
    for (const target of ['/assets/../../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/../login.html'])
      assert.equal((await rawGet(target)).status, 403, target);
    assert.equal((await anon.get('/assets/style.css')).status, 200, 'the real asset still loads');
  });
});

describe('hostile: cookies and forged sessions', () => {
  /** The session id inside the logged-in client's cookie (`s:<sid>.<signature>`). */
  function realSid(): string {
    const value = decodeURIComponent(web.cookieHeader.replace(/^.*moncam\.sid=([^;]+).*$/, '$1'));
    return value.slice(2, value.lastIndexOf('.'));
  }
  /** express-session's signature: HMAC-SHA256 of the id, base64 without padding. */
  function mac(sid: string, key: string): string {
    return crypto.createHmac('sha256', key).update(sid).digest('base64').replace(/=+$/, '');
  }
  function cookieOf(sid: string, signature: string): string {
    return `moncam.sid=${encodeURIComponent(`s:${sid}.${signature}`)}`;
  }
  function signed(sid: string, key: string): string {
    return cookieOf(sid, mac(sid, key));
  }
  async function refused(cookie: string, what: string): Promise<void> {
    const res = await fetch(`${daemon.web}/api/state`, { headers: { cookie } });
    await expect(res, 401, what);
    assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('moncam.sid=')), `${what}: no session was created`);
  }

  test('the forging helper reproduces the real cookie (so the forgeries below are meaningful)', async () => {
    assert.equal((await fetch(`${daemon.web}/api/state`, { headers: { cookie: signed(realSid(), secret) } })).status, 200);
  });

  test('garbage, 8 KB, unsigned, other-secret-signed, unknown-but-validly-signed, tampered: all 401', async () => {
    const sid = realSid();
    await refused('moncam.sid=<script>alert(1)</script>', 'garbage');
    await refused(`moncam.sid=${'A'.repeat(8 * 1024)}`, '8 KB value');
    await refused(`moncam.sid=${sid}`, 'unsigned real id');
    await refused(`moncam.sid=s%3A${sid}`, 'real id, no signature');
    await refused(signed(sid, crypto.randomBytes(32).toString('base64url')), 'real id, other secret');
    await refused(signed(crypto.randomBytes(24).toString('base64url'), secret), 'unknown id, real secret');
    await refused(cookieOf(sid, mac(sid, secret).slice(0, -2)), 'truncated signature');
    await refused(cookieOf(`${sid.slice(0, -1)}${sid.endsWith('A') ? 'B' : 'A'}`, mac(sid, secret)), 'id changed, old signature');
    await refused('moncam.sid=s%3A%FF%FE.%00', 'bad encoding');
  });

  test('many cookies: 500 unrelated ones are harmless, with or without the session', async () => {
    const junk = Array.from({ length: 500 }, (_, i) => `c${i}=v${i}`).join('; ');
    await refused(junk, '500 cookies, no session');
    assert.equal((await fetch(`${daemon.web}/api/state`, { headers: { cookie: `${junk}; ${web.cookieHeader}` } })).status, 200, 'the real session among them');
  });
});

describe('hostile: cross-site POSTs', () => {
  let other: WebClient;
  before(async () => {
    other = new WebClient(daemon.web);
    await other.login(PASSWORD);
  });

  test('foreign Sec-Fetch-Site or Origin (also "null" and garbage) is 403 on capture, visit, logout and login', async () => {
    const foreign: Array<Record<string, string>> = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'http://evil.example' },
      { origin: `http://127.0.0.1:${port + 1}` },
      { origin: 'null' },
      { origin: '::not a url::' },
    ];
    // client.request sends exactly these headers (post() would add Sec-Fetch-Site: same-origin).
    const post = (client: WebClient, route: string, body: string, type: string, h: Record<string, string>) =>
      client.request(route, { method: 'POST', body, headers: { ...h, 'content-type': type, 'x-csrf-token': client.csrf } });
    await noCapture(async () => {
      for (const h of foreign) {
        const label = JSON.stringify(h);
        for (const route of ['/api/capture', '/api/visit']) await expect(await post(web, route, '{}', 'application/json', h), 403, `${route} ${label}`);
        await expect(await post(web, '/logout', '', 'application/x-www-form-urlencoded', h), 403, `logout ${label}`);
        const anon = new WebClient(daemon.web);
        await expect(await post(anon, '/login', `password=${PASSWORD}`, 'application/x-www-form-urlencoded', h), 403, `login ${label}`);
        assert.equal(anon.cookieHeader, '', `login ${label}: no session`);
      }
    });
    assert.equal((await web.get('/api/state')).status, 200, 'refused logouts did not log out');
  });

  test('CSRF token: missing on visit, from another session, or sent anywhere but the header: 403', async () => {
    assert.notEqual(other.csrf, web.csrf);
    await noCapture(async () => {
      for (const route of ['/api/capture', '/api/visit']) {
        await expect(await web.post(route, '{}', { 'content-type': 'application/json' }), 403, `${route} without a token`);
        await expect(
          await web.post(route, '{}', { 'content-type': 'application/json', 'x-csrf-token': other.csrf }),
          403,
          `${route} with another session's token`,
        );
        await expect(await web.post(route, JSON.stringify({ csrf: web.csrf }), { 'content-type': 'application/json' }), 403, `${route} token in the body`);
        await expect(await web.post(`${route}?csrf=${web.csrf}`, '{}', { 'content-type': 'application/json' }), 403, `${route} token in the query`);
        await expect(await web.post(route, '{}', { 'content-type': 'application/json', 'x-csrf-token': '' }), 403, `${route} empty token`);
      }
    });
  });
});

describe('hostile: live-update floods', () => {
  interface Stream {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: () => string;
    close: () => void;
  }
  const open: Stream[] = [];
  /** Opens GET /api/events and resolves once the answer's headers are in; the body keeps coming. */
  function stream(cookie: string, base = daemon.web): Promise<Stream> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${base}/api/events`, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('error', () => undefined);
        const s = { status: res.statusCode ?? 0, headers: res.headers, body: () => body, close: () => req.destroy() };
        open.push(s);
        resolve(s);
      });
      req.on('error', reject);
    });
  }
  after(() => open.forEach((s) => s.close()));

  test('past max_event_clients: 503 with Retry-After and no data; anonymous floods get 401; the first streams keep working; closing frees a slot', async () => {
    const cookie = web.cookieHeader;
    const first = await Promise.all(Array.from({ length: MAX_EVENT_CLIENTS }, () => stream(cookie)));
    assert.deepEqual(
      first.map((s) => s.status),
      Array(MAX_EVENT_CLIENTS).fill(200),
    );
    const extra = await Promise.all(Array.from({ length: 10 }, () => stream(cookie)));
    for (const s of extra) {
      assert.equal(s.status, 503);
      assert.ok(Number(s.headers['retry-after']) > 0, 'Retry-After');
      await until(() => s.body().length > 0, 2000, '503 body');
      assert.deepEqual(leaks(Buffer.from(s.body())), []);
    }
    const anon = await Promise.all(Array.from({ length: 10 }, () => stream('')));
    assert.deepEqual(
      anon.map((s) => s.status),
      Array(10).fill(401),
      'no session, no slot (and no hint that it is full)',
    );

    const record = await daemon.app.captures.capture('mqtt');
    for (const s of first) await until(() => s.body().includes(record.capture.id), 5000, 'the event on an earlier stream');

    first[0]!.close();
    let again: Stream | undefined;
    await until(async () => (again = await stream(cookie)).status === 200, 3000, 'a freed slot');
    assert.equal(again!.status, 200);
    for (const s of open) s.close();
  });
});

describe('hostile: slow clients', () => {
  test('the daemon’s server uses the deliberate limits', () => {
    const limits = daemon.app.web!.limits;
    assert.deepEqual(limits, DEFAULT_HTTP_LIMITS);
    assert.ok(limits.headersTimeoutMs <= 15_000 && limits.headersTimeoutMs < limits.requestTimeoutMs && limits.checkIntervalMs <= 2_000);
  });

  test('slowloris: dribbled headers or body get 408 and the socket is closed; live streams outlive the request timeout', async () => {
    // The same express app on a second listener with short limits, so the test takes a second, not ten.
    const fast = new WebServer({
      app: daemon.app.web!.app,
      host: '127.0.0.1',
      port: 0,
      logger: quietLogger(),
      limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, checkIntervalMs: 50 },
    });
    await fast.start();
    const mainPort = port;
    port = fast.address.port;
    try {
      const sse = await new Promise<http.IncomingMessage>((resolve) =>
        http.get(`http://127.0.0.1:${port}/api/events`, { headers: { cookie: web.cookieHeader } }, resolve),
      );
      let events = '';
      sse.setEncoding('utf8').on('data', (c: string) => (events += c));
      assert.equal(sse.statusCode, 200);

      const headers = await raw('GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n', { drip: { piece: 'X-Slow: 1\r\n', everyMs: 50 }, waitMs: 3000 });
      assert.equal(headers.status, 408, 'dribbled headers');
      assert.ok(headers.closed && headers.ms < 2000, `closed after ${headers.ms} ms`);

      const body = await raw(
        `POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\npassword=`,
        { drip: { piece: 'a', everyMs: 50 }, waitMs: 3000 },
      );
      assert.equal(body.status, 408, 'dribbled body');
      assert.ok(body.closed && body.ms < 2500, `closed after ${body.ms} ms`);

      const record = await daemon.app.captures.capture('mqtt');
      await until(() => events.includes(record.capture.id), 3000, 'an event on a stream older than the request timeout');
      assert.ok(!sse.destroyed, 'the live stream is still open');
      sse.destroy();
    } finally {
      port = mainPort;
      await fast.stop();
    }
  });
});

describe('hostile: login limiter', () => {
  test('junk login bodies count against the per-client limit: 429 with Retry-After, even for the right password', async () => {
    const dir = tempDir();
    await setPassword(path.join(dir, 'private', 'pass_user'), PASSWORD);
    const small = await startDaemon(instantCamera(await makeJpeg(64, 48)), {
      MONCAM_DATA_DIR: dir,
      MONCAM_BROKER_ENABLED: 'false',
      MONCAM_WEB_LOGIN_ATTEMPTS: '3',
    });
    try {
      const anon = new WebClient(small.web);
      assert.equal((await anon.post('/login', 'password=%ZZ')).status, 400);
      assert.equal((await anon.post('/login', JSON.stringify({ password: 'x' }), { 'content-type': 'application/json' })).status, 415);
      assert.equal((await anon.post('/login', 'password=wrong')).status, 303);
      const limited = await anon.login(PASSWORD);
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.equal(anon.cookieHeader, '');
    } finally {
      await small.stop();
    }
  });
});
