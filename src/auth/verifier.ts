// argon2 verification for every door (web login, MQTT CONNECT), one at a time. A verification costs
// 64 MiB and one of libuv's 4 threads for a good part of a second; run in parallel, a few wrong-password
// clients would take every thread that file reads and sharp need, and the memory of a Pi.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { verifyPassword } from './password.ts';

/** The queue is full: answered "busy" (503 / MQTT "server unavailable"), not verified. */
export class VerifierBusyError extends Error {
  readonly code = 'busy';
  constructor() {
    super('too many password checks waiting');
    this.name = 'VerifierBusyError';
  }
}

export interface VerifierOptions {
  /** Checks waiting at once (beyond the one running); more are refused. */
  maxQueue?: number;
  /** The argon2 check (tests count or slow it). */
  verify?: (hash: string, password: string) => Promise<boolean>;
  /** Each argon2 run is logged at debug level (how many strangers' guesses actually cost a check). */
  logger?: Logger;
}

export class PasswordVerifier {
  /** argon2 runs so far (for tests and the bench). */
  runs = 0;
  private readonly maxQueue: number;
  private readonly argon2Verify: (hash: string, password: string) => Promise<boolean>;
  private readonly logger?: Logger;
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  /** A keyed digest of the last password each hash accepted: never the password itself. */
  private readonly key = crypto.randomBytes(32);
  private readonly accepted = new Map<string, Buffer>();

  constructor(opts: VerifierOptions = {}) {
    this.maxQueue = opts.maxQueue ?? 16;
    this.argon2Verify = opts.verify ?? verifyPassword;
    this.logger = opts.logger;
  }

  /**
   * Whether `password` matches `hash`. A password this hash accepted before is accepted again without
   * argon2 (Home Assistant reconnects every few seconds while Wi-Fi drops); a new hash (passwd) forgets it.
   */
  async verify(hash: string, password: string): Promise<boolean> {
    const digest = crypto.createHmac('sha256', this.key).update(hash).update('\0').update(password).digest();
    const known = this.accepted.get(hash);
    if (known && crypto.timingSafeEqual(known, digest)) return true;
    if (this.waiting >= this.maxQueue) throw new VerifierBusyError();
    this.waiting++;
    const run = this.tail.then(async () => {
      this.waiting--;
      this.runs++;
      const started = performance.now();
      const ok = await this.argon2Verify(hash, password);
      this.logger?.debug({ runs: this.runs, waiting: this.waiting, ms: Math.round(performance.now() - started), ok }, 'argon2 password check');
      return ok;
    });
    this.tail = run.catch(() => undefined);
    const ok = await run;
    if (ok) {
      this.accepted.delete(hash);
      this.accepted.set(hash, digest);
      // Two doors (web, MQTT) with a hash each; a replaced hash's entry is unreachable and ages out.
      if (this.accepted.size > 4) this.accepted.delete(this.accepted.keys().next().value!);
    }
    return ok;
  }
}
