// Command publish -> preview arrival at a subscriber, through the real daemon (built dist/) and its
// embedded broker. The camera hands over the 8 MP fixture at once, so this is moncam's own latency.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { createApp } from '../dist/app.js';
import { loadConfig } from '../dist/config/load.js';

const [fixture, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 20);
const jpeg = fs.readFileSync(fixture);
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-mqtt-'));
const env = {
  MONCAM_DATA_DIR: dataDir,
  MONCAM_CAMERA_ID: 'bench',
  MONCAM_BROKER_HOST: '127.0.0.1',
  MONCAM_BROKER_PORT: String(port),
  MONCAM_SCHEDULE_ENABLED: 'false',
};
const { config } = loadConfig({ env, cwd: dataDir });
const camera = { backend: 'fixture', description: 'fixture', capture: async () => ({ jpeg }) };
const app = await createApp({ config, logger: pino({ level: 'silent' }), camera });
await app.start();
const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
await sub.subscribeAsync('moncam/bench/image', { qos: 1 });
while (!app.mqtt.connected) await new Promise((r) => setTimeout(r, 10));

let arrived;
sub.on('message', (topic, payload, packet) => {
  if (!packet.retain && arrived) arrived(payload.length);
});
const latency = [];
for (let i = 0; i < runs + 1; i++) {
  const got = new Promise((resolve) => (arrived = resolve));
  const t = performance.now();
  await sub.publishAsync('moncam/capture/set', '', { qos: 1 });
  await got;
  if (i > 0) latency.push(performance.now() - t); // the first run warms up
}
await sub.endAsync();
await app.stop();
fs.rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ latency }) + '\n');
