// Live-update streams (/api/events) belong to their session: they end at logout and when the session
// expires, and one session holds at most MAX_STREAMS_PER_SESSION of them. The web app is createWebApp over
// the real daemon's store and capture service, served on a real socket, with its own EventHub. Its
// keep-alive (and session check) interval runs on a mocked setInterval the test ticks by 25 s; expiry is
// made by ageing the stored session's timestamps, as time would, not by waiting.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import argon2 from 'argon2';
import { LoginLimiter } from '../../src/auth/limiter.ts';
import { writePasswordHash } from '../../src/auth/password.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { createWebApp } from '../../src/web/app.ts';
import { EventHub, MAX_STREAMS_PER_SESSION } from '../../src/web/events.ts';
import { FileSessionStore } from '../../src/web/sessions.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, quietLogger, tempDir, until } from '../helpers/setup.ts';
import { WebClient } from '../helpers/web.ts';

const PASSWORD = 'stream-test-secret';
const UI_DIR = path.resolve(import.meta.dirname, '..', '..', 'ui');
const DAY_MS = 86_400_000;
/** EventHub's default keep-alive period. */
const KEEP_ALIVE_MS = 25_000;

let d: Daemon;
let hub: EventHub;
let sessions: FileSessionStore;
let server: http.Server;
let base: string;

before(async () => {
  const dataDir = tempDir('moncam-event-sessions-');
  const passwordFile = path.join(dataDir, 'private', 'pass_user');
  await writePasswordHash(passwordFile, await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 }));
  d = await startDaemon(instantCamera(await makeJpeg(64, 48)), {
    MONCAM_DATA_DIR: dataDir,
    MONCAM_BROKER_ENABLED: 'false',
    MONCAM_WEB_ENABLED: 'false',
    MONCAM_WEB_MAX_EVENT_CLIENTS: '50',
  });
  const { config, store, clock, captures, health, timelapses, timelapseFiles } = d.app;
  // Only the hub uses setInterval (its keep-alive); timeouts and sockets stay real.
  mock.timers.enable({ apis: ['setInterval'] });
  hub = new EventHub(captures, { maxClients: config.web.max_event_clients, timelapses });
  hub.start();
  sessions = new FileSessionStore(path.join(dataDir, 'private', 'sessions.json'), quietLogger());
  const app = createWebApp({
    config: { ...config, web: { ...config.web, password_file: passwordFile } },
    store,
    clock,
    captures,
    health,
    timelapses,
    timelapseFiles,
    events: hub,
    limiter: new LoginLimiter({ attempts: 100, windowMs: 60_000 }),
    verifier: new PasswordVerifier(),
    sessionStore: sessions,
    sessionSecret: 'a-test-secret-of-at-least-32-characters',
    logger: quietLogger(),
    uiDir: UI_DIR,
  });
  server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

after(async () => {
  hub?.stop();
  mock.timers.reset();
  server?.closeAllConnections();
  server?.close();
  await d?.stop();
});

interface Stream {
  status: number;
  body: () => string;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  isEnded: () => boolean;
  close: () => void;
}

const streams: Stream[] = [];
after(() => streams.forEach((s) => s.close()));

function openStream(cookie: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/events`, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      let body = '';
      let done = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      const ended = new Promise<void>((r) => res.once('end', () => ((done = true), r())));
      res.on('error', () => undefined);
      const s: Stream = { status: res.statusCode ?? 0, body: () => body, ended, isEnded: () => done, close: () => req.destroy() };
      streams.push(s);
      resolve(s);
    });
    req.on('error', reject);
  });
}

async function loggedIn(): Promise<WebClient> {
  const web = new WebClient(base);
  assert.equal((await web.login(PASSWORD)).headers.get('location'), '/');
  return web;
}

/** The session id in the client's signed cookie (s:<id>.<signature>). */
function sessionId(web: WebClient): string {
  const raw = decodeURIComponent(/moncam\.sid=([^;]+)/.exec(web.cookieHeader)![1]!);
  return raw.slice(2, raw.lastIndexOf('.'));
}

/** Rewrites the stored session, as the passing of time would have left it. */
function age(web: WebClient, change: (s: Record<string, any>) => void): Promise<void> {
  const sid = sessionId(web);
  return new Promise((resolve, reject) =>
    sessions.get(sid, (err, s) => {
      if (err || !s) return reject(err ?? new Error('no such session'));
      change(s as Record<string, any>);
      sessions.set(sid, s, () => resolve());
    }),
  );
}

/** A still taken now reaches `s` (as a `captured` event with its id). */
async function receives(s: Stream): Promise<void> {
  const record = await d.app.captures.capture('web');
  await until(() => s.body().includes(record.capture.id), 3000, 'the captured event');
}

/** One keep-alive period (25 s) passes: the hub writes its comment and checks the streams' sessions. */
async function keepAlive(): Promise<void> {
  mock.timers.tick(KEEP_ALIVE_MS);
  await new Promise((r) => setTimeout(r, 50)); // the session checks are asynchronous
}

async function ended(s: Stream, what: string): Promise<void> {
  await Promise.race([s.ended, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: the stream did not end`)), 2000))]);
}

