#!/usr/bin/env node
// The `moncam` executable: the only place that exits the process.
import { main } from './cli.ts';

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

main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(exit, (err: unknown) => {
  process.stderr.write(`moncam: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  exit(1);
});
