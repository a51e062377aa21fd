// Sources, later wins: schema defaults < YAML file < MONCAM_* environment variables.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { configFields, type ConfigField } from './fields.ts';
import { configSchema, type Config, type ParsedConfig } from './schema.ts';

/** Start-up stops with these lines (one per problem) and exit code 2. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** `--config FILE` */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Where a setting's value came from (`moncam config`); the daemon adds `ha` for Home Assistant's overrides. */
export type ConfigSource = 'default' | 'file' | 'env';

export interface LoadedConfig {
  config: Config;
  /** The YAML file that was read, if any. */
  file?: string;
  /** Per setting key (`web.port`): its source; a key absent from file and environment is `default`. */
  sources: Record<string, ConfigSource>;
}

function hasPath(node: unknown, keys: string[]): boolean {
  for (const k of keys) {
    if (!node || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, k)) return false;
    node = (node as Record<string, unknown>)[k];
  }
  return node !== undefined && node !== null;
}

function pickFile(opts: LoadOptions, cwd: string, env: NodeJS.ProcessEnv): { file?: string; required: boolean } {
  if (opts.file) return { file: path.resolve(cwd, opts.file), required: true };
  if (env.MONCAM_CONFIG) return { file: path.resolve(cwd, env.MONCAM_CONFIG), required: true };
  const local = path.join(cwd, 'moncam.yaml');
  return fs.existsSync(local) ? { file: local, required: false } : { required: false };
}

/** yaml's own default (100) would also do; named here because the error message states it. */
const MAX_ALIAS_EXPANSIONS = 100;

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const lines = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length) throw new ConfigError(doc.errors.map((e) => `${at(e.pos[0])}: ${e.message}`));
  const unresolved: string[] = [];
  YAML.visit(doc, {
    Alias(_key, node) {
      if (!node.resolve(doc)) unresolved.push(`${at(node.range?.[0] ?? 0)}: alias *${node.source} refers to no anchor &${node.source} before it`);
    },
  });
  if (unresolved.length) throw new ConfigError(unresolved);
  let value: unknown;
  try {
    // A few aliases are normal YAML; thousands of expansions are a "billion laughs" document.
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch {
    throw new ConfigError([`${file}: too many alias expansions (more than ${MAX_ALIAS_EXPANSIONS}); write the settings out instead`]);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError([`${file}: expected a mapping of settings at the top level`]);
  return value as Record<string, unknown>;
}

function envValue(field: ConfigField, raw: string): unknown {
  switch (field.kind) {
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return raw;
    }
    case 'enum': {
      // Literal unions such as rotation hold numbers; camera.warm holds auto | true | false.
      if (field.choices?.some((c) => typeof c === 'boolean')) {
        const v = raw.trim().toLowerCase();
        if (['true', '1', 'yes', 'on'].includes(v)) return true;
        if (['false', '0', 'no', 'off'].includes(v)) return false;
      }
      return field.choices?.some((c) => typeof c === 'number') && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    }
    case 'array': {
      const t = raw.trim();
      if (t.startsWith('[')) {
        try {
          return JSON.parse(t);
        } catch {
          return raw;
        }
      }
      return t === '' ? [] : t.split(/\s+/);
    }
    case 'bytes':
      return /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    default:
      return raw;
  }
}

function setPath(target: Record<string, any>, keys: string[], value: unknown): void {
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== 'object' || node[k] === null || Array.isArray(node[k])) node[k] = {};
    node = node[k];
  }
  node[keys[keys.length - 1]!] = value;
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  const s = JSON.stringify(input);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** One readable line per zod issue: `web.port: expected 1..65535, got 99999`. */
export function formatIssues(issues: z.core.$ZodIssue[], sourceOf: (key: string) => string | undefined): string[] {
  return issues.map((issue) => {
    const key = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${key ? key + '.' : ''}${k}: unknown setting`).join('\n');
    }
    const input = (issue as { input?: unknown }).input;
    const where = sourceOf(key);
    if (issue.code === 'invalid_type' && issue.expected === 'boolean' && input !== undefined) {
      const accepted = where?.startsWith('MONCAM_') ? 'true or false (also yes/no, on/off, 1/0)' : 'true or false';
      return `${key}: expected ${accepted}, got ${describeInput(input)}${where ? ` (from ${where})` : ''}`;
    }
    const got = issue.code === 'invalid_type' && input === undefined ? '' : `, got ${describeInput(input)}`;
    return `${key || '(config)'}: ${issue.message}${got}${where ? ` (from ${where})` : ''}`;
  });
}

/** Fill in derived paths; every path becomes absolute against `cwd`. */
export function resolveConfig(parsed: ParsedConfig, cwd: string): Config {
  const dataDir = path.resolve(cwd, parsed.data_dir);
  const inData = (p: string | undefined, fallback: string) => (p ? path.resolve(cwd, p) : path.join(dataDir, fallback));
  const file = (p: string | undefined) => (p ? path.resolve(cwd, p) : undefined);
  const webTls = { tls_cert: file(parsed.web.tls_cert), tls_key: file(parsed.web.tls_key) };
  // mqtts uses the page's pair unless the broker has its own (the schema checks each pair is whole).
  const brokerTls = parsed.broker.tls_cert ? { tls_cert: file(parsed.broker.tls_cert), tls_key: file(parsed.broker.tls_key) } : webTls;
  return {
    ...parsed,
    data_dir: dataDir,
    camera: { ...parsed.camera, name: parsed.camera.name ?? `moncam ${parsed.camera.id}` },
    storage: { ...parsed.storage, dir: inData(parsed.storage.dir, 'captures') },
    web: { ...parsed.web, ...webTls, password_file: inData(parsed.web.password_file, 'private/pass_user') },
    broker: { ...parsed.broker, ...brokerTls, password_file: inData(parsed.broker.password_file, 'private/pass_mqtt') },
  };
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const { file } = pickFile(opts, cwd, env);
  const raw: Record<string, unknown> = file ? readYaml(file) : {};
  const sources: Record<string, ConfigSource> = {};
  for (const field of configFields()) sources[field.key] = hasPath(raw, field.path) ? 'file' : 'default';

  const fromEnv = new Map<string, string>();
  for (const field of configFields()) {
    const value = env[field.env];
    if (value === undefined) continue;
    setPath(raw, field.path, envValue(field, value));
    fromEnv.set(field.key, field.env);
    sources[field.key] = 'env';
  }
  const problems: string[] = [];
  const known = new Set(configFields().map((f) => f.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith('MONCAM_') && name !== 'MONCAM_CONFIG' && !known.has(name)) problems.push(`${name}: unknown environment variable (no such setting)`);
  }

  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) problems.push(...formatIssues(result.error.issues, (key) => fromEnv.get(key) ?? (file ? path.basename(file) : undefined)));
  if (problems.length || !result.success) throw new ConfigError(problems);
  return { config: resolveConfig(result.data, cwd), file, sources };
}

/** The effective config with secrets replaced, for `moncam config` and logs. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config) as Record<string, any>;
  for (const field of configFields()) {
    if (!field.secret) continue;
    let node = copy;
    for (const k of field.path.slice(0, -1)) node = node?.[k];
    const last = field.path[field.path.length - 1]!;
    if (node && node[last] !== undefined) node[last] = '***';
  }
  return copy as Config;
}
