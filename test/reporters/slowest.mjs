// node:test reporter that prints the slowest test files at the end of a run, so a slow file shows up the
// day it lands. Plain JS: node loads reporters before `--import tsx` applies.
// Node 20 reports each file as a nesting-0 test named by its path; its `test:complete` carries the
// file's wall time (child process startup included).
import path from 'node:path';

const TOP = Number(process.env.MONCAM_TEST_SLOWEST ?? 10);

/** @param {AsyncIterable<{type: string, data?: any}>} source */
export default async function* slowest(source) {
  const t0 = Date.now();
  const started = new Map();
  const took = new Map();
  for await (const e of source) {
    const d = e.data;
    if (!d?.file || d.name !== d.file || d.nesting !== 0) continue;
    if (e.type === 'test:dequeue') started.set(d.file, Date.now());
    else if (e.type === 'test:complete') took.set(d.file, d.details?.duration_ms ?? Date.now() - (started.get(d.file) ?? t0));
  }
  const rows = [...took].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  const sum = [...took.values()].reduce((a, b) => a + b, 0);
  let out = `\nslowest ${rows.length} of ${took.size} test files (run ${fmt(Date.now() - t0)}, files summed ${fmt(sum)}):\n`;
  for (const [file, ms] of rows) out += `${fmt(ms).padStart(8)}  ${path.relative(process.cwd(), file)}\n`;
  yield out;
}

/** @param {number} ms */
function fmt(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
