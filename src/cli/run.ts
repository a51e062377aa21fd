// `moncam run`: the daemon in the foreground until SIGTERM / SIGINT.
import { createApp } from '../app.ts';
import { generateIfUnset, readPasswordHash, storeGenerated } from '../auth/password.ts';
import { startBanner } from './banner.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { releaseMemory, STARTUP_SETTLE_MS, startupSettled } from '../runtime.ts';
import type { CliIo } from './io.ts';

export async function cmdRun(config: Config, io: CliIo): Promise<number> {
  const logger = createLogger(config.log.level);
  const generated = await generateIfUnset(config.web.password_file);
  const app = await createApp({ config, logger, releaseMemory });
  await app.start();
  // Before the banner: whoever reads it (a test, a supervisor) may signal at once, and until a handler is in
  // place SIGTERM kills node outright.
  let signals = 0;
  let forced: (code: number) => void = () => undefined;
  const forcedExit = new Promise<number>((resolve) => (forced = resolve));
  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        logger.info({ signal }, 'stopping');
        resolve();
        return;
      }
      // A second Ctrl-C means "now": the user does not want to wait for the capture in flight.
      logger.warn({ signal }, 'second signal: exiting without a clean stop');
      app.captures.abort();
      forced(130);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const settle = setTimeout(startupSettled, STARTUP_SETTLE_MS).unref(); // V8's start-up memory mode ends
  // Only now: a start that failed (a port in use) stored no password, so the next start shows one.
  const stored = generated ? await storeGenerated(config.web.password_file, generated) : false;
  if (stored) logger.warn({ file: config.web.password_file }, 'generated a web password (printed once on stdout)');
  io.stdout.write(
    startBanner({
      config,
      webPort: app.web?.address.port,
      brokerPort: app.broker?.port,
      mqttPasswordSet: Boolean(await readPasswordHash(config.broker.password_file)),
      generated: stored ? generated!.password : undefined,
    }),
  );
  await stopRequested;
  clearTimeout(settle);
  // systemd and Docker give a daemon about 10 s; a stop that hangs past that is a bug worth an exit code.
  let watchdog: NodeJS.Timeout | undefined;
  const hung = new Promise<number>((resolve) => {
    watchdog = setTimeout(() => {
      logger.error({ ms: STOP_DEADLINE_MS }, 'clean stop took too long; exiting anyway');
      resolve(1);
    }, STOP_DEADLINE_MS);
  });
  const code = await Promise.race([app.stop().then(() => 0), hung, forcedExit]);
  clearTimeout(watchdog);
  return code;
}

/** Upper bound for a clean stop: capture grace (4 s) + the camera's kill grace (2 s) + MQTT goodbye (2 s), with margin. */
const STOP_DEADLINE_MS = 9000;
