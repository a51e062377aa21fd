// `npm run bench`: moncam's speed and memory targets, each measured against a floor in the same run.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline';
import path from 'node:path';
import sharp from 'sharp';
import { profileDaemon } from './daemon-profile.ts';
import { pageBudgets, pageRows } from './page.ts';
// The daemon's own memory settings (its shebang, the unit and the re-run pass them: docs/memory.md).
import { MALLOC_ENV, NODE_FLAGS } from '../src/runtime.ts';

const FIXTURE = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'garden-8mp.jpg');
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const mb = (x: number) => `${(x / 1e6).toFixed(0)} MB`;

function djpegTimes(file: string): number[] {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const t = performance.now();
    execFileSync('djpeg', ['-scale', '1/2', '-outfile', '/dev/null', file]);
    if (i > 0) times.push(performance.now() - t);
  }
  return times;
}

/** djpeg -scale 1/2 of the still, and of a 16x16 JPEG: the latter is djpeg's process start-up. */
async function djpegFloor(): Promise<{ whole: number; startup: number }> {
  const which = spawnSync('djpeg', ['-version']);
  if (which.error) throw new Error('djpeg not found: sudo apt-get install libjpeg-turbo-progs');
  const tiny = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-bench-')), 'tiny.jpg');
  await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
    .jpeg()
    .toFile(tiny);
  const startup = median(djpegTimes(tiny));
  fs.rmSync(path.dirname(tiny), { recursive: true, force: true });
  return { whole: median(djpegTimes(FIXTURE)), startup };
}

interface ChildResult {
  overhead: number[];
  decode: number[];
  /** derive.ts's steps one after another, median ms each (the pipeline overlaps the write with them). */
  steps: Record<string, number>;
  rssIdle: number;
  peakRss: number;
  sharpConcurrency: number;
}

function capturePipeline(): ChildResult {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'capture-child.mjs'), FIXTURE, String(RUNS)], {
    encoding: 'utf8',
    env: { ...process.env, ...MALLOC_ENV },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

// The bench measures the built daemon code, as `moncam run` (dist/bin.js) runs it.
execFileSync('npm', ['run', 'build'], { cwd: path.join(import.meta.dirname, '..'), stdio: 'inherit' });
function mqttLatency(): number[] {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'mqtt-child.mjs'), FIXTURE, '20'], {
    encoding: 'utf8',
    env: { ...process.env, ...MALLOC_ENV },
  });
  return (JSON.parse(out.trim().split('\n').pop()!) as { latency: number[] }).latency;
}

interface WebResult {
  pageP50: number;
  stateP50: number;
  thumbRps: number;
}

interface HistoryResult {
  stills: number;
  files: number;
  storeStartMs: number;
  listDay: number;
  listDayHttp: number;
  startToReady: number;
}

interface CameraResult {
  program: string;
  single: number;
  firstWarm: number;
  warm: number;
}

/** Warm vs single-shot with the fake camera's modelled costs (or a real camera: MONCAM_BENCH_CAMERA). */
function cameraLatency(): CameraResult {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'camera-child.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, ...MALLOC_ENV },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as CameraResult;
}

/** 43,800 hourly stills (5 years) on disk: day listing and start-to-ready on that history. */
function history(): HistoryResult {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'history-child.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, ...MALLOC_ENV },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as HistoryResult;
}

interface TimelapseCase {
  /** Stills given; frames: those in the output (the GIF leaves some out). */
  stills: number;
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
  /** The GIF for phones (timelapse.gif) of the same stills: 320 px, stills left out to stay under 10 MB. */
  gif: [TimelapseCase, TimelapseCase];
}

