// web.trust_proxy against the real app (createApp, web page on 0.0.0.0) over real HTTP from this machine's
// LAN address, which the server sees as a LAN client: only a configured proxy may say who the client is
// (X-Forwarded-For, which the login limit counts by, and X-Forwarded-Proto). A LAN client that is not the
// proxy cannot escape the limit by changing X-Forwarded-For; behind the configured proxy each real client
// has its own budget.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import argon2 from 'argon2';
import { writePasswordHash } from '../../src/auth/password.ts';
import { configSchema } from '../../src/config/schema.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, memoryLogger, tempDir } from '../helpers/setup.ts';
import { lanAddress } from '../helpers/tls.ts';

const LAN = lanAddress();
const PASSWORD = 'proxy-test-secret';
const ATTEMPTS = 3;

/** The real app, its page on every address; a cheap argon2 hash (its cost is not what is tested here). */
async function daemon(trustProxy?: string): Promise<{ d: Daemon; lan: string; local: string; ips: () => unknown[] }> {
  const dataDir = tempDir('moncam-trust-proxy-');
  await writePasswordHash(path.join(dataDir, 'private', 'pass_user'), await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 }));
  const log = memoryLogger();
  const env: Record<string, string> = {
    MONCAM_DATA_DIR: dataDir,
    MONCAM_BROKER_ENABLED: 'false',
    MONCAM_WEB_HOST: '0.0.0.0',
    MONCAM_WEB_LOGIN_ATTEMPTS: String(ATTEMPTS),
    MONCAM_WEB_FRESH_ON_VISIT: 'false',
  };
  if (trustProxy !== undefined) env.MONCAM_WEB_TRUST_PROXY = trustProxy;
  const d = await startDaemon(instantCamera(await makeJpeg(64, 48)), env, { logger: log.logger });
  const port = new URL(d.web).port;
  // The address the failed login was counted against, as logged.
  const ips = () =>
    log
      .lines()
      .filter((l) => l.msg === 'login failed')
      .map((l) => l.ip);
  return { d, lan: `http://${LAN}:${port}`, local: `http://127.0.0.1:${port}`, ips };
}

interface Answer {
  status: number;
  location: string | null;
  cookie: string;
}

async function login(base: string, password: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    body: `password=${encodeURIComponent(password)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
  });
  await res.arrayBuffer();
  return { status: res.status, location: res.headers.get('location'), cookie: res.headers.getSetCookie().join('\n') };
}

/** `ATTEMPTS` wrong passwords are answered as such; the next attempts, even with the right password, get 429. */
async function assertLimitedAs(what: string, attempt: (i: number, password: string) => Promise<Answer>): Promise<void> {
  for (let i = 0; i < ATTEMPTS; i++) assert.equal((await attempt(i, 'wrong-password')).location, '/login?error=1', `${what}: wrong password ${i + 1}`);
  const limited = await attempt(ATTEMPTS, 'wrong-password');
  assert.equal(limited.status, 429, `${what}: locked out after ${ATTEMPTS}`);
  assert.equal((await attempt(ATTEMPTS + 1, PASSWORD)).status, 429, `${what}: even the right password waits`);
}

describe('web.trust_proxy: a LAN client is not a proxy', { skip: LAN ? false : 'no non-loopback IPv4 address on this machine to connect from' }, () => {
  for (const [name, setting] of [
    ['off (default)', undefined],
    ['true (loopback only)', 'true'],
    ['another address', '192.0.2.250'],
  ] as const) {
    test(`${name}: a LAN client changing X-Forwarded-For each time is counted by its own address and locked out`, async () => {
      const { d, lan, ips } = await daemon(setting);
      try {
        await assertLimitedAs('LAN client', (i, password) => login(lan, password, { 'x-forwarded-for': `203.0.113.${i + 1}` }));
        assert.deepEqual(ips(), Array(ATTEMPTS).fill(LAN), 'each failure counted against the LAN address');
        // Nor does it get a Secure cookie by saying the request came over TLS.
        const other = await login(`http://127.0.0.1:${new URL(lan).port}`, PASSWORD, { 'x-forwarded-proto': 'https', 'x-forwarded-for': LAN! });
        if (setting === 'true') {
          assert.equal(other.status, 429, 'a loopback proxy is trusted: it says the client is the locked-out LAN address');
        } else {
          assert.equal(other.location, '/', 'loopback is another client');
          assert.doesNotMatch(other.cookie, /;\s*Secure/i, 'X-Forwarded-Proto from a client that is not a proxy is ignored');
        }
      } finally {
        await d.stop();
      }
    });
  }
});

