// The embedded broker's caps (in process, listening on every address) against raw sockets from this
// machine's LAN address, which the broker counts as remote: connections not logged in yet per address,
// the connection cap, loopback exempt from both; and floods of refused or dropped clients log a few lines,
// not one each. The password check is a fake argon2 (the verifier's queue and limiter are the real ones).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { LoginLimiter } from '../../src/auth/limiter.ts';
import { PasswordVerifier } from '../../src/auth/verifier.ts';
import { EmbeddedBroker, MAX_PENDING_PER_ADDRESS, type EmbeddedBrokerDeps } from '../../src/mqtt/broker.ts';
import { memoryLogger, tempDir, until } from '../helpers/setup.ts';
import { closedAt, lanAddress, silentSockets } from '../helpers/tls.ts';

const LAN = lanAddress();
const PASSWORD = 'right-password';
const running = new Set<EmbeddedBroker>();
/** Every client socket, destroyed at the end even when a test fails half-way. */
const opened = new Set<net.Socket>();
after(async () => {
  for (const s of opened) s.destroy();
  for (const b of running) await b.stop();
});

async function silent(n: number, port: number, host: string): Promise<net.Socket[]> {
  const sockets = await silentSockets(n, port, host);
  for (const s of sockets) opened.add(s);
  return sockets;
}

async function startBroker(over: Partial<EmbeddedBrokerDeps> = {}) {
  const passwordFile = path.join(tempDir('moncam-broker-limits-'), 'pass_user');
  fs.writeFileSync(passwordFile, '$fake$hash\n');
  const log = memoryLogger();
  const checks = { n: 0 };
  const broker = new EmbeddedBroker({
    host: '0.0.0.0',
    port: 0,
    username: 'moncam',
    passwordFiles: [passwordFile],
    limiter: new LoginLimiter({ attempts: 10, windowMs: 15 * 60_000 }),
    verifier: new PasswordVerifier({ verify: async (_hash, password) => (checks.n++, password === PASSWORD) }),
    maxPacketSize: 64 * 1024,
    maxConnections: 64,
    isCommandTopic: () => false,
    logger: log.logger,
    ...over,
  });
  await broker.start();
  running.add(broker);
  const lines = (msg: string, reason?: string) =>
    log.lines().filter((l) => l.msg === msg && (reason === undefined || l.reason === reason || String(l.reason).includes(reason)));
  return { broker, log, checks, lines, port: broker.port };
}

/** An MQTT 3.1.1 CONNECT with user name and password. */
function connectPacket(clientId: string, username: string, password: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
  };
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(clientId), str(username), str(password)]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Sends CONNECT on a new socket from `host`; resolves with the CONNACK return code (undefined: closed without one). */
function rawConnect(host: string, port: number, packet: Buffer, keepOpen = false): Promise<{ code: number | undefined; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => socket.write(packet));
    opened.add(socket);
    let done = false;
    socket.on('data', (d) => {
      if (done || d[0] !== 0x20) return;
      done = true;
      if (!keepOpen) socket.destroy();
      resolve({ code: d[3], socket });
    });
    socket.on('error', (err) => (done ? undefined : reject(err)));
    socket.on('close', () => {
      if (!done) resolve({ code: undefined, socket });
      done = true;
    });
  });
}

