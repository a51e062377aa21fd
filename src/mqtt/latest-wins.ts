// Retained-state publishing, one still at a time, newest wins. While one publish is in flight, a newer
// one replaces any job waiting behind it (its caller gets the newer one's outcome), so a slow or stalled
// broker holds at most one still's messages in flight and one more still in memory, and the retained
// state cannot go back to an older still because two publishes overtook each other.
import { withTimeout } from './client.ts';

/** Longest a job may hold up the next one: publishes settle on their PUBACK, on the close of their
 * connection or at the keepalive timeout; a job that still hangs must not block newer stills forever. */
const JOB_TIMEOUT_MS = 60_000;

interface Waiting {
  job: () => Promise<void>;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class LatestWins {
  private busy = false;
  private next?: Waiting;

  run(job: () => Promise<void>): Promise<void> {
    if (!this.busy) return this.runNow(job);
    if (this.next) {
      this.next.job = job;
      return this.next.done;
    }
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.next = { job, done, resolve, reject };
    return done;
  }

  private async runNow(job: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await withTimeout(job(), JOB_TIMEOUT_MS);
    } finally {
      const next = this.next;
      this.next = undefined;
      this.busy = false;
      if (next) this.runNow(next.job).then(next.resolve, next.reject);
    }
  }
}
