// The settings Home Assistant controls (switch, selects, number): their retained state and their `/set`
// commands. Payloads are parsed here, bounded; the Settings service validates, persists and applies.
// The bridge owns the connection: it subscribes to commandTopics(), hands messages to handle() and
// publishes states() on every (re)connect and HA birth.
import type { Logger } from 'pino';
import { limitedLog, type LogLimiter } from '../log.ts';
import { JPEG_QUALITY } from '../config/schema.ts';
import type { Config } from '../config/schema.ts';
import { INTERVAL_OPTIONS, intervalOf, intervalSettings, nightOf, nightSettings } from '../settings/choices.ts';
import type { Overrides } from '../settings/overrides.ts';
import { SettingsError, type Settings, type SettingsChange } from '../settings/service.ts';
import { settingRefusedEvent } from './payloads.ts';
import type { Topics } from './topics.ts';

/** The longest control payload: the longest option is a few bytes; HA never sends more. */
export const MAX_CONTROL_BYTES = 64;

export type ControlName = 'schedule' | 'interval' | 'night_exposure' | 'quality';
export type ControlErrorCode = 'too_large' | 'bad_encoding' | 'invalid_value' | 'not_selectable';

type Parsed = { ok: true; changes: Overrides } | { ok: false; error: ControlErrorCode; message: string };

interface Control {
  name: ControlName;
  state: string;
  command: string;
  /** The retained state payload for this effective config. */
  show(config: Config): string;
  parse(text: string, config: Config): Parsed;
}

const invalid = (message: string): Parsed => ({ ok: false, error: 'invalid_value', message });
const quoted = (text: string) => JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text);

function controls(t: Topics): Control[] {
  return [
    {
      name: 'schedule',
      state: t.schedule,
      command: t.scheduleCommand,
      show: (c) => (c.schedule.enabled ? 'ON' : 'OFF'),
      parse: (text) =>
        /^(on|off)$/i.test(text) ? { ok: true, changes: { 'schedule.enabled': /^on$/i.test(text) } } : invalid(`expected ON or OFF, not ${quoted(text)}`),
    },
    {
      name: 'interval',
      state: t.interval,
      command: t.intervalCommand,
      show: intervalOf,
      parse: (text) => {
        if (text === 'custom')
          return { ok: false, error: 'not_selectable', message: 'custom is shown for a cron pattern set in the config file; choose a preset' };
        const changes = intervalSettings(text);
        return changes ? { ok: true, changes } : invalid(`expected one of ${INTERVAL_OPTIONS.filter((o) => o !== 'custom').join(', ')}, not ${quoted(text)}`);
      },
    },
    {
      name: 'night_exposure',
      state: t.nightExposure,
      command: t.nightExposureCommand,
      show: nightOf,
      parse: (text, config) => {
        if (text === 'custom')
          return { ok: false, error: 'not_selectable', message: 'custom is shown for a schedule.exposure set in the config file; choose off, auto or always' };
        const changes = nightSettings(text, config);
        return changes ? { ok: true, changes } : invalid(`expected off, auto or always, not ${quoted(text)}`);
      },
    },
    {
      name: 'quality',
      state: t.quality,
      command: t.qualityCommand,
      show: (c) => String(c.camera.quality),
      parse: (text) => {
        // HA sends whole numbers without a fraction (number.py: int when value.is_integer()); "80.0" is accepted too.
        const m = /^(\d{1,3})(?:\.0+)?$/.exec(text);
        const n = m ? Number(m[1]) : NaN;
        if (!(n >= JPEG_QUALITY.min && n <= JPEG_QUALITY.max))
          return invalid(`expected a whole number ${JPEG_QUALITY.min}..${JPEG_QUALITY.max}, not ${quoted(text)}`);
        return { ok: true, changes: { 'camera.quality': n } };
      },
    },
  ];
}

/** Size, then encoding, then the control's own grammar: every payload has exactly one answer. */
function decode(payload: Buffer): { ok: true; text: string } | { ok: false; error: ControlErrorCode; message: string } {
  if (payload.length > MAX_CONTROL_BYTES)
    return { ok: false, error: 'too_large', message: `payload is ${payload.length} bytes; the limit is ${MAX_CONTROL_BYTES}` };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(payload).trim() };
  } catch {
    return { ok: false, error: 'bad_encoding', message: 'payload is not valid UTF-8' };
  }
}

/** How the bridge publishes for us, on its current connection (nothing while it is down). */
export interface ControlOutput {
  state(topic: string, payload: string): Promise<void>;
  event(event: { event_type: string }): Promise<void>;
}

export interface MqttControlsDeps {
  topics: Topics;
  settings: Pick<Settings, 'config' | 'set' | 'on' | 'off'>;
  logger: Logger;
}

export class MqttControls {
  private readonly deps: MqttControlsDeps;
  private readonly list: Control[];
  private output?: ControlOutput;
  /** A flood of bad commands must not flood the journal (each still gets its failed event). */
  private readonly refusedLog: LogLimiter;
  private readonly onChange = (_c: SettingsChange) => void this.publishStates();

  constructor(deps: MqttControlsDeps) {
    this.deps = deps;
    this.list = controls(deps.topics);
    this.refusedLog = limitedLog(deps.logger, 'warn', 'refused setting commands');
  }

  /** Called by the bridge's start()/stop(): state follows every settings change. */
  start(output: ControlOutput): void {
    this.output = output;
    this.deps.settings.on('change', this.onChange);
  }

  stop(): void {
    this.deps.settings.off('change', this.onChange);
    this.output = undefined;
  }

  commandTopics(): string[] {
    return this.list.map((c) => c.command);
  }

  handles(topic: string): boolean {
    return this.list.some((c) => c.command === topic);
  }

  /** The retained state of every control, for the effective settings. */
  states(): Array<{ topic: string; payload: string }> {
    const config = this.deps.settings.config;
    return this.list.map((c) => ({ topic: c.state, payload: c.show(config) }));
  }

  /** A (non-retained) command: applied, or refused with a `failed` event; the state is published either way. */
  async handle(topic: string, payload: Buffer): Promise<void> {
    const control = this.list.find((c) => c.command === topic);
    if (!control) return;
    const decoded = decode(payload);
    const parsed = decoded.ok ? control.parse(decoded.text, this.deps.settings.config) : decoded;
    let changed = false;
    if (!parsed.ok) {
      if (this.refusedLog.allow())
        this.deps.logger.warn({ topic, error: parsed.error, bytes: payload.length }, `refused ${control.name} setting: ${parsed.message}`);
      await this.output?.event(settingRefusedEvent(control.name, parsed, new Date()));
    } else {
      try {
        changed = (await this.deps.settings.set(parsed.changes)).length > 0;
      } catch (err) {
        if (!(err instanceof SettingsError)) throw err;
        if (this.refusedLog.allow()) this.deps.logger.warn({ topic, error: err.code }, `${control.name} setting not applied: ${err.message}`);
        await this.output?.event(settingRefusedEvent(control.name, { error: err.code, message: err.message }, new Date()));
      }
    }
    // A change republishes through onChange; otherwise HA (which shows what it was sent) gets the real state back.
    if (!changed) await this.publishStates();
  }

  private async publishStates(): Promise<void> {
    const output = this.output;
    if (!output) return;
    await Promise.all(this.states().map((s) => output.state(s.topic, s.payload))).catch((err: unknown) =>
      this.deps.logger.warn({ err: { message: (err as Error).message } }, 'MQTT publish of the settings state failed; it is republished on reconnect'),
    );
  }
}
