// The log limiters one MQTT bridge logs its command handling through: a flood of bad commands must not
// flood the journal (see LogLimiter).
import { limitedLog, type LogLimiter, type Logger } from '../log.ts';

export interface CommandLogs {
  /** Refused commands (warn). */
  refused: LogLimiter;
  /** Accepted capture commands (info). */
  accepted: LogLimiter;
  /** Ignored retained commands (warn). */
  retained: LogLimiter;
  /** Events that could not be published (warn): one per refused command when the broker is stuck. */
  eventFailures: LogLimiter;
}

/** The limiters one MQTT bridge logs its command handling through. */
export function commandLogs(logger: Logger): CommandLogs {
  return {
    refused: limitedLog(logger, 'warn', 'refused MQTT commands'),
    accepted: limitedLog(logger, 'info', 'MQTT capture commands'),
    retained: limitedLog(logger, 'warn', 'ignored retained MQTT commands'),
    eventFailures: limitedLog(logger, 'warn', 'MQTT event publish failures'),
  };
}
