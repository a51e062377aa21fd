// Starting and stopping the daemon's parts as one ordered list, so that a part that fails to start
// never leaves the ones before it running (a busy web port must not leave the broker listening).
import type { Logger } from 'pino';

export interface Part {
  /** Named in the log when it fails to stop. */
  readonly name: string;
  start?(): unknown;
  stop?(): unknown;
}

/** A service as a part: its own start()/stop(), under a name; undefined when the service is left out. */
export function named(name: string, service: { start?(): unknown; stop?(): unknown } | undefined): Part | undefined {
  return service && { name, start: () => service.start?.(), stop: () => service.stop?.() };
}

export class Lifecycle {
  private readonly parts: readonly Part[];
  private readonly logger: Logger;
  private started: Part[] = [];

  /** `parts` start in this order and stop in the reverse one. */
  constructor(parts: readonly (Part | undefined | false)[], logger: Logger) {
    this.parts = parts.filter((p): p is Part => Boolean(p));
    this.logger = logger;
  }

  /** Starts every part in order; when one fails, stops those already started (in reverse) and rethrows. */
  async start(): Promise<void> {
    for (const part of this.parts) {
      try {
        await part.start?.();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.started.push(part);
    }
  }

  /**
   * Stops the started parts, last first. A part that fails to stop is logged and the rest still stop:
   * leaving the lock or the broker behind would be worse than one error line.
   */
  async stop(): Promise<void> {
    const started = this.started;
    this.started = [];
    for (const part of started.reverse()) {
      try {
        await part.stop?.();
      } catch (err) {
        this.logger.error({ err, part: part.name }, `stopping ${part.name} failed`);
      }
    }
  }
}
