#!/usr/bin/env node
// The `moncam` executable: the only place that exits the process.
import { main } from './cli.ts';

main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`moncam: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
