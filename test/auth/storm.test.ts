// Issue 12 B against the real daemon (`moncam run` child, broker on 0.0.0.0): a LAN stranger's
// wrong-password storm must not cost more argon2 runs than the login budget, nor starve the page or a
// still of a logged-in user; Home Assistant reconnecting with the right password costs one run in all.
// argon2 runs are counted from the daemon's own debug line, one per verification.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { ChildDaemon, PASSWORD } from '../helpers/daemon.ts';
import { WebClient } from '../helpers/web.ts';

const LAN = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const ATTACKERS = 50;
const ATTACK_MS = 20_000;
const BUDGET = 10; // web.login_attempts' default

/** One MQTT CONNECT; resolves with how it ended, never hangs (the broker may close without a CONNACK). */
function tryConnect(url: string, password: string): Promise<'connected' | 'refused' | 'closed'> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { username: 'moncam', password, reconnectPeriod: 0, connectTimeout: 4000, protocolVersion: 4 });
    let outcome: 'connected' | 'refused' | 'closed' | undefined;
    const done = (o: 'connected' | 'refused' | 'closed') => {
      if (outcome) return;
      outcome = o;
      clearTimeout(timer);
      client.end(true, () => resolve(o));
    };
    const timer = setTimeout(() => done('closed'), 5000);
    client.on('connect', () => done('connected'));
    client.on('error', () => done('refused'));
    client.on('close', () => done('closed'));
  });
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<Response>): Promise<number> {
  const t0 = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  return performance.now() - t0;
}

describe('a wrong-password storm from the LAN (real daemon)', { skip: LAN ? false : 'no non-loopback IPv4 address on this machine' }, () => {
  let d: ChildDaemon;
  let web: WebClient;
  let bus: mqtt.MqttClient;
  const argon2Runs = () => d.logs.filter((l) => l.msg === 'argon2 password check').length;

  before(async () => {
    d = await ChildDaemon.start({ env: { MONCAM_BROKER_HOST: '0.0.0.0', MONCAM_LOG_LEVEL: 'debug' } });
    web = new WebClient(d.webUrl);
    assert.equal((await web.login(PASSWORD)).headers.get('location'), '/');
    bus = await mqtt.connectAsync(d.mqttUrl, { username: 'moncam', password: PASSWORD, reconnectPeriod: 0 });
    await bus.subscribeAsync('moncam/childcam/event');
  });
  after(async () => {
    await bus?.endAsync();
    await d?.stop();
  });

  /** PRESS on the command topic; ms until the `captured` event. */
  async function stillMs(): Promise<number> {
    const t0 = performance.now();
    const captured = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no captured event within 30 s')), 30_000);
      const onMessage = (_topic: string, payload: Buffer) => {
        if ((JSON.parse(payload.toString()) as { event_type?: string }).event_type !== 'captured') return;
        clearTimeout(timer);
        bus.off('message', onMessage);
        resolve();
      };
      bus.on('message', onMessage);
    });
    await bus.publishAsync('moncam/childcam/capture/set', 'PRESS');
    await captured;
    return performance.now() - t0;
  }

  test('Home Assistant reconnecting 100 times with the right password costs at most one argon2 run', async () => {
    const runs0 = argon2Runs();
    for (let i = 0; i < 100; i++) assert.equal(await tryConnect(`mqtt://${LAN}:${d.brokerPort}`, PASSWORD), 'connected', `reconnect ${i}`);
    const runs = argon2Runs() - runs0;
    assert.ok(runs <= 1, `${runs} argon2 runs for 100 reconnects`);
  });

  test(`${ATTACKERS} parallel wrong-password clients for ${ATTACK_MS / 1000} s: <= ${BUDGET} argon2 runs; the page and a still stay fast`, async (t) => {
    const quietStill = await stillMs(); // one still on disk, so the day and a full-resolution image exist
    const state = (await (await web.get('/api/state')).json()) as { today: string; latest: { urls: { full: string } } };
    const day = state.today;
    const full = state.latest.urls.full;

    // The same requests before the storm: what "fast" is on this machine under whatever else runs on it.
    const baseDay: number[] = [];
    const baseFull: number[] = [];
    for (let i = 0; i < 10; i++) {
      baseDay.push(await timed(() => web.get(`/api/days/${day}`)));
      baseFull.push(await timed(() => web.get(full)));
      await new Promise((r) => setTimeout(r, 50));
    }
    // 50 ms, or 4x the quiet figure on a machine so loaded that 50 ms is not a fair bar; a starved
    // event loop or thread pool costs seconds, far past either.
    const limit = (base: number[]) => Math.max(50, 4 * p50(base));

    const runs0 = argon2Runs();
    const rss0 = d.rss();
    const outcomes = { connected: 0, refused: 0, closed: 0 };
    const deadline = Date.now() + ATTACK_MS;
    const attackers = Array.from({ length: ATTACKERS }, async (_, i) => {
      while (Date.now() < deadline) {
        outcomes[await tryConnect(`mqtt://${LAN}:${d.brokerPort}`, `guess ${i} ${Math.random()}`)]++;
        await new Promise((r) => setTimeout(r, 100));
      }
    });

    const dayMs: number[] = [];
    const fullMs: number[] = [];
    const stills: number[] = [];
    await new Promise((r) => setTimeout(r, 2000)); // the storm is under way
    while (Date.now() < deadline - 1000) {
      dayMs.push(await timed(() => web.get(`/api/days/${day}`)));
      fullMs.push(await timed(() => web.get(full)));
      if (dayMs.length % 10 === 0 && stills.length < 3) stills.push(await stillMs());
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(attackers);
    const runs = argon2Runs() - runs0;
    const attempts = outcomes.connected + outcomes.refused + outcomes.closed;
    const figures = `${attempts} attempts (${JSON.stringify(outcomes)}), ${runs} argon2 runs; /api/days p50 ${p50(dayMs).toFixed(1)} ms over ${dayMs.length} (before the storm ${p50(baseDay).toFixed(1)}), full-res p50 ${p50(fullMs).toFixed(1)} ms (before ${p50(baseFull).toFixed(1)}), stills ${stills.map((s) => s.toFixed(0)).join('/')} ms`;
    t.diagnostic(`${figures}; daemon RSS ${(rss0 / 1048576).toFixed(0)} -> ${(d.rss() / 1048576).toFixed(0)} MB`);
    assert.equal(outcomes.connected, 0, figures);
    assert.ok(attempts > ATTACKERS * 5, `the storm really ran: ${figures}`);
    assert.ok(runs <= BUDGET, figures);
    assert.ok(p50(dayMs) < limit(baseDay), figures);
    assert.ok(p50(fullMs) < limit(baseFull), figures);
    assert.ok(stills.length >= 2, figures);
    // 2 s, or 3x a still before the storm (each starts the fake camera, slow on a loaded machine).
    for (const s of stills) assert.ok(s < Math.max(2000, 3 * quietStill), `${figures}; a still before the storm ${quietStill.toFixed(0)} ms`);
    // The logged-in user and the daemon's own client were not locked out by the stranger.
    assert.equal((await web.get('/api/state')).status, 200);
    assert.equal(await tryConnect(d.mqttUrl, PASSWORD), 'connected');
  });
});
