// The embedded broker's mqtts listener with real clients (mqtt.js over TLS, raw sockets): it trusts only
// the right CA, and TLS sockets, including those still in the handshake, go through the same caps and
// CONNECT deadline as plain ones. Connections to this machine's LAN address count as remote.
import type { Logger } from 'pino';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { LoginLimiter } from '../../src/auth/limiter.ts';
import { setPassword } from '../../src/auth/password.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { EmbeddedBroker, MAX_PENDING_PER_ADDRESS, type EmbeddedBrokerDeps } from '../../src/mqtt/broker.ts';
import { memoryLogger, tempDir, until } from '../helpers/setup.ts';
import { closedAt, lanAddress, silentSockets, testPki, type Pki } from '../helpers/tls.ts';

const PASSWORD = 'mqtt-secret-99';
const LAN = lanAddress();
const needsLan = LAN ? {} : { skip: 'this machine has no non-loopback IPv4 address to connect from' };

let pki: { good: Pki; wrong: Pki };
let passwordFile: string;
const running = new Set<EmbeddedBroker>();

before(async () => {
  pki = await testPki();
  passwordFile = path.join(tempDir(), 'pass_user');
  await setPassword(passwordFile, PASSWORD);
});
after(async () => {
  for (const b of running) await b.stop();
});

/** The broker's deps for these tests: both listeners on every address, ports chosen by the system. */
function brokerDeps(logger: Logger): EmbeddedBrokerDeps {
  return {
    host: '0.0.0.0',
    port: 0,
    tls: { port: 0, cert: pki.good.cert, key: pki.good.key },
    username: 'moncam',
    passwordFiles: [passwordFile],
    limiter: new LoginLimiter({ attempts: 10, windowMs: 60_000 }),
    verifier: new PasswordVerifier(),
    maxPacketSize: 2 * 1024 * 1024,
    maxConnections: 64,
    isCommandTopic: () => false,
    logger,
  };
}

async function startBroker(over: Partial<EmbeddedBrokerDeps> = {}) {
  const { logger, lines } = memoryLogger();
  const broker = new EmbeddedBroker({
    ...brokerDeps(logger),
    ...over,
  });
  await broker.start();
  running.add(broker);
  const stop = async () => {
    running.delete(broker);
    await broker.stop();
  };
  return { broker, lines, stop, dropped: (reason: string) => lines().filter((l) => l.msg === 'MQTT connection dropped' && l.reason === reason).length };
}

/** Resolves on CONNACK; rejects on an error or on a close before it (a dropped connection). */
function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** A plain MQTT 3.1.1 CONNECT (client id "a", clean session). */
const CONNECT = Buffer.from([0x10, 13, 0, 4, ...Buffer.from('MQTT'), 4, 2, 0, 60, 0, 1, 0x61]);

const login = (ca: Buffer): IClientOptions => ({ ca, username: 'moncam', password: PASSWORD });

describe('mqtts listener', () => {
  test('a client trusting the CA logs in over TLS and exchanges messages with a plain loopback client', async () => {
    const { broker, stop } = await startBroker();
    const secure = await connect(`mqtts://127.0.0.1:${broker.tlsPort}`, login(pki.good.ca));
    const plain = await connect(`mqtt://127.0.0.1:${broker.port}`); // the daemon's own path: anonymous, loopback
    try {
      assert.notEqual(broker.tlsPort, broker.port);
      await secure.subscribeAsync('t/secure');
      const got = new Promise<string>((resolve) => secure.once('message', (_t, p) => resolve(p.toString())));
      await plain.publishAsync('t/secure', 'over TLS');
      assert.equal(await got, 'over TLS');
      // and by host name, as Home Assistant configured with "localhost" would connect
      const byName = await connect(`mqtts://localhost:${broker.tlsPort}`, { ...login(pki.good.ca), servername: 'localhost' });
      await byName.endAsync();
    } finally {
      await secure.endAsync();
      await plain.endAsync();
      await stop();
    }
  });

  test('a client with another CA is refused; a wrong password over TLS is refused too', async () => {
    const { broker, stop } = await startBroker();
    try {
      await assert.rejects(
        connect(`mqtts://127.0.0.1:${broker.tlsPort}`, login(pki.wrong.ca)),
        (e: Error & { code?: string }) => e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      );
      await assert.rejects(
        connect(`mqtts://127.0.0.1:${broker.tlsPort}`, { ca: pki.good.ca, username: 'moncam', password: 'wrong-password' }),
        /Bad username or password/,
      );
    } finally {
      await stop();
    }
  });

  test('plain MQTT sent to the TLS port gets no CONNACK and is dropped', async () => {
    const { broker, stop } = await startBroker();
    try {
      const t0 = Date.now();
      const [s] = await silentSockets(1, broker.tlsPort!, '127.0.0.1');
      let got = Buffer.alloc(0);
      s!.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
      s!.write(CONNECT);
      assert.ok((await closedAt(s!, t0)) < 2000);
      assert.ok(!got.includes(0x20), 'no CONNACK'); // whatever came back is a TLS alert, not MQTT
    } finally {
      await stop();
    }
  });

  test('sockets silent in the handshake are closed at the CONNECT deadline', needsLan, async () => {
    const { broker, stop } = await startBroker({ connectTimeoutMs: 400 });
    try {
      const t0 = Date.now();
      const sockets = await silentSockets(MAX_PENDING_PER_ADDRESS, broker.tlsPort!, LAN!);
      for (const ms of await Promise.all(sockets.map((s) => closedAt(s, t0)))) assert.ok(ms >= 350 && ms < 2500, `closed after ${ms} ms`);
      // Their slots are free again: a real client from the same address gets in.
      const c = await connect(`mqtts://${LAN}:${broker.tlsPort}`, login(pki.good.ca));
      await c.endAsync();
    } finally {
      await stop();
    }
  });
});

