// `npm run bench:pi`: a Raspberry Pi Zero 2 W stand-in. The real daemon runs inside a fresh cgroup limited to
// 1/4 of a CPU and 160 MB (what a 512 MB board leaves beside the OS, the camera stack's CMA and rpicam-still),
// takes 20 stills at 12 MP and 20 at 8 MP through a near-free fake camera while the page is fetched, and
// prints OOM kills, the group's peak, still latency and page p50. Root is needed to write the cgroup files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, profileDaemon, type ProfileResult } from './daemon-profile.ts';

const MEMORY = Number(process.env.PI_MEMORY_MB ?? 160) * 1024 * 1024;
const CPU_PERIOD = 100_000;
const CPU_QUOTA = Math.round(CPU_PERIOD * Number(process.env.PI_CPUS ?? 0.25));
const STILLS = Number(process.env.PI_STILLS ?? 20);
const name = `moncam-bench-${process.pid}-${Date.now()}`;

interface Group {
  kind: 'v1' | 'v2';
  procs: string[];
  peak: () => number;
  ooms: () => number;
  remove: () => void;
}

const writable = (p: string) => {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
};
const counter = (file: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(fs.readFileSync(file, 'utf8'))?.[1] ?? NaN);

function makeGroup(): Group {
  const v1mem = '/sys/fs/cgroup/memory';
  const v1cpu = fs.existsSync('/sys/fs/cgroup/cpu,cpuacct') ? '/sys/fs/cgroup/cpu,cpuacct' : '/sys/fs/cgroup/cpu';
  if (fs.existsSync(path.join(v1mem, 'memory.limit_in_bytes')) && writable(v1mem) && writable(v1cpu)) {
    const mem = path.join(v1mem, name);
    const cpu = path.join(v1cpu, name);
    fs.mkdirSync(mem);
    fs.mkdirSync(cpu);
    fs.writeFileSync(path.join(mem, 'memory.limit_in_bytes'), String(MEMORY));
    // No swap either, where swap accounting is on (the limit must be set after limit_in_bytes).
    if (fs.existsSync(path.join(mem, 'memory.memsw.limit_in_bytes'))) fs.writeFileSync(path.join(mem, 'memory.memsw.limit_in_bytes'), String(MEMORY));
    fs.writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD));
    fs.writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(CPU_QUOTA));
    return {
      kind: 'v1',
      procs: [path.join(mem, 'cgroup.procs'), path.join(cpu, 'cgroup.procs')],
      peak: () => Number(fs.readFileSync(path.join(mem, 'memory.max_usage_in_bytes'), 'utf8')),
      ooms: () => counter(path.join(mem, 'memory.oom_control'), 'oom_kill'),
      remove: () => [mem, cpu].forEach((d) => fs.rmdirSync(d)),
    };
  }
  const root = '/sys/fs/cgroup';
  if (fs.existsSync(path.join(root, 'cgroup.controllers')) && writable(root)) {
    const controllers = fs.readFileSync(path.join(root, 'cgroup.controllers'), 'utf8');
    if (!/\bmemory\b/.test(controllers) || !/\bcpu\b/.test(controllers))
      throw new Error(`cgroup v2 at ${root} lacks the memory or cpu controller (${controllers.trim()})`);
    fs.writeFileSync(path.join(root, 'cgroup.subtree_control'), '+memory +cpu');
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'memory.max'), String(MEMORY));
    if (fs.existsSync(path.join(dir, 'memory.swap.max'))) fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    fs.writeFileSync(path.join(dir, 'cpu.max'), `${CPU_QUOTA} ${CPU_PERIOD}`);
    return {
      kind: 'v2',
      procs: [path.join(dir, 'cgroup.procs')],
      // memory.peak exists from Linux 5.19.
      peak: () => (fs.existsSync(path.join(dir, 'memory.peak')) ? Number(fs.readFileSync(path.join(dir, 'memory.peak'), 'utf8')) : NaN),
      ooms: () => counter(path.join(dir, 'memory.events'), 'oom_kill'),
      remove: () => fs.rmdirSync(dir),
    };
  }
  throw new Error(
    'bench:pi needs a writable cgroup: v1 at /sys/fs/cgroup/{memory,cpu} or v2 at /sys/fs/cgroup with the memory and cpu controllers. Run it as root (sudo npm run bench:pi) on a host that exposes them.',
  );
}

let group: Group;
try {
  group = makeGroup();
} catch (err) {
  console.error(`bench:pi: ${(err as Error).message}`);
  process.exit(2);
}
// The wrapper joins the group itself and then execs node, so nothing of moncam ever runs outside it.
const wrapper = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'moncam-pi-')), 'enter-cgroup.sh');
fs.writeFileSync(
  wrapper,
  '#!/bin/sh\n# usage: enter-cgroup.sh PROCS_FILE... -- COMMAND...\nwhile [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done\nshift\nexec "$@"\n',
  { mode: 0o755 },
);

let result: ProfileResult | undefined;
let failure: Error | undefined;
try {
  result = await profileDaemon({ stills: STILLS, prefix: [wrapper, ...group.procs, '--'], viaShebang: process.env.PI_VIA_NODE !== '1' });
} catch (err) {
  failure = err as Error;
}
const ooms = group.ooms();
const peak = group.peak();
await new Promise((r) => setTimeout(r, 200));
try {
  group.remove();
} catch (err) {
  console.error(`bench:pi: could not remove the cgroup ${name}: ${(err as Error).message}`);
}
fs.rmSync(path.dirname(wrapper), { recursive: true, force: true });

const mb = (x: number) => `${(x / 1024 / 1024).toFixed(0)} MiB`;
const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(
  `moncam bench:pi — ${new Date().toISOString()} — node ${process.version}, cgroup ${group.kind}, ${MEMORY / 1024 / 1024} MiB, ${CPU_QUOTA / CPU_PERIOD} CPU, ${STILLS} stills per size`,
);
console.log(
  `started as: ${process.env.PI_VIA_NODE === '1' ? 'node dist/bin.js run' : 'dist/bin.js run (moncam run: its shebang)'} — a stand-in for a Pi Zero 2 W, not a Pi`,
);
console.log(`OOM kills in the group: ${ooms} (target 0)`);
console.log(`cgroup peak (memory.${group.kind === 'v1' ? 'max_usage_in_bytes' : 'peak'}, page cache included): ${mb(peak)}`);
if (result) {
  console.log(`idle RSS 10 s after start: ${mb(result.idleRss)}`);
  for (const p of result.phases)
    console.log(
      `${p.label}: still-to-image (MQTT PRESS -> captured) median ${ms(median(p.latency))}, max ${ms(Math.max(...p.latency))}; daemon peak RSS so far ${mb(p.peakRss)}`,
    );
  console.log(
    `page GET / under load: p50 ${median(result.pageTimes).toFixed(1)} ms over ${result.pageTimes.length} requests; ${result.imageFetches} image fetches, ${result.pageErrors} errors`,
  );
}
if (failure) console.log(`FAILED: ${failure.message.slice(0, 600)}`);
process.exitCode = failure || ooms !== 0 ? 1 : 0;
