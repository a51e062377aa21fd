// `node --import tsx bench/tls.ts` (after `npm run build`): what TLS costs on the real daemon
// (`node dist/bin.js run`, synthetic camera, the memory settings of `npm start`): GET /healthz and an
// MQTT login on a new connection each time, plain vs TLS, and the daemon's idle RSS either way.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { setPassword } from '../src/auth/password.ts';
import { issueCertificates } from '../src/cli/cert.ts';

const BIN = path.join(import.meta.dirname, '..', 'dist', 'bin.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const PASSWORD = 'bench-password-1';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

async function start(dataDir: string, tls: { cert: string; key: string } | undefined) {
  const [web, broker, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, ['--max-semi-space-size=2', BIN, 'run'], {
    cwd: dataDir,
    env: {
      PATH: process.env.PATH,
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '131072',
      MONCAM_DATA_DIR: dataDir,
      MONCAM_CAMERA_BACKEND: 'synthetic',
      MONCAM_SCHEDULE_ENABLED: 'false',
      MONCAM_TIMELAPSE_ENABLED: 'false',
      MONCAM_WEB_FRESH_ON_VISIT: 'false',
      MONCAM_WEB_HOST: '127.0.0.1',
      MONCAM_WEB_PORT: String(web),
      MONCAM_BROKER_HOST: '127.0.0.1',
      MONCAM_BROKER_PORT: String(broker),
      MONCAM_BROKER_TLS_PORT: String(tlsPort),
      ...(tls ? { MONCAM_WEB_TLS_CERT: tls.cert, MONCAM_WEB_TLS_KEY: tls.key } : {}),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('"msg":"moncam started"')) resolve();
    });
    child.once('exit', () => reject(new Error(`daemon exited: ${log}`)));
  });
  return { child, web, broker: tls ? tlsPort : broker };
}

function get(url: string, ca?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https') ? https : http;
    mod.get(url, { agent: false, ...(ca ? { ca } : {}) }, (res) => res.resume().on('end', () => resolve())).on('error', reject);
  });
}

async function timed(n: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-tls-'));
const { files } = await issueCertificates({ dir: path.join(dir, 'pki'), hosts: ['localhost'] });
const ca = fs.readFileSync(files.caCert);
const rows: string[] = [];
for (const mode of ['plain', 'tls'] as const) {
  const dataDir = path.join(dir, mode);
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  const d = await start(dataDir, mode === 'tls' ? { cert: files.cert, key: files.key } : undefined);
  await new Promise((r) => setTimeout(r, 5000));
  const idle = rss(d.child.pid!);
  const scheme = mode === 'tls' ? 'https' : 'http';
  const health = await timed(RUNS, () => get(`${scheme}://127.0.0.1:${d.web}/healthz`, mode === 'tls' ? ca : undefined));
  const mqttUrl = `${mode === 'tls' ? 'mqtts' : 'mqtt'}://127.0.0.1:${d.broker}`;
  const connects = await timed(Math.min(RUNS, 100), async () => {
    const c = await mqtt.connectAsync(mqttUrl, { username: 'moncam', password: PASSWORD, reconnectPeriod: 0, ...(mode === 'tls' ? { ca } : {}) });
    await c.endAsync();
  });
  const after = rss(d.child.pid!);
  d.child.kill('SIGTERM');
  await new Promise((r) => d.child.once('exit', r));
  rows.push(
    `${mode}: GET /healthz (new connection) p50 ${median(health).toFixed(2)} ms p95 ${p95(health).toFixed(2)} ms | MQTT connect+CONNACK p50 ${median(connects).toFixed(2)} ms p95 ${p95(connects).toFixed(2)} ms | idle RSS ${(idle / 1e6).toFixed(1)} MB, after the runs ${(after / 1e6).toFixed(1)} MB`,
  );
}
console.log(rows.join('\n'));
fs.rmSync(dir, { recursive: true, force: true });