describe('/api/events ends with its session', () => {
  test("logout ends the session's streams at once; another session's stream keeps its events; the old cookie cannot reopen one", async () => {
    const a = await loggedIn();
    const b = await loggedIn();
    const a1 = await openStream(a.cookieHeader);
    const a2 = await openStream(a.cookieHeader);
    const b1 = await openStream(b.cookieHeader);
    assert.deepEqual([a1.status, a2.status, b1.status], [200, 200, 200]);
    await receives(a1);
    const cookie = a.cookieHeader;
    assert.equal((await a.post('/logout', '')).headers.get('location'), '/login');
    await ended(a1, 'logout'); // no keep-alive has passed: ended by the logout itself
    await ended(a2, 'logout');
    assert.equal(b1.isEnded(), false);
    await receives(b1);
    assert.equal((await openStream(cookie)).status, 401, 'the logged-out cookie opens nothing');
    b1.close();
  });

  for (const [name, change] of [
    ['idle too long (session_idle_hours)', (s: Record<string, any>) => (s.lastSeen = Date.now() - 8 * DAY_MS)],
    ['logged in too long ago (session_max_days)', (s: Record<string, any>) => ((s.loginAt = Date.now() - 31 * DAY_MS), (s.lastSeen = Date.now()))],
    ['its cookie expired (the store drops it)', (s: Record<string, any>) => (s.cookie.expires = new Date(Date.now() - 1000).toISOString())],
  ] as const) {
    test(`expiry, ${name}: the stream ends at the next keep-alive (25 s); a live session's stream goes on`, async () => {
      const a = await loggedIn();
      const b = await loggedIn();
      const a1 = await openStream(a.cookieHeader);
      const b1 = await openStream(b.cookieHeader);
      await receives(a1);
      await keepAlive();
      assert.equal(a1.isEnded(), false, 'a live session is left alone');
      await until(() => /\n:\n\n/.test(a1.body()), 3000, 'the keep-alive comment');
      await age(a, change);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(a1.isEnded(), false, 'not before the next keep-alive');
      await keepAlive();
      await ended(a1, name);
      assert.equal(b1.isEnded(), false);
      await receives(b1);
      assert.equal((await openStream(a.cookieHeader)).status, 401, 'the expired session opens nothing');
      b1.close();
    });
  }
});

describe('/api/events streams per session', () => {
  test(`${MAX_STREAMS_PER_SESSION} streams per session: the next is 429 too_many_streams; the others keep working; another session is not affected; closing one frees its slot`, async () => {
    const a = await loggedIn();
    const open = [];
    for (let i = 0; i < MAX_STREAMS_PER_SESSION; i++) open.push(await openStream(a.cookieHeader));
    assert.deepEqual(
      open.map((s) => s.status),
      Array(MAX_STREAMS_PER_SESSION).fill(200),
    );
    const sizeBefore = hub.size;
    for (let i = 0; i < 5; i++) {
      const extra = await openStream(a.cookieHeader);
      assert.equal(extra.status, 429);
      await extra.ended;
      const body = JSON.parse(extra.body()) as { error: string };
      assert.equal(body.error, 'too_many_streams');
    }
    assert.equal(hub.size, sizeBefore, 'refused streams hold no slot');
    const b = await loggedIn();
    const other = await openStream(b.cookieHeader);
    assert.equal(other.status, 200, 'another session still gets a stream');
    const record = await d.app.captures.capture('web');
    for (const s of [...open, other]) await until(() => s.body().includes(record.capture.id), 3000, 'the event on every open stream');

    open[0]!.close();
    await until(() => hub.size === sizeBefore, 2000, 'the closed stream to leave the hub');
    const again = await openStream(a.cookieHeader);
    assert.equal(again.status, 200, 'a closed stream frees its slot');
    assert.equal((await openStream(a.cookieHeader)).status, 429, 'and only that one');
    for (const s of [...open, other, again]) s.close();
  });
});