/** Animated WebP timelapses of 480-px stills: peak RSS must not grow with the frame count. */
function timelapse(): TimelapseBench {
  const out = execFileSync(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'timelapse-child.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, ...MALLOC_ENV },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as TimelapseBench;
}

/** The daemon serves in a child; requests come from this process, as a browser's would. */
async function webNumbers(): Promise<WebResult> {
  const child = spawn(process.execPath, [...NODE_FLAGS, path.join(import.meta.dirname, 'web-child.mjs'), FIXTURE], {
    env: { ...process.env, ...MALLOC_ENV },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
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

const dj = await djpegFloor();
// In-process decode floor: djpeg's time minus its process start-up (measured on a 16x16 JPEG).
const floor = dj.whole - dj.startup;
const pipe = capturePipeline();
const overhead = median(pipe.overhead);
const latency = median(mqttLatency());
const web = await webNumbers();
const pageB = await pageBudgets();
const hist = history();
const cam = cameraLatency();
// The real daemon as `moncam run` starts it (dist/bin.js through its shebang; no wrapper environment).
const daemon = await profileDaemon({ stills: Number(process.env.BENCH_STILLS ?? 20), viaShebang: true });
const [p12, p8] = daemon.phases as [(typeof daemon.phases)[0], (typeof daemon.phases)[0]];
const REAL = 'real daemon via moncam run';
const verdict = (value: number, limit: number) => (value <= limit ? 'met' : 'MISSED');
const tl = timelapse();
const [tl24, tl288] = tl.moncam;
const [join24, join288] = tl.join;
const [gif24, gif288] = tl.gif;
const rows: Array<[string, string, string, string]> = [
  ['capture overhead per 8 MP still (validate+store+thumb+preview)', ms(overhead), `${(overhead / floor).toFixed(2)}x floor`, '<= 1.3x'],
  ['  floor: djpeg -scale 1/2 minus djpeg start-up (same file, same run)', `${ms(floor)} (${ms(dj.whole)} - ${ms(dj.startup)})`, '1.00x', ''],
  ['  the same against djpeg with its start-up (flattering)', ms(dj.whole), `${(overhead / dj.whole).toFixed(2)}x`, ''],
  [
    '  sharp decode alone at 1/2 scale (in process)',
    ms(median(pipe.decode)),
    `${(median(pipe.decode) / floor).toFixed(2)}x floor; overhead ${(overhead / median(pipe.decode)).toFixed(2)}x it`,
    '',
  ],
  ...Object.entries(pipe.steps).map(([step, t]): [string, string, string, string] => [
    `    step: ${step}`,
    ms(t),
    `${((100 * t) / overhead).toFixed(0)}% of overhead`,
    '',
  ]),
  ['MQTT command -> preview at a subscriber (median of 20)', ms(latency), `${(latency / overhead).toFixed(2)}x overhead`, '<= 2.5x'],
  ['authenticated page GET / p50 (+ /api/state p50)', `${ms(web.pageP50)} (+${ms(web.stateP50)})`, '', '<= 20 ms'],
  ['latest thumbnail, requests/s (wrk, 16 connections, 5 s)', web.thumbRps.toFixed(0), '', '>= 3000'],
  ...pageRows(pageB),
  [`RSS idle 10 s after start (web + broker + MQTT) — ${REAL}`, mb(daemon.idleRss), verdict(daemon.idleRss, 80e6), '<= 80 MB'],
  [`RSS peak, ${p12.latency.length} stills of 12 MP + page load — ${REAL}`, mb(p12.peakRss), verdict(p12.peakRss, 160e6), '<= 160 MB'],
  [`RSS peak, then ${p8.latency.length} stills of 8 MP + page load — ${REAL}`, mb(p8.peakRss), verdict(p8.peakRss, 160e6), '<= 160 MB'],
  [`  still latency (MQTT PRESS -> captured) median 12 MP / 8 MP — ${REAL}`, `${ms(median(p12.latency))} / ${ms(median(p8.latency))}`, '', ''],
  [`  page GET / p50 during those captures — ${REAL}`, ms(median(daemon.pageTimes)), '', ''],
  ['start to ready (moncam run -> "moncam started"), 5 years on disk', ms(hist.startToReady), '', '<= 1.5 s'],
  [`list one day (store.byHour), ${hist.stills.toLocaleString('en')} stills / ${hist.files.toLocaleString('en')} files`, ms(hist.listDay), '', '<= 10 ms'],
  ['  the same through GET /api/days/:day (HTTP, session)', ms(hist.listDayHttp), '', ''],
  [`still on demand, single-shot (-t 1000 settle), ${cam.program}`, ms(cam.single), '1.00x', ''],
  [`still on demand, warm camera (first still: ${ms(cam.firstWarm)})`, ms(cam.warm), `${(cam.warm / cam.single).toFixed(2)}x single`, 'well under 1 s'],
  [
    `timelapse of ${tl24.stills} / ${tl288.stills} stills (480 px JPEG -> animated WebP), peak RSS`,
    `${mb(tl24.peakRss)} / ${mb(tl288.peakRss)}`,
    `${(tl288.peakRss / tl24.peakRss).toFixed(2)}x`,
    'flat (~1x)',
  ],
  [
    '  sharp join: { animated: true } on the same stills (for reference)',
    `${mb(join24.peakRss)} / ${mb(join288.peakRss)}`,
    `${(join288.peakRss / join24.peakRss).toFixed(2)}x`,
    '',
  ],
  [
    `  time per frame, output per frame (${(tl.jpegBytes / 1e3).toFixed(0)} KB JPEG in)`,
    `${ms(tl288.ms / tl288.frames)}, ${(tl288.bytes / tl288.frames / 1e3).toFixed(1)} KB`,
    `${(tl288.ms / join288.ms).toFixed(2)}x join`,
    '',
  ],
  [
    `GIF of the same ${gif24.stills} / ${gif288.stills} stills (320 px, timelapse.gif), peak RSS`,
    `${mb(gif24.peakRss)} / ${mb(gif288.peakRss)}`,
    `${(gif288.peakRss / gif24.peakRss).toFixed(2)}x`,
    'flat (~1x)',
  ],
  [
    `  GIF size, frames kept of ${gif288.stills}, time`,
    `${(gif288.bytes / 1e6).toFixed(2)} MB, ${gif288.frames} frames, ${(gif288.ms / 1000).toFixed(1)} s`,
    verdict(gif288.bytes, 10e6 - 1),
    '< 10 MB',
  ],
];
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measure', 'value', 'ratio', 'target'][i]!.length));
const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(`moncam bench — ${new Date().toISOString()} — node ${process.version}, ${RUNS} runs, sharp concurrency ${pipe.sharpConcurrency}`);
console.log(line(['measure', 'value', 'ratio', 'target']));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(line(r));
