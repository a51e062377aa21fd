// Structured logs (pino), one line per event. Never passwords, hashes or image bytes.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Belt and braces: these never belong in a log line even if a caller passes them.
      redact: { paths: ['password', '*.password', 'hash', '*.hash', 'preview', '*.preview', 'jpeg', '*.jpeg'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
