// One budget of failed password attempts per client address, shared by the web login and the embedded
// broker: a LAN client gets `attempts` wrong passwords per window in total, whichever door it knocks on.
import { ipKeyGenerator } from 'express-rate-limit';

export interface LoginLimiterOptions {
  /** Failed attempts allowed per client address and window. */
  attempts: number;
  windowMs: number;
  now?: () => number;
  /** Addresses tracked at once; past it the oldest windows are forgotten (bounded memory). */
  maxAddresses?: number;
}

export interface Reservation {
  /** False: locked out; refuse without checking the password. */
  allowed: boolean;
  /** Seconds until the window ends (for Retry-After). */
  retryAfterS: number;
  /** Call when the password was right: the attempt does not count. */
  succeeded(): void;
}

interface Window {
  count: number;
  resetAt: number;
}

/** The key of a client address: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its /56 like express-rate-limit. */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return ipKeyGenerator(a);
}

export class LoginLimiter {
  readonly attempts: number;
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly maxAddresses: number;
  private readonly windows = new Map<string, Window>();

  constructor(opts: LoginLimiterOptions) {
    this.attempts = opts.attempts;
    this.windowMs = opts.windowMs;
    this.now = opts.now ?? Date.now;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
  }

  /**
   * Counts an attempt before the password is checked, so parallel attempts cannot all slip past the
   * limit while the first ones are still being verified; a right password gives it back.
   */
  reserve(address: string | undefined): Reservation {
    const key = clientKey(address);
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      this.windows.delete(key); // re-inserted last: the Map's order is the eviction order
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
      this.evict();
    }
    const retryAfterS = Math.max(1, Math.ceil((w.resetAt - now) / 1000));
    if (w.count >= this.attempts) return { allowed: false, retryAfterS, succeeded: () => undefined };
    w.count++;
    const counted = w;
    let given = false;
    return {
      allowed: true,
      retryAfterS,
      succeeded: () => {
        if (given) return;
        given = true;
        counted.count = Math.max(0, counted.count - 1);
      },
    };
  }

  /** Whether the address is locked out now (without counting anything). */
  lockedOut(address: string | undefined): boolean {
    const w = this.windows.get(clientKey(address));
    return w !== undefined && w.resetAt > this.now() && w.count >= this.attempts;
  }

  /** The oldest windows go first: evicting a lock-out takes 10 000 other addresses, more than a LAN has. */
  private evict(): void {
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxAddresses) return;
      this.windows.delete(key);
    }
  }
}
