// `moncam` command line: parses arguments, runs one command, returns its exit code.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CaptureFailedError } from './capture/service.ts';
import { cmdCapture } from './cli/capture.ts';
import { cmdConfig } from './cli/config.ts';
import { UsageError, type CliIo } from './cli/io.ts';
import { cmdMqttRemove } from './cli/mqtt-remove.ts';
import { cmdPasswd } from './cli/passwd.ts';
import { cmdRun } from './cli/run.ts';
import { serviceInstall } from './cli/systemd.ts';
import { ConfigError, loadConfig, type LoadedConfig } from './config/load.ts';
import { configReference } from './config/reference.ts';
import { version } from './version.ts';

export type { CliIo } from './cli/io.ts';

const HELP = `moncam — Raspberry Pi camera daemon for Home Assistant

Usage:
  moncam [run]                 start the daemon (schedule, storage; MQTT and web as configured)
  moncam capture [--out FILE]  take one still now; store it (default) or write the original to FILE (- for stdout)
                               (while the daemon runs, its camera takes the still and keeps it in the history)
  moncam config [--json]       print the effective configuration (secrets redacted) and where each value
                               came from: default, config file, env (MONCAM_*) or HA override
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
e.g. web.port -> MONCAM_WEB_PORT, data_dir -> MONCAM_DATA_DIR. See docs/configuration.md.

Exit codes: 0 ok, 1 failure, 2 bad configuration or usage.`;

const OPTIONS = {
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
  json: { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

interface CommandContext {
  io: CliIo;
  values: Values;
  /** Reads the config (file + environment); commands that do not need it never call this. */
  load: () => LoadedConfig;
}

interface Command {
  /** Options this command takes, besides --config / --help / --version. */
  options: OptionName[];
  run: (ctx: CommandContext) => Promise<number>;
}

/** One line per subcommand: its words, its options, what it runs. */
const COMMANDS: Record<string, Command> = {
  run: { options: [], run: ({ io, load }) => cmdRun(load().config, io) },
  capture: {
    options: ['out'],
    run: ({ io, load, values }) =>
      cmdCapture(load().config, io, values.out === undefined || values.out === '-' ? values.out : path.resolve(io.cwd, values.out)),
  },
  config: {
    options: ['reference', 'json'],
    run: async ({ io, load, values }) => (values.reference ? printReference(io) : cmdConfig(load(), io, values.json === true)),
  },
  passwd: { options: ['mqtt'], run: ({ io, load, values }) => cmdPasswd(load().config, io, values.mqtt === true) },
  'mqtt remove': { options: [], run: ({ io, load }) => cmdMqttRemove(load().config, io) },
  // No config: the file given with --config is for the service to read, not for this command.
  'service install': {
    options: ['user', 'unit-dir', 'print', 'force'],
    run: ({ io, values }) =>
      serviceInstall({ user: values.user, config: values.config, unitDir: values['unit-dir'], print: values.print, force: values.force }, io),
  },
};

const GLOBAL_OPTIONS: OptionName[] = ['config', 'help', 'version'];
const HINT = 'see moncam --help';

function printReference(io: CliIo): number {
  io.stdout.write(configReference() + '\n');
  return 0;
}

/** Parses leniently and checks the tokens itself, so a mistake reads as one plain line (not the parser's text). */
function parse(argv: string[]): { values: Values; positionals: string[] } {
  const { values, positionals, tokens } = parseArgs({ args: argv, allowPositionals: true, strict: false, tokens: true, options: OPTIONS });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = (OPTIONS as Record<string, { type: string }>)[t.name];
    if (!spec) throw new UsageError(`unknown option ${t.rawName}`);
    if (spec.type === 'string' && t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
    if (spec.type === 'boolean' && t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
  }
  return { values: values as Values, positionals };
}

function dispatch(argv: string[]): { command: Command; values: Values } {
  const { values, positionals } = parse(argv);
  const words = positionals.length ? positionals.join(' ') : 'run';
  const command = COMMANDS[words];
  if (!command) throw new UsageError(`unknown command "${words}"`);
  for (const name of Object.keys(values) as OptionName[]) {
    if (GLOBAL_OPTIONS.includes(name) || command.options.includes(name)) continue;
    const owner = Object.keys(COMMANDS).find((w) => COMMANDS[w]!.options.includes(name));
    throw new UsageError(`--${name} goes with "moncam ${owner}"`);
  }
  return { command, values };
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  // Own options, and a certificate library the daemon never loads.
  if (argv[0] === 'cert') return (await import('./cli/cert.ts')).cmdCert(argv.slice(1), io);
  try {
    const { command, values } = dispatch(argv);
    if (values.help) {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    if (values.version) {
      io.stdout.write(version() + '\n');
      return 0;
    }
    return await command.run({ io, values, load: () => loadConfig({ file: values.config, env: io.env, cwd: io.cwd }) });
  } catch (err) {
    return report(err, io);
  }
}

/** Every failure ends as one line per problem on stderr and an exit code: 2 for usage and configuration, else 1. */
function report(err: unknown, io: CliIo): number {
  if (err instanceof ConfigError) {
    const lines = err.problems.flatMap((p) => p.split('\n'));
    io.stderr.write(lines.map((l) => `moncam: bad configuration: ${l}\n`).join(''));
    return 2;
  }
  if (err instanceof UsageError) {
    io.stderr.write(`moncam: ${err.message} (${HINT})\n`);
    return 2;
  }
  if (err instanceof CaptureFailedError) {
    const e = err.failure.error;
    io.stderr.write(`moncam: (${e.code}) capture failed: ${e.message}${e.detail ? `\n  ${e.detail}` : ''}\n`);
    return 1;
  }
  const e = err as Error & { code?: string; detail?: string };
  io.stderr.write(`moncam: ${e.code ? `(${e.code}) ` : ''}${e.message}${e.detail ? `\n  ${e.detail}` : ''}\n`);
  return 1;
}
