// LoginLimiter with a fake clock: the failure budget per client address, the lock-out and its Retry-After,
// the window's end, and one budget shared by the web login and the embedded broker.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import express from 'express';
import session from 'express-session';
import { clientKey, LoginLimiter } from '../../src/auth/limiter.ts';
import { writePasswordHash } from '../../src/auth/password.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { authenticateClient } from '../../src/mqtt/broker-auth.ts';
import { authRoutes } from '../../src/web/auth.ts';
import { quietLogger, tempDir } from '../helpers/setup.ts';

const WINDOW_MS = 15 * 60_000;

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('LoginLimiter', () => {
  test('the budget: `attempts` failures are allowed, the next is refused with the seconds left in the window', () => {
    const c = clock();
    const limiter = new LoginLimiter({ attempts: 3, windowMs: WINDOW_MS, now: c.now });
    for (let i = 0; i < 3; i++) {
      const r = limiter.reserve('192.168.1.50');
      assert.equal(r.allowed, true, `attempt ${i + 1}`);
      c.t += 1000;
    }
    assert.equal(limiter.lockedOut('192.168.1.50'), true);
    const refused = limiter.reserve('192.168.1.50');
    assert.equal(refused.allowed, false);
    // The window opened at the first attempt, 3 s ago.
    assert.equal(refused.retryAfterS, WINDOW_MS / 1000 - 3);
    c.t += 0.5 * 1000;
    assert.equal(limiter.reserve('192.168.1.50').retryAfterS, Math.ceil(WINDOW_MS / 1000 - 3.5), 'rounded up, never 0 early');
    // Refused attempts do not extend the lock-out.
    for (let i = 0; i < 100; i++) limiter.reserve('192.168.1.50');
    assert.equal(limiter.reserve('192.168.1.50').retryAfterS, Math.ceil(WINDOW_MS / 1000 - 3.5));
  });

  test('the lock-out holds until the window ends, then the full budget is back', () => {
    const c = clock();
    const limiter = new LoginLimiter({ attempts: 2, windowMs: WINDOW_MS, now: c.now });
    limiter.reserve('10.0.0.7');
    limiter.reserve('10.0.0.7');
    c.t += WINDOW_MS - 1;
    const last = limiter.reserve('10.0.0.7');
    assert.equal(last.allowed, false, '1 ms before the end');
    assert.equal(last.retryAfterS, 1, 'Retry-After is at least 1 s');
    c.t += 1;
    assert.equal(limiter.lockedOut('10.0.0.7'), false, 'at the end');
    assert.equal(limiter.reserve('10.0.0.7').allowed, true);
    assert.equal(limiter.reserve('10.0.0.7').allowed, true);
    assert.equal(limiter.reserve('10.0.0.7').allowed, false, 'a new window with the same budget');
  });

  test('addresses are counted apart; a right password gives its attempt back (once)', () => {
    const c = clock();
    const limiter = new LoginLimiter({ attempts: 2, windowMs: WINDOW_MS, now: c.now });
    limiter.reserve('192.168.1.50');
    limiter.reserve('192.168.1.50');
    assert.equal(limiter.reserve('192.168.1.50').allowed, false);
    assert.equal(limiter.reserve('192.168.1.51').allowed, true, 'another address has its own budget');

    const other = new LoginLimiter({ attempts: 4, windowMs: WINDOW_MS, now: c.now });
    other.reserve('192.168.1.52'); // two wrong passwords
    other.reserve('192.168.1.52');
    const ok = other.reserve('192.168.1.52');
    ok.succeeded();
    ok.succeeded(); // twice must not give back two
    assert.equal(other.reserve('192.168.1.52').allowed, true);
    assert.equal(other.reserve('192.168.1.52').allowed, true, 'the successful attempt did not count');
    assert.equal(other.reserve('192.168.1.52').allowed, false, 'but only that one was given back');
  });

  test('parallel attempts cannot slip past the budget while the first are being verified', () => {
    const limiter = new LoginLimiter({ attempts: 5, windowMs: WINDOW_MS, now: clock().now });
    const reserved = Array.from({ length: 50 }, () => limiter.reserve('192.168.1.9'));
    assert.equal(reserved.filter((r) => r.allowed).length, 5);
  });

  test('one key per client: IPv4-mapped IPv6 is the IPv4 address; IPv6 by its /56; no address is one "unknown" client', () => {
    assert.equal(clientKey('::ffff:192.168.1.5'), clientKey('192.168.1.5'));
    assert.equal(clientKey('2001:db8:1:200::1'), clientKey('2001:db8:1:2ff::9'), 'same /56');
    assert.notEqual(clientKey('2001:db8:1:200::1'), clientKey('2001:db8:1:300::1'), 'another /56');
    const limiter = new LoginLimiter({ attempts: 1, windowMs: WINDOW_MS, now: clock().now });
    limiter.reserve('::ffff:192.168.1.5');
    assert.equal(limiter.reserve('192.168.1.5').allowed, false, 'the web (mapped) and MQTT (plain) forms are one client');
    limiter.reserve(undefined);
    assert.equal(limiter.reserve(undefined).allowed, false);
  });

  test('memory is bounded: past maxAddresses the oldest windows are forgotten', () => {
    const c = clock();
    const limiter = new LoginLimiter({ attempts: 1, windowMs: WINDOW_MS, now: c.now, maxAddresses: 100 });
    limiter.reserve('10.1.0.0');
    assert.equal(limiter.lockedOut('10.1.0.0'), true);
    for (let i = 1; i <= 100; i++) limiter.reserve(`10.1.${i >> 8}.${i & 255}`);
    assert.equal(limiter.lockedOut('10.1.0.0'), false, 'the oldest was evicted');
    assert.equal(limiter.lockedOut('10.1.0.100'), true, 'the newest is kept');
  });
});

