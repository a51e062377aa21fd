// A stranger on the LAN against the real daemon (`moncam run` child, embedded broker on 0.0.0.0): huge
// CONNECTs and silent sockets. The attacker
// connects to the machine's own LAN address, so the broker sees a non-loopback peer as on a real network.
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { MAX_PENDING_PER_ADDRESS } from '../../src/mqtt/broker.ts';
import { ChildDaemon, PASSWORD } from '../helpers/daemon.ts';
import { until } from '../helpers/setup.ts';
import { remainingLength } from '../helpers/mqtt-wire.ts';

const LAN = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

function closedWithin(socket: net.Socket, ms: number): Promise<number | undefined> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

function connectRaw(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => resolve(s));
    s.on('error', () => undefined);
    s.once('error', reject);
  });
}

describe('a LAN stranger against the embedded broker (real daemon)', { skip: LAN ? false : 'no non-loopback IPv4 address on this machine' }, () => {
  let d: ChildDaemon;
  before(async () => {
    d = await ChildDaemon.start({ env: { MONCAM_BROKER_HOST: '0.0.0.0', MONCAM_LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    await d?.stop();
  });

  test('4 CONNECTs declaring 250 MB are dropped at their header; RSS grows < 20 MB; logged', async () => {
    const before = d.rss();
    const sockets = await Promise.all(Array.from({ length: 4 }, () => connectRaw(LAN!, d.brokerPort)));
    const closed = sockets.map((s) => closedWithin(s, 3000));
    for (const s of sockets) {
      s.write(Buffer.concat([Buffer.from([0x10]), remainingLength(250_000_000)]));
      // Then trickle a body, as the attacker would.
      for (let i = 0; i < 8 && !s.destroyed; i++) s.write(Buffer.alloc(64 * 1024, 1));
    }
    const ms = await Promise.all(closed);
    assert.ok(
      ms.every((m) => m !== undefined),
      `every oversized connection closed (${ms.join(', ')} ms)`,
    );
    const growth = d.rss() - before;
    assert.ok(growth < 20 * 1024 * 1024, `RSS grew ${(growth / 1048576).toFixed(1)} MB`);
    await until(() => d.logs.some((l) => l.msg === 'MQTT connection dropped' && l.reason === 'packet_too_large'), 3000, 'drop logged');
  });

  test(`a silent socket is closed by the CONNECT deadline; the ${MAX_PENDING_PER_ADDRESS + 1}th pending one from an address at once; loopback still logs in`, async () => {
    const opened = Date.now();
    const silent = await Promise.all(Array.from({ length: MAX_PENDING_PER_ADDRESS }, () => connectRaw(LAN!, d.brokerPort)));
    const extra = await connectRaw(LAN!, d.brokerPort);
    assert.notEqual(await closedWithin(extra, 2000), undefined, 'the connection over the per-address cap is closed at once');
    const local = await mqtt.connectAsync(d.mqttUrl, { username: 'moncam', password: PASSWORD, reconnectPeriod: 0 });
    await local.endAsync();
    // From when they were opened: the login above (argon2) may take a while on a loaded machine.
    const waitFrom = Date.now();
    const ms = (await Promise.all(silent.map((s) => closedWithin(s, 9000)))).map((m) => (m === undefined ? undefined : m + waitFrom - opened));
    assert.ok(
      ms.every((m) => m !== undefined && m > 4000),
      `silent sockets closed by the ~5 s deadline (${ms.join(', ')} ms after they were opened)`,
    );
  });
});
