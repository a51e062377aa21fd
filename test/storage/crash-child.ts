// Child process for crash.test.ts: saves large stills in a loop until the parent SIGKILLs it.
// Usage: node --import tsx crash-child.ts <dir> <run>. Without arguments (e.g. picked up by a test
// runner's file glob) it does nothing.
import { captureId } from '../../src/storage/layout.ts';
import { input, makeStore, recorded } from './helpers.ts';

const [dir, runArg] = process.argv.slice(2);
if (dir && runArg) {
  const run = Number(runArg);
  const store = makeStore(dir);
  await store.start();
  process.stdout.write('ready\n');
  // Each run gets its own instants, so ids never collide across runs; all land on one or two UTC days.
  const base = Date.UTC(2026, 10, 23, 6, 0, 0) + run * 3_600_000;
  for (let i = 0; i < 10_000; i++) {
    const at = new Date(base + i * 1000);
    await store.save(input(at, captureId(at), undefined, recorded({ requests: [{ trigger: 'schedule', requestId: `run ${run} #${i}` }] })));
    if (i === 0) process.stdout.write('saved\n'); // the parent kills only after this: each run commits one
  }
}