describe('embedded broker caps', { timeout: 20_000, skip: LAN ? false : 'no non-loopback IPv4 address on this machine to connect from' }, () => {
  test(`${MAX_PENDING_PER_ADDRESS} connections per address before login; the next is dropped at once; loopback is never capped`, async () => {
    const { broker, port, lines } = await startBroker();
    const pending = await silent(MAX_PENDING_PER_ADDRESS, port, LAN!);
    await until(() => broker.connections.pending === MAX_PENDING_PER_ADDRESS, 2000, 'pending connections counted');
    const extra = await silent(1, port, LAN!);
    const t0 = Date.now();
    assert.ok((await closedAt(extra[0]!, t0, 2000)) < 1000, 'the one over the cap is closed at once');
    assert.equal(lines('MQTT connection dropped', 'too_many_pending').length, 1);

    // Loopback: many silent sockets, not counted; moncam's own (anonymous) client still logs in.
    const local = await silent(3 * MAX_PENDING_PER_ADDRESS, port, '127.0.0.1');
    assert.deepEqual(broker.connections, { remote: MAX_PENDING_PER_ADDRESS, pending: MAX_PENDING_PER_ADDRESS });
    const own = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 3000 });
    await own.endAsync();
    assert.ok(
      local.every((s) => !s.destroyed),
      'loopback sockets are still open',
    );

    // A pending one that closes frees its place; a new one from the LAN is accepted (and counted).
    pending[0]!.destroy();
    await until(() => broker.connections.pending === MAX_PENDING_PER_ADDRESS - 1, 2000, 'the slot freed');
    const again = await silent(1, port, LAN!);
    await until(() => broker.connections.pending === MAX_PENDING_PER_ADDRESS, 2000, 'the new one counted');
    assert.equal(again[0]!.destroyed, false);
    for (const s of [...pending, ...local, ...again]) s.destroy();
  });

  test('a login leaves the per-address count: logged-in clients do not hold pending places', async () => {
    const { broker, port } = await startBroker();
    const clients = [];
    for (let i = 0; i < 2 * MAX_PENDING_PER_ADDRESS; i++) {
      const { code, socket } = await rawConnect(LAN!, port, connectPacket(`ha-${i}`, 'moncam', PASSWORD), true);
      assert.equal(code, 0, `client ${i} logged in`);
      clients.push(socket);
    }
    assert.deepEqual(broker.connections, { remote: 2 * MAX_PENDING_PER_ADDRESS, pending: 0 });
    const waiting = await silent(MAX_PENDING_PER_ADDRESS, port, LAN!);
    await until(() => broker.connections.pending === MAX_PENDING_PER_ADDRESS, 2000, 'pending counted');
    for (const s of [...clients, ...waiting]) s.destroy();
    await until(() => broker.connections.remote === 0 && broker.connections.pending === 0, 2000, 'all counts back to 0');
  });

  test('max_connections caps remote connections, logged in or not; loopback clients still connect', async () => {
    const { broker, port, lines } = await startBroker({ maxConnections: 6 });
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push((await rawConnect(LAN!, port, connectPacket(`ha-${i}`, 'moncam', PASSWORD), true)).socket);
    assert.equal(broker.connections.remote, 6);
    const refused = await rawConnect(LAN!, port, connectPacket('ha-7', 'moncam', PASSWORD));
    assert.equal(refused.code, undefined, 'closed without a CONNACK');
    assert.equal(lines('MQTT connection dropped', 'max_connections').length, 1);
    const own = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 3000 });
    await own.endAsync();
    const local = await rawConnect('127.0.0.1', port, connectPacket('local-tool', 'moncam', PASSWORD));
    assert.equal(local.code, 0, 'a loopback client with the password is not capped either');
    for (const s of clients) s.destroy();
  });
});

describe('embedded broker log flooding', { timeout: 20_000, skip: LAN ? false : 'no non-loopback IPv4 address on this machine to connect from' }, () => {
  test('400 wrong-password CONNECTs from one address: refused (10 checked, the rest locked out), at most 20 log lines', async () => {
    const { port, lines, checks, log } = await startBroker();
    const codes = new Map<number | undefined, number>();
    for (let i = 0; i < 400; i++) {
      const { code } = await rawConnect(LAN!, port, connectPacket(`guess-${i}`, 'moncam', `guess-${i}`));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(codes), { 4: 10, 5: 390 }, 'bad credentials for the budget, then not authorized');
    assert.equal(checks.n, 10, 'locked-out CONNECTs ran no password check');
    const refusedLines = lines('MQTT client refused');
    assert.ok(refusedLines.length <= 20, `${refusedLines.length} "MQTT client refused" lines`);
    assert.ok(refusedLines.length >= 1, 'the first refusals are logged');
    // Debug lines (each connection's error) are off at the default level, info.
    const shown = log.lines().filter((l) => (l.level as number) >= 30);
    assert.ok(shown.length <= 22, `${shown.length} lines at info and above in all`);
  });

  test('1,000 connections over the per-address cap: dropped, at most 20 log lines; stop() sums up the rest', async () => {
    const { broker, port, lines, log } = await startBroker();
    const held = await silent(MAX_PENDING_PER_ADDRESS, port, LAN!);
    await until(() => broker.connections.pending === MAX_PENDING_PER_ADDRESS, 2000, 'pending counted');
    for (let batch = 0; batch < 10; batch++) {
      const sockets = await Promise.all(Array.from({ length: 100 }, () => silent(1, port, LAN!).then(([s]) => s!)));
      await Promise.all(sockets.map((s) => closedAt(s, Date.now(), 2000)));
    }
    const dropped = lines('MQTT connection dropped', 'too_many_pending');
    assert.ok(dropped.length <= 20 && dropped.length >= 1, `${dropped.length} "MQTT connection dropped" lines`);
    for (const s of held) s.destroy();
    running.delete(broker);
    await broker.stop();
    const summary = log.lines().filter((l) => /more dropped MQTT connections/.test(String(l.msg)));
    assert.equal(summary.length, 1, 'one summary line');
    assert.equal(summary[0]!.suppressed, 1000 - dropped.length, 'it counts every drop that was not logged');
  });
});
