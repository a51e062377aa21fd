// `npm run bench:memory [runs]`: the memory budgets over several runs of the real daemon (dist/bin.js started
// through its shebang, as `moncam run` is; no wrapper environment), printed as min / median / max, so a
// figure in the docs is never one lucky run. Each run: idle RSS 10 s after start, then 20 stills of 12 MP and
// 20 of 8 MP through the fake rpicam-still while the page and images are fetched.
// BENCH_CPU_LOAD=n runs n busy loops beside it (a busy board: V8 then hands memory back later).
import { spawn } from 'node:child_process';
import { median, profileDaemon } from './daemon-profile.ts';

const runs = Number(process.argv[2] ?? 5);
const stills = Number(process.env.BENCH_STILLS ?? 20);
const busy = Array.from({ length: Number(process.env.BENCH_CPU_LOAD ?? 0) }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
process.on('exit', () => busy.forEach((b) => b.kill('SIGKILL')));
const idle: number[] = [];
const idleAnon: number[] = [];
const idleFile: number[] = [];
const peak12: number[] = [];
const peak8: number[] = [];
const pageP50: number[] = [];
for (let i = 0; i < runs; i++) {
  const r = await profileDaemon({ stills, viaShebang: true });
  if (r.exit && r.exit.code !== 0 && r.exit.signal !== 'SIGTERM') throw new Error(`run ${i + 1}: the daemon exited (${JSON.stringify(r.exit)}):\n${r.log}`);
  const [p12, p8] = r.phases;
  idle.push(r.idleRss);
  idleAnon.push(r.idleSplit.anon);
  idleFile.push(r.idleSplit.file);
  peak12.push(p12!.peakRss);
  peak8.push(p8!.peakRss);
  pageP50.push(median(r.pageTimes));
  console.error(
    `run ${i + 1}/${runs}: idle ${mb(r.idleRss)} (anon ${mb(r.idleSplit.anon)}, file ${mb(r.idleSplit.file)}; ` +
      `${r.idleSplit.biggest.map((b) => `${b.what} ${mb(b.rss)}`).join(', ')}), 12 MP peak ${mb(p12!.peakRss)}, 8 MP peak ${mb(p8!.peakRss)}`,
  );
}

function mb(x: number): string {
  return `${Math.round(x / 1e6)} MB`;
}
function row(label: string, xs: number[], limit: number | undefined, fmt: (x: number) => string): string {
  const s = [...xs].sort((a, b) => a - b);
  const verdict =
    limit === undefined
      ? ''
      : s.at(-1)! <= limit
        ? 'met in every run'
        : median(s) <= limit
          ? `MISSED in ${s.filter((x) => x > limit).length} of ${s.length} runs`
          : 'MISSED (median)';
  return `${label.padEnd(58)} | ${fmt(s[0]!).padStart(8)} | ${fmt(median(s)).padStart(8)} | ${fmt(s.at(-1)!).padStart(8)} | ${verdict}`;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
busy.forEach((b) => b.kill('SIGKILL'));
const loadNote = busy.length ? `, ${busy.length} busy loops beside it` : '';
console.log(`real daemon via moncam run, ${runs} runs of ${stills} stills per size, page under load${loadNote}`);
console.log(`${'measure'.padEnd(58)} | ${'min'.padStart(8)} | ${'median'.padStart(8)} | ${'max'.padStart(8)} | budget`);
console.log(row('RSS idle 10 s after start (budget 80 MB)', idle, 80e6, mb));
console.log(row('  of it anonymous (V8 heap, malloc, stacks)', idleAnon, undefined, mb));
console.log(row('  of it file pages (node, native modules)', idleFile, undefined, mb));
console.log(row('RSS peak, 12 MP stills + page load (budget 160 MB)', peak12, 160e6, mb));
console.log(row('RSS peak, then 8 MP stills + page load (budget 160 MB)', peak8, 160e6, mb));
console.log(row('page p50 during captures', pageP50, undefined, ms));