describe('web.trust_proxy: behind the configured proxy', { skip: LAN ? false : 'no non-loopback IPv4 address on this machine to connect from' }, () => {
  test("the proxy's address: each X-Forwarded-For client has its own budget; the proxy itself is not locked out by them", async () => {
    const { d, lan, ips } = await daemon(LAN);
    try {
      await assertLimitedAs('client A via the proxy', (_i, password) => login(lan, password, { 'x-forwarded-for': '203.0.113.10' }));
      await assertLimitedAs('client B via the proxy', (_i, password) => login(lan, password, { 'x-forwarded-for': '203.0.113.11' }));
      assert.deepEqual(ips(), [...Array(ATTEMPTS).fill('203.0.113.10'), ...Array(ATTEMPTS).fill('203.0.113.11')], 'counted by the forwarded address');
      // nginx appends to what the client sent ($proxy_add_x_forwarded_for): the address the proxy saw, the
      // last one, counts, not the one the client made up.
      const spoofed = await login(lan, 'wrong-password', { 'x-forwarded-for': '198.51.100.1, 203.0.113.10' });
      assert.equal(spoofed.status, 429, 'a made-up address in front of the real one changes nothing');
      const c = await login(lan, PASSWORD, { 'x-forwarded-for': '203.0.113.12', 'x-forwarded-proto': 'https' });
      assert.equal(c.location, '/', 'a third client logs in');
      assert.match(c.cookie, /;\s*Secure/i, 'behind a TLS proxy the cookie is Secure');
      assert.equal((await login(lan, PASSWORD)).location, '/', "the proxy's own address (no X-Forwarded-For) was never counted");
    } finally {
      await d.stop();
    }
  });

  test('a list of addresses (YAML list or comma-separated): the LAN proxy is trusted; loopback, not in it, is not', async () => {
    const { d, lan, local, ips } = await daemon(`192.0.2.250, ${LAN}`);
    try {
      await assertLimitedAs('client A via the proxy', (_i, password) => login(lan, password, { 'x-forwarded-for': '203.0.113.20' }));
      assert.equal((await login(lan, PASSWORD, { 'x-forwarded-for': '203.0.113.21' })).location, '/', 'client B is not locked out');
      await assertLimitedAs('loopback, not a listed proxy', (i, password) => login(local, password, { 'x-forwarded-for': `203.0.113.${30 + i}` }));
      assert.deepEqual(ips(), [...Array(ATTEMPTS).fill('203.0.113.20'), ...Array(ATTEMPTS).fill('127.0.0.1')]);
    } finally {
      await d.stop();
    }
  });

  test('true: a proxy on this machine (loopback) is trusted', async () => {
    const { d, local, ips } = await daemon('true');
    try {
      await assertLimitedAs('client A via a local proxy', (_i, password) => login(local, password, { 'x-forwarded-for': '203.0.113.40' }));
      assert.equal((await login(local, PASSWORD, { 'x-forwarded-for': '203.0.113.41' })).location, '/', 'client B is not locked out');
      assert.deepEqual(ips(), Array(ATTEMPTS).fill('203.0.113.40'));
    } finally {
      await d.stop();
    }
  });
});

describe('web.trust_proxy setting', () => {
  const parse = (v: unknown) => configSchema.parse({ web: { trust_proxy: v } }).web.trust_proxy;
  test('false, true (loopback), an address, a subnet, lists', () => {
    assert.equal(parse(undefined), false);
    assert.equal(parse(false), false);
    assert.equal(parse('false'), false);
    assert.deepEqual(parse(true), ['loopback']);
    assert.deepEqual(parse('true'), ['loopback']);
    assert.deepEqual(parse('192.168.1.2'), ['192.168.1.2']);
    assert.deepEqual(parse('192.168.1.2, 10.0.0.0/8 fd00::1'), ['192.168.1.2', '10.0.0.0/8', 'fd00::1']);
    assert.deepEqual(parse(['192.168.1.2', 'fd00::/8']), ['192.168.1.2', 'fd00::/8']);
  });

  test('never "every private address": names and bad entries are refused with what is expected', () => {
    for (const bad of ['uniquelocal', 'linklocal', '*', '192.168.1', '10.0.0.0/33', 'fd00::/129', '1.2.3.4/8/1', [], ['192.168.1.2', 'proxy.lan'], 1]) {
      const r = configSchema.safeParse({ web: { trust_proxy: bad } });
      assert.equal(r.success, false, `${JSON.stringify(bad)} refused`);
      assert.match(r.error!.issues[0]!.message, /expected/, JSON.stringify(bad));
    }
  });
});
