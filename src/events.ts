// Event fan-out for the services: a listener's bug must not break the service that emits.
import type { Logger } from 'pino';

/** Calls every listener of `event` with `args`; one that throws is logged once and the others still run. */
export function emitSafely(
  emitter: { listeners(event: string): Array<(...a: never[]) => unknown> },
  logger: Logger,
  what: string,
  event: string,
  args: unknown[],
): void {
  for (const listener of emitter.listeners(event)) {
    try {
      (listener as (...a: unknown[]) => unknown)(...args);
    } catch (err) {
      logger.error({ err, event }, `${what} event listener failed`);
    }
  }
}
