// Five years of hourly stills on disk (43,800 stills, 4 files each), as the filesystem index holds them;
// then: listing one day through the store and through the web API, and the daemon's start-to-ready time
// on that history. Prints one JSON line. Files are tiny: listing reads names and sizes, never contents.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { setPassword } from '../dist/auth/password.js';
import { captureId, fileName } from '../dist/storage/layout.js';
import { CaptureStore } from '../dist/storage/store.js';

const BIN = path.join(import.meta.dirname, '..', 'dist', 'bin.js');
const YEARS = 5;
const TZ = 'UTC'; // one still per UTC hour = 24 per day folder, whatever the machine's zone
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const free = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-history-'));
const dir = path.join(dataDir, 'captures');
const end = Date.UTC(2026, 10, 23);
const start = end - YEARS * 365 * 86_400_000;
let stills = 0;
const t0 = performance.now();
for (let t = start; t < end; t += 3_600_000) {
  const id = captureId(new Date(t));
  const dayDir = path.join(dir, new Date(t).toISOString().slice(0, 10));
  if (new Date(t).getUTCHours() === 0) fs.mkdirSync(dayDir, { recursive: true });
  for (const kind of ['original', 'thumb', 'preview', 'meta']) fs.writeFileSync(path.join(dayDir, fileName(id, kind)), 'x');
  stills++;
}
const generateMs = performance.now() - t0;

// The store as the daemon uses it; the page asks for the day with GET /api/days/:day.
const store = new CaptureStore({ dir, timeZone: TZ, retentionDays: 0, maxBytes: 0, logger: pino({ level: 'silent' }) });
const storeStartT = performance.now();
await store.start();
const storeStartMs = performance.now() - storeStartT;
const day = new Date(start + 900 * 86_400_000).toISOString().slice(0, 10);
const listTimes = [];
for (let i = 0; i < 120; i++) {
  const t = performance.now();
  const list = await store.byHour(day);
  if (i >= 20) listTimes.push(performance.now() - t);
  if (list.flat().length !== 24) throw new Error(`expected 24 stills on ${day}, got ${list.flat().length}`);
}

// The daemon itself, from spawn to ready (web page listening, broker up, latest still known).
await setPassword(path.join(dataDir, 'private', 'pass_user'), 'bench-password');
const env = {
  PATH: process.env.PATH,
  MALLOC_ARENA_MAX: '2',
  MONCAM_DATA_DIR: dataDir,
  MONCAM_CAMERA_ID: 'bench',
  MONCAM_CAMERA_BACKEND: 'synthetic',
  MONCAM_SCHEDULE_ENABLED: 'false',
  MONCAM_SCHEDULE_TIMEZONE: TZ,
  MONCAM_STORAGE_RETENTION_DAYS: '0',
  MONCAM_WEB_FRESH_ON_VISIT: 'false',
  MONCAM_WEB_HOST: '127.0.0.1',
  MONCAM_BROKER_HOST: '127.0.0.1',
};
const readyTimes = [];
let web;
for (let i = 0; i < 5; i++) {
  const webPort = await free();
  const t = performance.now();
  const child = spawn(process.execPath, ['--max-semi-space-size=2', BIN, 'run'], {
    env: { ...env, MONCAM_WEB_PORT: String(webPort), MONCAM_BROKER_PORT: String(await free()) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let rest = '';
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (c) => {
      rest += c;
      if (rest.includes('"msg":"moncam started"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`moncam exited with ${code}: ${rest}`)));
  });
  readyTimes.push(performance.now() - t);
  if (i === 4) {
    // Listing the day over HTTP, as the page does it.
    const base = `http://127.0.0.1:${webPort}`;
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: 'password=bench-password',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    });
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const times = [];
    for (let j = 0; j < 120; j++) {
      const t1 = performance.now();
      const res = await fetch(`${base}/api/days/${day}`, { headers: { cookie } });
      const body = await res.json();
      if (j >= 20) times.push(performance.now() - t1);
      if (body.hours.flatMap((h) => h.captures).length !== 24) throw new Error('the API listed the wrong day');
    }
    web = median(times);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
fs.rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(
  JSON.stringify({ stills, files: stills * 4, generateMs, storeStartMs, listDay: median(listTimes), listDayHttp: web, startToReady: median(readyTimes) }) +
    '\n',
);
