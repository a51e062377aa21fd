// Starts the built daemon (dist/) with the 8 MP fixture as camera, takes one still, logs in, prints
// {base, cookie, thumb} as one JSON line, and serves until stdin closes. The parent measures it from outside.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createApp } from '../dist/app.js';
import { setPassword } from '../dist/auth/password.js';
import { loadConfig } from '../dist/config/load.js';

const [fixture] = process.argv.slice(2);
const jpeg = fs.readFileSync(fixture);
const free = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-web-'));
const env = {
  MONCAM_DATA_DIR: dataDir,
  MONCAM_CAMERA_ID: 'bench',
  MONCAM_WEB_HOST: '127.0.0.1',
  MONCAM_WEB_PORT: String(await free()),
  MONCAM_BROKER_HOST: '127.0.0.1',
  MONCAM_BROKER_PORT: String(await free()),
  MONCAM_SCHEDULE_ENABLED: 'false',
  MONCAM_WEB_FRESH_ON_VISIT: 'false',
  MONCAM_LOG_LEVEL: 'silent',
};
const { config } = loadConfig({ env, cwd: dataDir });
await setPassword(config.web.password_file, 'bench-password');
const app = await createApp({
  config,
  logger: pino({ level: 'silent' }),
  camera: { backend: 'fixture', description: 'fixture', capture: async () => ({ jpeg }) },
});
await app.start();
const record = await app.captures.capture('web');
const base = `http://127.0.0.1:${app.web.address.port}`;
const login = await fetch(`${base}/login`, {
  method: 'POST',
  redirect: 'manual',
  body: 'password=bench-password',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});
const cookie = login.headers
  .getSetCookie()
  .map((c) => c.split(';')[0])
  .join('; ');
process.stdout.write(JSON.stringify({ base, cookie, thumb: `/images/${record.capture.id}/thumb.jpg` }) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await app.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
