// One way to stop a camera program: a signal, a wait, the next signal. rpicam-still can sit in a driver
// call and ignore SIGTERM, and the camera stays locked until it is gone, so SIGKILL always ends the ladder.
import type { ChildProcess } from 'node:child_process';

/** After SIGKILL only the kernel is left: bounded, so a stop always ends. */
const AFTER_KILL_MS = 5000;

/**
 * Sends `steps` in order, `stepMs` apart, until `closed` settles (the process is gone and its pipes read).
 * A signal is sent only while the process has not exited. Resolves true once closed, false if it never was.
 */
export async function signalLadder(
  child: ChildProcess,
  closed: Promise<unknown>,
  steps: readonly NodeJS.Signals[],
  stepMs: number,
  onSignal?: (signal: NodeJS.Signals) => void,
): Promise<boolean> {
  let gone = false;
  void closed.then(() => (gone = true));
  for (const sig of steps) {
    if (gone) return true;
    if (child.exitCode === null && child.signalCode === null) {
      onSignal?.(sig);
      child.kill(sig);
    }
    gone = await settlesWithin(closed, sig === 'SIGKILL' ? AFTER_KILL_MS : stepMs);
  }
  return gone;
}

function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout;
  return Promise.race([p.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
