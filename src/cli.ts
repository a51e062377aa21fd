// `moncam` command line: parses arguments, runs one command, returns its exit code.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { createApp } from './app.ts';
import { ensurePassword, setPassword, validatePassword } from './auth/password.ts';
import { CaptureFailedError } from './capture/service.ts';
import { originalOf } from './capture/original.ts';
import { stillRequest } from './capture/request.ts';
import { readFirstLine, readHidden, type TtyInput } from './cli/prompt.ts';
import { serviceInstall } from './cli/service.ts';
import { ConfigError, loadConfig, redactConfig } from './config/load.ts';
import { configReference } from './config/reference.ts';
import type { Config } from './config/schema.ts';
import { createLogger } from './log.ts';
import { brokerUrl, clientOptions } from './mqtt/connection.ts';
import { removeFromBroker } from './mqtt/remove.ts';
import { mqttTopics } from './mqtt/topics.ts';
import { version } from './version.ts';
import { probeCamera } from './camera/auto.ts';

const HELP = `moncam — Raspberry Pi camera daemon for Home Assistant

Usage:
  moncam [run]                 start the daemon (schedule, storage; MQTT and web as configured)
  moncam capture [--out FILE]  take one still now; store it (default) or write the original to FILE (- for stdout)
  moncam config                print the effective configuration (secrets redacted)
  moncam config --reference    print every setting with its environment variable and default (Markdown)
  moncam passwd [--mqtt]       set the web password (hidden prompt on a terminal, else one line from stdin);
                               --mqtt: a separate password for MQTT clients (Home Assistant), user moncam
  moncam mqtt remove           remove this camera from Home Assistant (empty retained discovery and state)
  moncam service install       write a systemd unit for this installation to /etc/systemd/system/moncam.service
  moncam cert [--host NAME]    make a private CA and a TLS certificate for this machine (see moncam cert --help)
  moncam --help | --version

Options:
  -c, --config FILE   YAML config file (default: $MONCAM_CONFIG, else ./moncam.yaml if present);
                      with service install: the file the service reads (baked into the unit)

service install (renders deploy/moncam.service with this node and dist/bin.js; prints the next steps
but never runs systemctl, so nothing starts or restarts until you say so):
  --user NAME         account the service runs as (default moncam; must not be root)
  --unit-dir DIR      write DIR/moncam.service instead (tests, dry runs without root)
  --print             print the unit instead of writing it
  --force             replace an existing moncam.service that differs

Every setting can also be set by an environment variable: MONCAM_ + its key path in upper case,
e.g. web.port -> MONCAM_WEB_PORT, data_dir -> MONCAM_DATA_DIR. See README.md.

Exit codes: 0 ok, 1 failure, 2 bad configuration or usage.`;

class UsageError extends Error {}