describe('LoginLimiter shared by the web login and the broker', () => {
  test('MQTT failures use up the web budget and the other way round; a locked-out CONNECT runs no check', async () => {
    const dir = tempDir('moncam-limiter-');
    const passwordFile = path.join(dir, 'pass_user');
    await writePasswordHash(passwordFile, '$fake$right-password');
    let checks = 0;
    const verifier = new PasswordVerifier({
      verify: async (hash, password) => {
        checks++;
        return hash === '$fake$' + password;
      },
    });
    const c = clock();
    const limiter = new LoginLimiter({ attempts: 4, windowMs: WINDOW_MS, now: c.now });
    const mqttDeps = { username: 'moncam', passwordFiles: [passwordFile], limiter, verifier };

    const app = express();
    app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false }));
    app.use(authRoutes({ passwordFile, limiter, verifier, logger: quietLogger() }));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const webLogin = (password: string) =>
      fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        body: `password=${password}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      });
    try {
      // The web client and the MQTT client are the same machine: 127.0.0.1.
      assert.equal((await authenticateClient(mqttDeps, '127.0.0.1', 'moncam', Buffer.from('wrong-1')))?.returnCode, 4);
      assert.equal((await authenticateClient(mqttDeps, '127.0.0.1', 'moncam', Buffer.from('wrong-2')))?.returnCode, 4);
      assert.equal((await webLogin('wrong-3')).headers.get('location'), '/login?error=1');
      assert.equal((await webLogin('wrong-4')).headers.get('location'), '/login?error=1');
      assert.equal(checks, 4);

      const web = await webLogin('right-password');
      assert.equal(web.status, 429, 'the web is locked by 2 MQTT + 2 web failures');
      assert.equal(Number(web.headers.get('retry-after')), WINDOW_MS / 1000);
      const refused = await authenticateClient(mqttDeps, '127.0.0.1', 'moncam', Buffer.from('right-password'));
      assert.equal(refused?.returnCode, 5, 'MQTT: not authorized');
      assert.equal(checks, 4, 'no password check while locked out');

      // Another address is not affected, on either door.
      assert.equal(await authenticateClient(mqttDeps, '192.168.1.77', 'moncam', Buffer.from('right-password')), null);

      c.t += WINDOW_MS;
      assert.equal(await authenticateClient(mqttDeps, '127.0.0.1', 'moncam', Buffer.from('right-password')), null, 'after the window');
      assert.equal((await webLogin('right-password')).headers.get('location'), '/');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
