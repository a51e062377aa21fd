// Runs moncam again as a child with the allocator settings, when started without them (`node dist/bin.js`
// with no shebang and no unit file). The parent only forwards signals and mirrors the exit status.
import { spawn } from 'node:child_process';
import { reexecNodeArgs } from './runtime.ts';

/** Set in the child: a SIGKILL of this parent cannot be forwarded, so the child watches for it instead. */
export const PARENT_ENV = 'MONCAM_REEXEC_PARENT';

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'] as const;

export function reexec(env: NodeJS.ProcessEnv): void {
  const child = spawn(process.execPath, [...reexecNodeArgs(process.execArgv), process.argv[1]!, ...process.argv.slice(2)], {
    env: { ...env, [PARENT_ENV]: String(process.pid) },
    stdio: 'inherit',
  });
  // Ctrl-C reaches the whole process group anyway; a signal sent to this pid alone (systemd, kill) is passed on.
  for (const sig of FORWARDED) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(`moncam: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so a caller sees what the daemon saw.
      for (const sig of FORWARDED) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

/** In the re-run child: stop cleanly (SIGTERM) when the parent is gone, e.g. after a SIGKILL. */
export function watchParent(env: NodeJS.ProcessEnv): void {
  const parent = Number(env[PARENT_ENV]);
  delete env[PARENT_ENV]; // not passed on to the camera program
  if (!parent) return;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 1000).unref();
}
