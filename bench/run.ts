// `npm run bench`: moncam's speed and memory targets, each measured against a floor in the same run.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import mqtt from 'mqtt';
import readline from 'node:readline';
import path from 'node:path';

// The daemon's memory settings, as in `npm start` and deploy/moncam.service (see README: memory).
const NODE_FLAGS = ['--max-semi-space-size=2'];
const NODE_ENV_MEM = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
const FIXTURE = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'garden-8mp.jpg');
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const mb = (x: number) => `${(x / 1e6).toFixed(0)} MB`;

function djpegFloor(): number[] {
  const which = spawnSync('djpeg', ['-version']);
  if (which.error) throw new Error('djpeg not found: sudo apt-get install libjpeg-turbo-progs');
  const times: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const t = performance.now();
    execFileSync('djpeg', ['-scale', '1/2', '-outfile', '/dev/null', FIXTURE]);
    if (i > 0) times.push(performance.now() - t);
  }
  return times;
}

interface ChildResult {
  overhead: number[];
  decode: number[];
  rssIdle: number;
  peakRss: number;
  sharpConcurrency: number;
}

function capturePipeline(): ChildResult {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'capture-child.mjs'), FIXTURE, String(RUNS)], {
    encoding: 'utf8',
    env: { ...process.env, ...NODE_ENV_MEM },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

// The bench measures the built daemon code, as `npm start` runs it.
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: path.join(import.meta.dirname, '..'), stdio: 'inherit' });
function mqttLatency(): number[] {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'mqtt-child.mjs'), FIXTURE, '20'], { encoding: 'utf8', env: { ...process.env, ...NODE_ENV_MEM } });
  return (JSON.parse(out.trim().split('\n').pop()!) as { latency: number[] }).latency;
}

interface WebResult {
  pageP50: number;
  stateP50: number;
  thumbRps: number;
}

/** /proc/<pid>/status: total, anonymous (V8 heap, malloc) and file-backed (node's own code, libraries). */
function procMemory(pid: number): { rss: number; anon: number; file: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

interface HistoryResult {
  stills: number;
  files: number;
  storeStartMs: number;
  listDay: number;
  listDayHttp: number;
  startToReady: number;
}

interface IdleResult {
  fresh: { rss: number; anon: number; file: number };
  afterStill: { rss: number; anon: number; file: number };
}

/**
 * The daemon exactly as `npm start` runs it (dist/bin.js run, embedded broker, web page, the fake camera
 * handing over the 8 MP fixture): RSS 3 s after start, and 3 s after one still taken over MQTT.
 */
async function idleDaemon(): Promise<IdleResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-idle-'));
  const port = await freePort();
  const child = spawn(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, '..', 'dist', 'bin.js'), 'run'], {
    env: {
      PATH: process.env.PATH,
      ...NODE_ENV_MEM,
      MONCAM_DATA_DIR: dataDir,
      MONCAM_CAMERA_ID: 'bench',
      MONCAM_CAMERA_BACKEND: 'rpicam',
      MONCAM_CAMERA_WARM: 'false',
      MONCAM_CAMERA_COMMAND: path.join(import.meta.dirname, '..', 'test', 'fixtures', 'fake-rpicam-still.mjs'),
      MONCAM_CAMERA_SETTLE_MS: '0',
      FAKE_CAMERA_JPEG: FIXTURE,
      MONCAM_SCHEDULE_ENABLED: 'false',
      MONCAM_WEB_FRESH_ON_VISIT: 'false',
      MONCAM_WEB_HOST: '127.0.0.1',
      MONCAM_WEB_PORT: String(await freePort()),
      MONCAM_BROKER_HOST: '127.0.0.1',
      MONCAM_BROKER_PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (c) => (log += c));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (!log.includes('"msg":"moncam started"')) {
    if (child.exitCode !== null) throw new Error(`moncam exited: ${log}`);
    await sleep(20);
  }
  await sleep(3000);
  const fresh = procMemory(child.pid!);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
  await client.subscribeAsync('moncam/bench/event');
  const captured = new Promise((resolve) => client.on('message', (_t, p) => JSON.parse(p.toString()).event_type === 'captured' && resolve(undefined)));
  await client.publishAsync('moncam/capture/set', 'PRESS');
  await captured;
  await client.endAsync();
  await sleep(3000);
  const afterStill = procMemory(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  fs.rmSync(dataDir, { recursive: true, force: true });
  return { fresh, afterStill };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

interface CameraResult {
  program: string;
  single: number;
  firstWarm: number;
  warm: number;
}

/** Warm vs single-shot with the fake camera's modelled costs (or a real camera: MONCAM_BENCH_CAMERA). */
function cameraLatency(): CameraResult {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'camera-child.mjs')], { encoding: 'utf8', env: { ...process.env, ...NODE_ENV_MEM } });
  return JSON.parse(out.trim().split('\n').pop()!) as CameraResult;
}

/** 43,800 hourly stills (5 years) on disk: day listing and start-to-ready on that history. */
function history(): HistoryResult {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'history-child.mjs')], { encoding: 'utf8', env: { ...process.env, ...NODE_ENV_MEM } });
  return JSON.parse(out.trim().split('\n').pop()!) as HistoryResult;
}

interface TimelapseCase {
  frames: number;
  ms: number;
  peakRss: number;
  bytes: number;
}

interface TimelapseBench {
  jpegBytes: number;
  /** 24 and 288 stills, each in a fresh process. */
  moncam: [TimelapseCase, TimelapseCase];
  /** sharp's `join: { animated: true }` on the same stills, for comparison. */
  join: [TimelapseCase, TimelapseCase];
}

