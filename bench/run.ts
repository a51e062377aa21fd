// `npm run bench`: moncam's speed and memory targets, each measured against a floor in the same run.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

// The daemon's memory settings, as in `npm start` and deploy/moncam.service (see README: memory).
const NODE_FLAGS = ['--max-semi-space-size=2'];
const NODE_ENV_MEM = { MALLOC_ARENA_MAX: '2' };
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

const floor = median(djpegFloor());
const pipe = capturePipeline();
const overhead = median(pipe.overhead);
const latency = median(mqttLatency());
const rows: Array<[string, string, string, string]> = [
  ['capture overhead per 8 MP still (validate+store+thumb+preview)', ms(overhead), `${(overhead / floor).toFixed(2)}x floor`, '<= 1.3x'],
  ['  floor: djpeg -scale 1/2 (same file, same run)', ms(floor), '1.00x', ''],
  ['  sharp decode alone at 1/2 scale (for reference)', ms(median(pipe.decode)), `${(median(pipe.decode) / floor).toFixed(2)}x floor`, ''],
  ['MQTT command -> preview at a subscriber (median of 20)', ms(latency), `${(latency / overhead).toFixed(2)}x overhead`, '<= 2.5x'],
  ['RSS peak during captures', mb(pipe.peakRss), '', '<= 160 MB'],
  ['RSS before first capture', mb(pipe.rssIdle), '', ''],
];
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measure', 'value', 'ratio', 'target'][i]!.length));
const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(`moncam bench — ${new Date().toISOString()} — node ${process.version}, ${RUNS} runs, sharp concurrency ${pipe.sharpConcurrency}`);
console.log(line(['measure', 'value', 'ratio', 'target']));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(line(r));
