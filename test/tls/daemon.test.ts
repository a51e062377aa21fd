// The real daemon (`moncam run` as a child) with a pair from `moncam cert`: Mosquitto's own client
// (`mosquitto_sub --cafile`) receives a still's state over mqtts, a wrong CA is refused, and the page
// answers over HTTPS with a Secure session cookie.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { ChildDaemon, PASSWORD } from '../helpers/daemon.ts';
import { freePort } from '../helpers/setup.ts';
import { httpsRequest, testPki, type Pki } from '../helpers/tls.ts';

const CAM = 'childcam';

interface SubResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** mosquitto_sub over TLS for one message (a retained one arrives at once), 20 s at most. */
function mosquittoSub(port: number, cafile: string, topic: string, extra: string[] = []): { done: Promise<SubResult> } {
  const child = spawn(
    'mosquitto_sub',
    ['-h', '127.0.0.1', '-p', String(port), '--cafile', cafile, '-u', 'moncam', '-P', PASSWORD, '-t', topic, '-C', '1', '-W', '20', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return { done: new Promise<SubResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

describe('real daemon with TLS on both listeners', () => {
  let daemon: ChildDaemon;
  let pki: { good: Pki; wrong: Pki };
  let tlsPort: number;
  before(async () => {
    pki = await testPki();
    tlsPort = await freePort();
    daemon = await ChildDaemon.start({
      env: { MONCAM_WEB_TLS_CERT: pki.good.certFile, MONCAM_WEB_TLS_KEY: pki.good.keyFile, MONCAM_BROKER_TLS_PORT: String(tlsPort) },
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  test('mosquitto_sub --cafile receives the state of a still taken just before', { timeout: 60_000 }, async () => {
    // A press over plain loopback, as a local tool would send it; the still's state is retained.
    const topic = `moncam/${CAM}/last_capture`;
    const local = await mqtt.connectAsync(daemon.mqttUrl, { reconnectPeriod: 0 });
    const before = Date.now();
    const fresh = new Promise<string>((resolve) => local.on('message', (_t, p) => Date.parse(p.toString()) >= before - 1000 && resolve(p.toString())));
    await local.subscribeAsync(topic);
    await local.publishAsync('moncam/capture/set', 'PRESS');
    const state = await fresh;
    await local.endAsync();
    const r = await mosquittoSub(tlsPort, pki.good.caFile, topic).done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), state);
  });

  test('mosquitto_sub with another CA is refused (certificate verify failed)', { timeout: 30_000 }, async () => {
    const r = await mosquittoSub(tlsPort, pki.wrong.caFile, `moncam/${CAM}/last_capture`, ['-d']).done; // -d: OpenSSL's reason
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /received CONNACK/);
    assert.match(r.stdout + r.stderr, /certificate verify failed/i);
  });

  test('the page answers over HTTPS only, with a Secure session cookie', async () => {
    const base = `https://127.0.0.1:${daemon.webPort}`;
    assert.equal((await httpsRequest(`${base}/healthz`, { ca: pki.good.ca })).status, 200);
    const res = await httpsRequest(`${base}/login`, {
      ca: pki.good.ca,
      method: 'POST',
      body: `password=${encodeURIComponent(PASSWORD)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(res.status, 303);
    assert.match((res.headers['set-cookie'] as string[]).join('\n'), /moncam\.sid=.*; Secure/i);
    await assert.rejects(httpsRequest(`${base}/healthz`, { ca: pki.wrong.ca }), (e: Error & { code?: string }) => e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.ok(daemon.logged(/^web page on https:/), 'the start log says https');
    assert.ok(daemon.logs.some((l) => l.msg === 'embedded MQTT broker listening' && l.tls_port === tlsPort));
  });
});