/** Animated WebP timelapses of 480-px stills: peak RSS must not grow with the frame count. */
function timelapse(): TimelapseBench {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'timelapse-child.mjs')], { encoding: 'utf8', env: { ...process.env, ...NODE_ENV_MEM } });
  return JSON.parse(out.trim().split('\n').pop()!) as TimelapseBench;
}

/** The daemon serves in a child; requests come from this process, as a browser's would. */
async function webNumbers(): Promise<WebResult> {
  const child = spawn(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'web-child.mjs'), FIXTURE], { env: { ...process.env, ...NODE_ENV_MEM }, stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
  const { base, cookie, thumb } = JSON.parse(first) as { base: string; cookie: string; thumb: string };
  const headers = { cookie };
  const timeGets = async (url: string, n: number) => {
    const times: number[] = [];
    for (let i = 0; i < n + 20; i++) {
      const t = performance.now();
      const res = await fetch(base + url, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
      if (i >= 20) times.push(performance.now() - t); // 20 warm-up requests
    }
    return median(times);
  };
  const pageP50 = await timeGets('/', 200);
  const stateP50 = await timeGets('/api/state', 200);
  // wrk (C) as the load generator: autocannon, in JS, saturates before the server does on 2 cores.
  const wrk = spawnSync('wrk', ['-t1', '-c16', '-d5s', '-H', `cookie: ${cookie}`, base + thumb], { encoding: 'utf8' });
  if (wrk.error) throw new Error('wrk not found: sudo apt-get install wrk');
  if (/Non-2xx/.test(wrk.stdout)) throw new Error(`thumbnail: non-2xx answers\n${wrk.stdout}`);
  const thumbRps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? NaN);
  child.stdin!.end();
  await new Promise((r) => child.once('exit', r));
  return { pageP50, stateP50, thumbRps };
}

const floor = median(djpegFloor());
const pipe = capturePipeline();
const overhead = median(pipe.overhead);
const latency = median(mqttLatency());
const web = await webNumbers();
const hist = history();
const cam = cameraLatency();
const idle = await idleDaemon();
const tl = timelapse();
const [tl24, tl288] = tl.moncam;
const [join24, join288] = tl.join;
const rows: Array<[string, string, string, string]> = [
  ['capture overhead per 8 MP still (validate+store+thumb+preview)', ms(overhead), `${(overhead / floor).toFixed(2)}x floor`, '<= 1.3x'],
  ['  floor: djpeg -scale 1/2 (same file, same run)', ms(floor), '1.00x', ''],
  ['  sharp decode alone at 1/2 scale (for reference)', ms(median(pipe.decode)), `${(median(pipe.decode) / floor).toFixed(2)}x floor`, ''],
  ['MQTT command -> preview at a subscriber (median of 20)', ms(latency), `${(latency / overhead).toFixed(2)}x overhead`, '<= 2.5x'],
  ['authenticated page GET / p50 (+ /api/state p50)', `${ms(web.pageP50)} (+${ms(web.stateP50)})`, '', '<= 20 ms'],
  ['latest thumbnail, requests/s (wrk, 16 connections, 5 s)', web.thumbRps.toFixed(0), '', '>= 3000'],
  ['RSS idle: `moncam run` (web + broker + MQTT), 3 s after start', mb(idle.fresh.rss), '', '<= 80 MB'],
  ['  the same 3 s after one 8 MP still', mb(idle.afterStill.rss), '', ''],
  ['  of which anonymous (V8 heap, malloc) / file-backed (node binary, libs)', `${mb(idle.afterStill.anon)} / ${mb(idle.afterStill.file)}`, '', ''],
  ['RSS peak during captures', mb(pipe.peakRss), '', '<= 160 MB'],
  ['RSS of the capture process before its first still', mb(pipe.rssIdle), '', ''],
  ['start to ready (moncam run -> "moncam started"), 5 years on disk', ms(hist.startToReady), '', '<= 1.5 s'],
  [`list one day (store.byHour), ${hist.stills.toLocaleString('en')} stills / ${hist.files.toLocaleString('en')} files`, ms(hist.listDay), '', '<= 10 ms'],
  ['  the same through GET /api/days/:day (HTTP, session)', ms(hist.listDayHttp), '', ''],
  [`still on demand, single-shot (-t 1000 settle), ${cam.program}`, ms(cam.single), '1.00x', ''],
  [`still on demand, warm camera (first still: ${ms(cam.firstWarm)})`, ms(cam.warm), `${(cam.warm / cam.single).toFixed(2)}x single`, 'well under 1 s'],
  [`timelapse of ${tl24.frames} / ${tl288.frames} stills (480 px JPEG -> animated WebP), peak RSS`, `${mb(tl24.peakRss)} / ${mb(tl288.peakRss)}`, `${(tl288.peakRss / tl24.peakRss).toFixed(2)}x`, 'flat (~1x)'],
  ['  sharp join: { animated: true } on the same stills (for reference)', `${mb(join24.peakRss)} / ${mb(join288.peakRss)}`, `${(join288.peakRss / join24.peakRss).toFixed(2)}x`, ''],
  [`  time per frame, output per frame (${(tl.jpegBytes / 1e3).toFixed(0)} KB JPEG in)`, `${ms(tl288.ms / tl288.frames)}, ${(tl288.bytes / tl288.frames / 1e3).toFixed(1)} KB`, `${(tl288.ms / join288.ms).toFixed(2)}x join`, ''],
];
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measure', 'value', 'ratio', 'target'][i]!.length));
const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(`moncam bench — ${new Date().toISOString()} — node ${process.version}, ${RUNS} runs, sharp concurrency ${pipe.sharpConcurrency}`);
console.log(line(['measure', 'value', 'ratio', 'target']));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(line(r));
