// The real daemon (`node dist/bin.js run`, i.e. `moncam run`, with no wrapper environment) under a capture
// and page load: idle RSS 10 s after start, then N stills each at 12 MP and 8 MP over MQTT while the
// logged-in page and its images are fetched. Used by `npm run bench` (budget rows) and `npm run bench:pi`
// (the same inside a cgroup). The camera is a shell script that `cat`s a prepared JPEG: it costs next to
// nothing, so what is measured is moncam.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { setPassword } from '../src/auth/password.ts';

const ROOT = path.join(import.meta.dirname, '..');
export const FIXTURE_8MP = path.join(ROOT, 'test', 'fixtures', 'garden-8mp.jpg');
const PASSWORD = 'bench password, not secret';

export interface Phase {
  label: string;
  megapixels: number;
  /** MQTT PRESS -> "captured" event, ms. */
  latency: number[];
  /** VmHWM (peak RSS since start) after this phase, summed over moncam's node processes. */
  peakRss: number;
  /** The same, of the process that runs the daemon alone (the re-run child when there is one). */
  peakRssDaemon: number;
}

export interface ProfileResult {
  pid: number;
  /** RSS 10 s after start, summed over moncam's node processes (a re-run parent included). */
  idleRss: number;
  /** The daemon process alone, and the re-run parent alone (0 when started with the settings: one process). */
  idleRssDaemon: number;
  idleRssParent: number;
  /** Where the daemon's idle RSS is: anonymous memory (heaps, stacks) and file pages (node, libvips, ...). */
  idleSplit: { anon: number; file: number; biggest: Array<{ what: string; rss: number }> };
  /** CPU seconds (user + system) the daemon process used from start to the end of the captures. */
  cpuSeconds: number;
  phases: Phase[];
  pageTimes: number[];
  pageErrors: number;
  imageFetches: number;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  log: string;
}

export interface ProfileOptions {
  stills?: number;
  /** Run before node (a cgroup wrapper), e.g. ['/path/to/enter-cgroup.sh', '/sys/fs/cgroup/memory/x']. */
  prefix?: string[];
  /** Wait after "moncam started" before reading idle RSS. */
  idleWaitMs?: number;
  /** Concurrent page/image fetch loops during captures. */
  loaders?: number;
  /** Extra environment / node flags (to compare with a wrapper's settings); none for `moncam run`. */
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Start dist/bin.js itself (its shebang), as an installed `moncam` is, instead of `node dist/bin.js`. */
  viaShebang?: boolean;
  /** Called with the daemon's pid while it runs (e.g. to sample a cgroup). */
  onSample?: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function vmOf(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
}

/** Anonymous and file-backed RSS of one process, and its biggest mappings (smaps, summed by name). */
function rssSplit(pid: number): ProfileResult['idleSplit'] {
  const byName = new Map<string, number>();
  let anon = 0;
  let total = 0;
  let name = '';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] || '[anon]';
      continue;
    }
    const m = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (!m) continue;
    const bytes = Number(m[2]) * 1024;
    if (m[1] === 'Anonymous') anon += bytes;
    else {
      total += bytes;
      const key = name.startsWith('/') ? path.basename(name) : name;
      byName.set(key, (byName.get(key) ?? 0) + bytes);
    }
  }
  const biggest = [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([what, rss]) => ({ what, rss }));
  return { anon, file: total - anon, biggest };
}

/** pid and its descendants that run node (moncam re-run by itself); the camera program is not counted. */
function nodeTree(pid: number): number[] {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const mine = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node' ? [pid] : [];
  return [
    ...mine,
    ...children.flatMap((c) => {
      try {
        return nodeTree(c);
      } catch {
        return []; // exited meanwhile
      }
    }),
  ];
}

/** RSS (or peak RSS) summed over moncam's node processes: what `moncam run` costs, however it started. */
export function vm(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  return nodeTree(pid).reduce((sum, p) => sum + vmOf(p, key), 0);
}

/** The node process that runs the daemon: the deepest one (the re-run child, or `pid` itself). */
export function daemonPid(pid: number): number {
  return nodeTree(pid).at(-1) ?? pid;
}