export interface CliIo {
  stdin: TtyInput;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

function passwordBanner(password: string, file: string): string {
  const line = '='.repeat(64);
  return `\n${line}\n  moncam: no web password was set, so one was generated:\n\n      ${password}\n\n  It is shown only this once; only its hash is stored in\n  ${file}\n  Change it any time with: moncam passwd\n${line}\n\n`;
}

async function cmdRun(config: Config, io: CliIo): Promise<number> {
  const logger = createLogger(config.log.level);
  const generated = await ensurePassword(config.web.password_file);
  if (generated) {
    io.stdout.write(passwordBanner(generated, config.web.password_file));
    logger.warn({ file: config.web.password_file }, 'generated a web password (printed once on stdout)');
  }
  const app = await createApp({ config, logger });
  await app.start();
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
  await stopRequested;
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

async function cmdCapture(config: Config, io: CliIo, out: string | undefined): Promise<number> {
  const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
  if (out !== undefined) {
    // Like the old capture.py: one still to a file, nothing stored.
    const { camera } = await probeCamera(config, logger);
    const still = await camera.capture(stillRequest(config));
    const { jpeg, info } = originalOf(still);
    if (out === '-') io.stdout.write(jpeg);
    else {
      await fs.writeFile(out, jpeg);
      io.stderr.write(`wrote ${out} (${info.width}x${info.height}, ${jpeg.length} bytes, ${camera.backend})\n`);
    }
    return 0;
  }
  const app = await createApp({ config: { ...config, schedule: { ...config.schedule, enabled: false } }, logger, mqtt: false, web: false });
  await app.start();
  try {
    const record = await app.captures.capture('cli');
    io.stdout.write(`${record.capture.files.original}\n`);
    io.stderr.write(`captured ${record.capture.id} (${record.fullWidth}x${record.fullHeight}, ${record.capture.bytes} bytes, ${app.camera.backend})\n`);
  } finally {
    await app.stop();
  }
  return 0;
}

async function cmdMqttRemove(config: Config, io: CliIo): Promise<number> {
  const url = brokerUrl(config);
  const topics = mqttTopics({ baseTopic: config.mqtt.base_topic, cameraId: config.camera.id, discoveryPrefix: config.mqtt.discovery_prefix });
  const ctx = { topics, cameraId: config.camera.id, cameraName: config.camera.name, backend: config.camera.backend, version: version() };
  try {
    const { topics: cleared } = await removeFromBroker(url, await clientOptions(config), ctx);
    io.stderr.write(`removed camera "${config.camera.id}" from ${url}: cleared ${cleared.length} retained topics\n`);
    io.stderr.write('A running moncam daemon announces it again when it reconnects: stop it first, or set mqtt.discovery: false.\n');
    return 0;
  } catch (err) {
    throw new Error(`cannot reach the MQTT broker at ${url}: ${(err as Error).message}`);
  }
}

async function cmdPasswd(config: Config, io: CliIo, mqtt: boolean): Promise<number> {
  let password: string;
  if (io.stdin.isTTY) {
    password = await readHidden('New password: ', io.stdin, io.stderr);
    const again = await readHidden('Repeat: ', io.stdin, io.stderr);
    if (again !== password) throw new UsageError('the passwords do not match; nothing changed');
  } else {
    password = await readFirstLine(io.stdin);
  }
  const problem = validatePassword(password);
  if (problem) throw new UsageError(`${problem}; nothing changed`);
  const file = mqtt ? config.broker.password_file : config.web.password_file;
  await setPassword(file, password);
  io.stderr.write(
    mqtt
      ? `MQTT password set (argon2id hash in ${file}): MQTT clients log in as user ${config.broker.username} with it; the web password is unchanged\n`
      : `password set (argon2id hash in ${file})\n`,
  );
  return 0;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  // Own options, and a certificate library the daemon never loads.
  if (argv[0] === 'cert') return (await import('./cli/cert.ts')).cmdCert(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        out: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        reference: { type: 'boolean' },
        user: { type: 'string' },
        'unit-dir': { type: 'string' },
        print: { type: 'boolean' },
        force: { type: 'boolean' },
        mqtt: { type: 'boolean' },
      },
    });
  } catch (err) {
    io.stderr.write(`moncam: ${(err as Error).message}\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP + '\n');
    return 0;
  }
  if (values.version) {
    io.stdout.write(version() + '\n');
    return 0;
  }
  const [command = 'run', ...rest] = positionals;
  const isMqttRemove = command === 'mqtt' && rest.length === 1 && rest[0] === 'remove';
  const isServiceInstall = command === 'service' && rest.length === 1 && rest[0] === 'install';
  if ((rest.length && !isMqttRemove && !isServiceInstall) || !['run', 'capture', 'config', 'passwd', 'mqtt', 'service'].includes(command) || (command === 'mqtt' && !isMqttRemove) || (command === 'service' && !isServiceInstall)) {
    io.stderr.write(`moncam: unknown command "${[command, ...rest].join(' ')}"\n\n${HELP}\n`);
    return 2;
  }
  if (values.mqtt !== undefined && command !== 'passwd') {
    io.stderr.write('moncam: --mqtt goes with "moncam passwd"\n');
    return 2;
  }
  if (values.out !== undefined && command !== 'capture') {
    io.stderr.write('moncam: --out goes with "moncam capture"\n');
    return 2;
  }
  if (!isServiceInstall && [values.user, values['unit-dir'], values.print, values.force].some((v) => v !== undefined)) {
    io.stderr.write('moncam: --user, --unit-dir, --print and --force go with "moncam service install"\n');
    return 2;
  }
  if (isServiceInstall) {
    // Before loadConfig: the config file is for the service to read, not for this command.
    return serviceInstall({ user: values.user, config: values.config, unitDir: values['unit-dir'], print: values.print, force: values.force }, io);
  }

  if (command === 'config' && values.reference) {
    io.stdout.write(configReference() + '\n');
    return 0;
  }
  try {
    const { config, file } = loadConfig({ file: values.config, env: io.env, cwd: io.cwd });
    switch (command) {
      case 'config':
        io.stdout.write(`# effective configuration${file ? ` (file: ${file})` : ' (no config file)'}\n` + YAML.stringify(redactConfig(config)));
        return 0;
      case 'passwd':
        return await cmdPasswd(config, io, values.mqtt === true);
      case 'mqtt':
        return await cmdMqttRemove(config, io);
      case 'capture':
        return await cmdCapture(config, io, values.out === undefined ? undefined : values.out === '-' ? '-' : path.resolve(io.cwd, values.out));
      default:
        return await cmdRun(config, io);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`moncam: bad configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`moncam: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CaptureFailedError) {
      const e = err.failure.error;
      io.stderr.write(`moncam: capture failed (${e.code}): ${e.message}${e.detail ? `\n  ${e.detail}` : ''}\n`);
      return 1;
    }
    const e = err as Error & { code?: string; detail?: string };
    io.stderr.write(`moncam: ${e.code ? `(${e.code}) ` : ''}${e.message}${e.detail ? `\n  ${e.detail}` : ''}\n`);
    return 1;
  }
}