describe('mqtts and the broker caps', { ...needsLan }, () => {
  test('TLS sockets still in the handshake count against max_connections, for both listeners', async () => {
    const { broker, stop, dropped } = await startBroker({ maxConnections: 3 });
    const held = await silentSockets(3, broker.tlsPort!, LAN!);
    try {
      // A client's connect can complete before the server has accepted; wait for the server's count.
      await until(() => broker.connections.remote === 3, 2000, 'three accepted TLS sockets');
      assert.equal(broker.connections.pending, 3);
      const t0 = Date.now();
      const [plainExtra, tlsExtra] = [...(await silentSockets(1, broker.port, LAN!)), ...(await silentSockets(1, broker.tlsPort!, LAN!))];
      // Dropped at once, long before the 5 s CONNECT deadline that would close a counted socket.
      assert.ok((await closedAt(plainExtra!, t0)) < 1000);
      assert.ok((await closedAt(tlsExtra!, t0)) < 1000);
      assert.equal(dropped('max_connections'), 2);
      assert.ok(
        held.every((s) => !s.destroyed),
        'the held sockets are still open',
      );
      // Loopback is never refused (the daemon's own client).
      const local = await connect(`mqtt://127.0.0.1:${broker.port}`);
      await local.endAsync();
      // Closing the held ones frees their slots.
      for (const s of held) s.destroy();
      await until(() => broker.connections.remote === 0, 2000, 'the held sockets to be let go');
      await until(
        async () => {
          try {
            const c = await connect(`mqtts://${LAN}:${broker.tlsPort}`, login(pki.good.ca));
            await c.endAsync();
            return true;
          } catch {
            return false;
          }
        },
        5000,
        'a slot after the held sockets closed',
      );
    } finally {
      for (const s of held) s.destroy();
      await stop();
    }
  });

  test('TLS handshakes count as not-logged-in connections per address', async () => {
    const { broker, stop, dropped } = await startBroker();
    const held = await silentSockets(MAX_PENDING_PER_ADDRESS, broker.tlsPort!, LAN!);
    try {
      await until(() => broker.connections.pending === MAX_PENDING_PER_ADDRESS, 2000, 'accepted TLS sockets');
      const t0 = Date.now();
      const [extra] = await silentSockets(1, broker.tlsPort!, LAN!);
      assert.ok((await closedAt(extra!, t0)) < 1000);
      assert.equal(dropped('too_many_pending'), 1);
    } finally {
      for (const s of held) s.destroy();
      await stop();
    }
  });

  test('plain_remote false: plain MQTT only on loopback, the LAN gets mqtts', async () => {
    const { broker, stop } = await startBroker({ plainRemote: false });
    try {
      await assert.rejects(
        new Promise((resolve, reject) => net.connect(broker.port, LAN!).once('connect', resolve).once('error', reject)),
        (e: Error & { code?: string }) => e.code === 'ECONNREFUSED',
      );
      const local = await connect(`mqtt://127.0.0.1:${broker.port}`);
      await local.endAsync();
      const lan = await connect(`mqtts://${LAN}:${broker.tlsPort}`, login(pki.good.ca));
      await lan.endAsync();
    } finally {
      await stop();
    }
  });
});

describe('mqtts start and stop', () => {
  test('stop() closes both listeners and destroys sockets aedes does not know yet (handshakes, before CONNECT)', async () => {
    const { broker, stop } = await startBroker(); // the real 5 s CONNECT deadline
    const [plainPort, tlsPort] = [broker.port, broker.tlsPort!];
    const from = LAN ?? '127.0.0.1';
    const sockets = [...(await silentSockets(3, tlsPort, from)), ...(await silentSockets(1, plainPort, from))];
    // From the LAN address they are counted, which shows they were accepted before stop() runs.
    if (LAN) await until(() => broker.connections.remote === 4, 2000, 'accepted sockets');
    const client = await connect(`mqtts://127.0.0.1:${tlsPort}`, login(pki.good.ca));
    client.on('error', () => undefined);
    const t0 = Date.now();
    await stop();
    assert.ok(Date.now() - t0 < 1500, `stop took ${Date.now() - t0} ms`);
    for (const s of sockets) assert.ok((await closedAt(s, t0, 1000)) < 1500);
    for (const port of [plainPort, tlsPort]) {
      await assert.rejects(
        new Promise((resolve, reject) => net.connect(port, '127.0.0.1').once('connect', resolve).once('error', reject)),
        (e: Error & { code?: string }) => e.code === 'ECONNREFUSED',
      );
    }
    client.end(true);
  });

  test('a TLS port in use fails the start with port_in_use naming broker.tls_port, and frees the plain port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '0.0.0.0', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    const { logger } = memoryLogger();
    const broker = new EmbeddedBroker({ ...brokerDeps(logger), tls: { port: taken, cert: pki.good.cert, key: pki.good.key } });
    try {
      await assert.rejects(
        broker.start(),
        (e: Error & { code?: string }) => e.code === 'port_in_use' && e.message.includes(`port ${taken}`) && e.message.includes('broker.tls_port'),
      );
      // Nothing left listening: the plain listener was closed again.
      assert.equal((broker as unknown as { server?: net.Server }).server, undefined);
    } finally {
      blocker.close();
    }
  });
});
