// `node --import tsx bench/profile.ts [stills]`: one run of the daemon profile, printed as JSON (for digging).
import { median, profileDaemon } from './daemon-profile.ts';

const r = await profileDaemon({
  stills: Number(process.argv[2] ?? 20),
  idleWaitMs: Number(process.env.IDLE_MS ?? 10_000),
  viaShebang: process.env.SHEBANG === '1',
  ...(process.env.WRAPPER_ENV ? { env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' }, nodeArgs: ['--max-semi-space-size=2'] } : {}),
  ...(process.env.NODE_ARGS ? { nodeArgs: process.env.NODE_ARGS.split(' ') } : {}),
  ...(process.env.PROFILE_ENV ? { env: JSON.parse(process.env.PROFILE_ENV) as Record<string, string> } : {}),
});
const mb = (x: number) => Math.round(x / 1e6);
console.log(
  JSON.stringify({
    idleRss: mb(r.idleRss),
    idleDaemon: mb(r.idleRssDaemon),
    idleParent: mb(r.idleRssParent),
    cpuS: r.cpuSeconds,
    phases: r.phases.map((p) => ({
      label: p.label,
      peakRss: mb(p.peakRss),
      peakDaemon: mb(p.peakRssDaemon),
      medianMs: Math.round(median(p.latency)),
      maxMs: Math.round(Math.max(...p.latency)),
    })),
    pageP50: Number(median(r.pageTimes).toFixed(1)),
    pages: r.pageTimes.length,
    images: r.imageFetches,
    errors: r.pageErrors,
  }),
);