/** utime + stime of a process, seconds (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * A 12 MP still (Camera Module 3: 4608x2592) made from the 8 MP photo, and the near-free fake camera:
 * it checks its argv as rpicam-still would be called and `cat`s `still.jpg` (a symlink switched per phase).
 */
export async function prepareCamera(dir: string): Promise<{ script: string; stills: Record<'12mp' | '8mp', string> }> {
  const twelve = path.join(dir, 'still-12mp.jpg');
  await sharp(FIXTURE_8MP).resize(4608, 2592, { fit: 'cover' }).jpeg({ quality: 93 }).toFile(twelve);
  const eight = path.join(dir, 'still-8mp.jpg');
  fs.copyFileSync(FIXTURE_8MP, eight);
  const script = path.join(dir, 'fake-still.sh');
  fs.writeFileSync(
    script,
    `#!/bin/sh
# Near-free stand-in for rpicam-still (bench only): checks how it is called, then cats the prepared JPEG.
case " $* " in *" --list-cameras "*) printf 'Available cameras\\n-----------------\\n0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)\\n'; exit 0;; esac
case " $* " in *" -o - "*) ;; *) echo "ERROR: *** fake-still: expected -o - ***" >&2; exit 255;; esac
case " $* " in *" --encoding jpg "*) ;; *) echo "ERROR: *** fake-still: expected --encoding jpg ***" >&2; exit 255;; esac
exec cat "${dir}/still.jpg"
`,
    { mode: 0o755 },
  );
  return { script, stills: { '12mp': twelve, '8mp': eight } };
}

function useStill(dir: string, file: string): void {
  const link = path.join(dir, 'still.jpg');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(file, link);
}

/** Fetch loops over the logged-in page and the latest still's images; page (GET /) times are kept. */
function pageLoad(base: string, cookie: string, loaders: number) {
  let running = true;
  const pageTimes: number[] = [];
  let errors = 0;
  let images = 0;
  const loop = async (n: number) => {
    const headers = { cookie };
    for (let i = n; running; i++) {
      try {
        const t = performance.now();
        const page = await fetch(base + '/', { headers });
        await page.arrayBuffer();
        if (page.status === 200) pageTimes.push(performance.now() - t);
        else errors++;
        const state = (await (await fetch(base + '/api/state', { headers })).json()) as { latest?: { urls: Record<string, string> } | null };
        const urls = state.latest?.urls;
        if (urls) {
          for (const u of [urls.thumb, urls.preview, i % 4 === 0 ? urls.full : undefined]) {
            if (!u) continue;
            const r = await fetch(base + u, { headers });
            await r.arrayBuffer();
            if (r.status === 200) images++;
            else errors++;
          }
        }
      } catch {
        errors++;
        await sleep(50);
      }
    }
  };
  const done = Promise.all(Array.from({ length: loaders }, (_, n) => loop(n)));
  return {
    stop: async () => {
      running = false;
      await done;
      return { pageTimes, errors, images };
    },
  };
}

