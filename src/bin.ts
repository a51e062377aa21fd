#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2 --no-concurrent-recompilation
// The `moncam` executable: the only place that exits the process. The shebang sets the allocator up for
// `moncam` (global install, ./dist/bin.js); `node dist/bin.js` without it re-runs itself once (runtime.ts).
import { applyEarlySettings, reexecEnv } from './runtime.ts';

/** Exits once stdout and stderr have drained: process.exit drops a pipe's pending writes (`capture --out - | cat`). */
function exit(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

const env = reexecEnv(process.env);
if (env) {
  const { reexec } = await import('./reexec.ts');
  reexec(env);
} else {
  // Before cli.ts (and everything it imports) is loaded: see runtime.ts.
  applyEarlySettings(process.env);
  if (process.env.MONCAM_REEXEC_PARENT) (await import('./reexec.ts')).watchParent(process.env);
  const { main } = await import('./cli.ts');
  main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(
    exit,
    (err: unknown) => {
      process.stderr.write(`moncam: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
      exit(1);
    },
  );
}
