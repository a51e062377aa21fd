// The effective settings: the config with the overrides Home Assistant made, persisted in the data dir.
// A change is written (atomically) before it takes effect, and announced with a `change` event that the
// scheduler and the MQTT controls follow; the capture path reads `config` for every still.
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { emitSafely } from '../events.ts';
import { writeFileAtomic } from '../storage/write-atomic.ts';
import {
  applyOverrides,
  baseValue,
  conflictWithConfig,
  OVERRIDE_KEYS,
  overridesSchema,
  serializeOverrides,
  type OverrideKey,
  type Overrides,
} from './overrides.ts';

export type SettingsErrorCode = 'invalid_value' | 'conflicts_with_config' | 'save_failed' | 'busy';

/** Changes waiting to be written at most: a flood of commands costs no more than this many file writes queued. */
const MAX_WAITING = 8;

export class SettingsError extends Error {
  readonly code: SettingsErrorCode;
  constructor(code: SettingsErrorCode, message: string) {
    super(message);
    this.name = 'SettingsError';
    this.code = code;
  }
}

export interface SettingsChange {
  /** The keys whose effective value changed. */
  keys: OverrideKey[];
  config: Config;
}

export interface SettingsEvents {
  change: [SettingsChange];
}

export interface SettingsDeps {
  /** The config from file, environment and defaults. */
  config: Config;
  /** `<data_dir>/settings.json` */
  file: string;
  /** What the file held at start-up (readOverrides, in createApp: the camera's warm profile needs it early). */
  initial: Overrides;
  logger: Logger;
}

export class Settings extends EventEmitter<SettingsEvents> {
  private readonly deps: SettingsDeps;
  private current: Overrides;
  private effective: Config;
  /** Changes are written one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(deps: SettingsDeps) {
    super();
    this.deps = deps;
    this.current = deps.initial;
    this.effective = applyOverrides(deps.config, deps.initial);
  }

  start(): void {
    const keys = Object.keys(this.current);
    if (keys.length)
      this.deps.logger.info({ overrides: this.current, file: this.deps.file }, `settings changed from Home Assistant override the config: ${keys.join(', ')}`);
  }

  /** Waits for a change being written. */
  async stop(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** The effective config: the config file's with the overrides applied. */
  get config(): Config {
    return this.effective;
  }

  get overrides(): Readonly<Overrides> {
    return this.current;
  }

  /**
   * Sets some keys at once. A value equal to the config's own removes its override. Rejects with a
   * SettingsError (and changes nothing) when a value is invalid, conflicts with the config, or cannot be saved.
   */
  set(changes: Overrides): Promise<OverrideKey[]> {
    if (this.waiting >= MAX_WAITING) return Promise.reject(new SettingsError('busy', `${MAX_WAITING} setting changes are already waiting; try again`));
    this.waiting++;
    const run = this.queue.then(() => this.apply(changes)).finally(() => this.waiting--);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(changes: Overrides): Promise<OverrideKey[]> {
    const parsed = overridesSchema.safeParse(changes);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new SettingsError('invalid_value', `${issue.path.map(String).join('.')}: ${issue.message}`);
    }
    const next: Overrides = { ...this.current };
    for (const key of OVERRIDE_KEYS) {
      if (!(key in parsed.data)) continue;
      const value = parsed.data[key];
      if (value === undefined || isDeepStrictEqual(value, baseValue(this.deps.config, key))) delete next[key];
      else (next as Record<string, unknown>)[key] = value;
    }
    const conflict = conflictWithConfig(this.deps.config, next);
    if (conflict) throw new SettingsError('conflicts_with_config', conflict);
    const config = applyOverrides(this.deps.config, next);
    const keys = OVERRIDE_KEYS.filter((k) => !isDeepStrictEqual(baseValue(config, k), baseValue(this.effective, k)));
    if (isDeepStrictEqual(next, this.current)) return keys;
    try {
      await writeFileAtomic(this.deps.file, serializeOverrides(next), { mode: 0o600 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      this.deps.logger.error({ err, file: this.deps.file }, 'saving the settings failed; nothing changed');
      throw new SettingsError('save_failed', `cannot save ${this.deps.file} (${code}); nothing changed`);
    }
    this.current = next;
    this.effective = config;
    this.deps.logger.info({ changed: keys, overrides: next }, 'settings changed from Home Assistant');
    if (keys.length) emitSafely(this, this.deps.logger, 'settings', 'change', [{ keys, config }]);
    return keys;
  }
}