export async function profileDaemon(opts: ProfileOptions = {}): Promise<ProfileResult> {
  const stills = opts.stills ?? 20;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-profile-'));
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  const cam = await prepareCamera(dir);
  useStill(dir, cam.stills['12mp']);
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  const brokerPort = await freePort();
  const webPort = await freePort();
  // No MALLOC_*, UV_*, NODE_OPTIONS: `moncam run` typed in a shell.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    MONCAM_DATA_DIR: dataDir,
    MONCAM_CAMERA_ID: 'bench',
    MONCAM_CAMERA_BACKEND: 'rpicam',
    MONCAM_CAMERA_WARM: 'false',
    MONCAM_CAMERA_COMMAND: cam.script,
    MONCAM_CAMERA_SETTLE_MS: '0',
    MONCAM_SCHEDULE_ENABLED: 'false',
    MONCAM_WEB_FRESH_ON_VISIT: 'false',
    MONCAM_WEB_HOST: '127.0.0.1',
    MONCAM_WEB_PORT: String(webPort),
    MONCAM_BROKER_HOST: '127.0.0.1',
    MONCAM_BROKER_PORT: String(brokerPort),
    ...opts.env,
  };
  const bin = path.join(ROOT, 'dist', 'bin.js');
  const argv = [...(opts.prefix ?? []), ...(opts.viaShebang ? [bin] : [process.execPath, ...(opts.nodeArgs ?? []), bin]), 'run'];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c) => (log = (log + c).slice(-20_000)));
  let exit: ProfileResult['exit'];
  child.once('exit', (code, signal) => (exit = { code, signal }));
  const pid = child.pid!;
  const result: ProfileResult = {
    pid,
    idleRss: NaN,
    idleRssDaemon: NaN,
    idleRssParent: NaN,
    idleSplit: { anon: NaN, file: NaN, biggest: [] },
    cpuSeconds: NaN,
    phases: [],
    pageTimes: [],
    pageErrors: 0,
    imageFetches: 0,
    exit: undefined,
    log: '',
  };
  try {
    const t0 = Date.now();
    while (!log.includes('"msg":"moncam started"')) {
      if (exit) throw new Error(`moncam exited (${JSON.stringify(exit)}): ${log}`);
      if (Date.now() - t0 > 60_000) throw new Error(`moncam did not start within 60 s: ${log}`);
      await sleep(20);
    }
    await sleep(opts.idleWaitMs ?? 10_000);
    result.idleRss = vm(pid, 'VmRSS');
    const daemon = daemonPid(pid);
    result.idleRssDaemon = vmOf(daemon, 'VmRSS');
    result.idleRssParent = daemon === pid ? 0 : result.idleRss - result.idleRssDaemon;
    result.idleSplit = rssSplit(daemon);
    if (process.env.BENCH_SMAPS_DUMP) fs.writeFileSync(`${process.env.BENCH_SMAPS_DUMP}.${daemon}`, fs.readFileSync(`/proc/${daemon}/smaps`));
    const base = `http://127.0.0.1:${webPort}`;
    const login = await fetch(base + '/login', {
      method: 'POST',
      redirect: 'manual',
      body: `password=${encodeURIComponent(PASSWORD)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    });
    const cookie = login.headers
      .getSetCookie()
      .map((l) => l.split(';')[0])
      .join('; ');
    if (login.headers.get('location') !== '/' || !cookie) throw new Error(`login failed: HTTP ${login.status}`);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`);
    let onCaptured: ((err?: Error) => void) | undefined;
    client.on('message', (_t, p) => {
      const e = JSON.parse(p.toString()) as { event_type?: string; what?: string; error?: string; message?: string };
      if (e.event_type === 'captured') onCaptured?.();
      else if (e.event_type === 'failed' && e.what === undefined) onCaptured?.(new Error(`capture failed: ${e.error}: ${e.message}`));
    });
    await client.subscribeAsync('moncam/bench/event');
    const load = pageLoad(base, cookie, opts.loaders ?? 3);
    try {
      for (const [label, mp] of [
        ['12mp', 12],
        ['8mp', 8],
      ] as const) {
        useStill(dir, cam.stills[label]);
        const latency: number[] = [];
        for (let i = 0; i < stills; i++) {
          if (exit) throw new Error(`moncam died during ${label} still ${i + 1} (${JSON.stringify(exit)})`);
          const t = performance.now();
          let died = () => {};
          const captured = new Promise<void>((resolve, reject) => {
            onCaptured = (err) => (err ? reject(err) : resolve());
            died = () => reject(new Error(`moncam died during ${label} still ${i + 1}`));
            child.once('exit', died);
            setTimeout(() => reject(new Error(`no "captured" event within 60 s for ${label} still ${i + 1}: ${log.slice(-3000)}`)), 60_000).unref();
          });
          await client.publishAsync('moncam/capture/set', 'PRESS');
          try {
            await captured;
          } finally {
            child.off('exit', died);
          }
          latency.push(performance.now() - t);
          opts.onSample?.();
        }
        result.phases.push({ label, megapixels: mp, latency, peakRss: vm(pid, 'VmHWM'), peakRssDaemon: vmOf(daemonPid(pid), 'VmHWM') });
      }
      result.cpuSeconds = cpuOf(daemonPid(pid));
    } finally {
      const l = await load.stop();
      Object.assign(result, { pageTimes: l.pageTimes, pageErrors: l.errors, imageFetches: l.images });
      await client.endAsync().catch(() => undefined);
    }
  } finally {
    if (!exit) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    result.exit = exit;
    result.log = log;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
