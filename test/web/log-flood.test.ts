// One client's flood of logins must not flood the log: 5,000 failed logins, then 2,000 refused ones (429),
// each come out as at most 20 lines a minute plus one summary line with the count of the rest.
// createWebApp over the real daemon's store and capture service, on a real socket, logging to memory. The
// password check is a fake (always wrong, instant): argon2's cost is not what is tested here. The summary
// is written when the minute is over: setTimeout and Date are mocked and ticked by 60 s, nothing sleeps (and a
// flood slower than a minute on a loaded machine stays in one window).
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { LoginLimiter } from '../../src/auth/limiter.ts';
import { writePasswordHash } from '../../src/auth/password.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { createWebApp } from '../../src/web/app.ts';
import { EventHub } from '../../src/web/events.ts';
import { FileSessionStore } from '../../src/web/sessions.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, memoryLogger, quietLogger, tempDir } from '../helpers/setup.ts';

const UI_DIR = path.resolve(import.meta.dirname, '..', '..', 'ui');
const FLOOD = 5000;
/** Refused logins cost less than failed ones but each is still a request: fewer keep the file fast. */
const FLOOD_429 = 2000;

let d: Daemon;
let passwordFile: string;
let dataDir: string;
const servers: http.Server[] = [];

before(async () => {
  dataDir = tempDir('moncam-log-flood-');
  passwordFile = path.join(dataDir, 'private', 'pass_user');
  await writePasswordHash(passwordFile, '$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$not-checked-here');
  d = await startDaemon(instantCamera(await makeJpeg(64, 48)), { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_ENABLED: 'false', MONCAM_WEB_ENABLED: 'false' });
});
after(async () => {
  mock.timers.reset();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await d?.stop();
});

/** The page's app with its own limiter, logging to memory; listens on loopback. */
async function page(attempts: number) {
  const log = memoryLogger();
  const { config, store, clock, captures, health, timelapses, timelapseFiles } = d.app;
  const app = createWebApp({
    config: { ...config, web: { ...config.web, password_file: passwordFile } },
    store,
    clock,
    captures,
    health,
    timelapses,
    timelapseFiles,
    events: new EventHub(captures, { maxClients: 10 }),
    limiter: new LoginLimiter({ attempts, windowMs: 15 * 60_000 }),
    verifier: new PasswordVerifier({ verify: async () => false }),
    sessionStore: new FileSessionStore(path.join(dataDir, 'private', `sessions-${attempts}.json`), quietLogger()),
    sessionSecret: 'a-test-secret-of-at-least-32-characters',
    logger: log.logger,
    uiDir: UI_DIR,
  });
  const server = http.createServer(app).listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  /** One login attempt; resolves with the status. */
  const attempt = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const body = `password=guess-${i}`;
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/login',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'sec-fetch-site': 'same-origin' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  /** `n` attempts, 8 at a time; counts of each status. */
  const flood = async (n: number) => {
    const statuses: Record<number, number> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          const s = await attempt(next++);
          statuses[s] = (statuses[s] ?? 0) + 1;
        }
      }),
    );
    agent.destroy();
    return statuses;
  };
  return { log, flood };
}

/** Lines at info and above (what the daemon logs by default), by message. */
function shown(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => (l.level as number) >= 30);
}

describe('web login log flooding', () => {
  test(`${FLOOD} failed logins from one client: at most 20 "login failed" lines, then one summary with the rest`, async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
    try {
      const { log, flood } = await page(100_000);
      assert.deepEqual(await flood(FLOOD), { 303: FLOOD }, 'every one answered as a wrong password');
      const failed = log.lines().filter((l) => l.msg === 'login failed');
      assert.ok(failed.length >= 1 && failed.length <= 20, `${failed.length} "login failed" lines`);
      assert.equal(shown(log.lines()).length, failed.length, 'nothing else was logged');
      mock.timers.tick(60_000); // the minute is over
      const summary = log.lines().filter((l) => /more failed logins/.test(String(l.msg)));
      assert.equal(summary.length, 1);
      assert.equal(summary[0]!.suppressed, FLOOD - failed.length, 'the summary counts every line held back');
      assert.ok(shown(log.lines()).length <= 21, `${shown(log.lines()).length} lines for ${FLOOD} failed logins`);
    } finally {
      mock.timers.reset();
    }
  });

  test(`${FLOOD_429} logins past the limit (429): at most 20 "login rate limit reached" lines, then one summary`, async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
    try {
      const { log, flood } = await page(3);
      assert.deepEqual(await flood(FLOOD_429), { 303: 3, 429: FLOOD_429 - 3 });
      const limited = log.lines().filter((l) => l.msg === 'login rate limit reached');
      assert.ok(limited.length >= 1 && limited.length <= 20, `${limited.length} "login rate limit reached" lines`);
      mock.timers.tick(60_000);
      const summary = log.lines().filter((l) => /more refused logins/.test(String(l.msg)));
      assert.equal(summary.length, 1);
      assert.equal(summary[0]!.suppressed, FLOOD_429 - 3 - limited.length);
      assert.ok(shown(log.lines()).length <= 3 + 21, `${shown(log.lines()).length} lines for ${FLOOD_429} logins`);
    } finally {
      mock.timers.reset();
    }
  });
});
