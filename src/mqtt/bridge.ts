// MQTT output and command input: subscribes to the capture service's events and publishes them;
// turns commands into capture() calls. The connection itself (reconnects, protocol fallback) is ./client.ts.
// Over 300 lines: every publish shares the connection generation; setting commands live in ./controls.ts.
import fs from 'node:fs/promises';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { LocalClock } from '../clock.ts';
import type { CaptureFailure, CaptureRecord, CaptureService } from '../capture/service.ts';
import { addDays } from '../storage/layout.ts';
import type { CaptureStore, Still } from '../storage/store.ts';
import { capturedEvent, changedEvent, failedEvent, refusedEvent, stillAttributes, timelapseEvent, timelapseFailedEvent } from './payloads.ts';
import type { TimelapseFailure, TimelapseRecord, TimelapseService } from '../timelapse/service.ts';
import { parseCommand, parseTimelapseCommand } from './command.ts';
import { announcedNow, forgetPreviousIdentity } from './announced.ts';
import { MqttConnection, QOS } from './client.ts';
import { LatestWins } from './latest-wins.ts';
import { commandLogs, type CommandLogs } from './loglimit.ts';
import { deviceDiscovery, discoveryTopics, entityDiscovery, type DiscoveryContext } from './discovery.ts';
import type { Topics } from './topics.ts';
import { HealthPublisher, type HealthPublisherDeps } from './health.ts';
import type { MqttControls } from './controls.ts';

export interface MqttBridgeDeps {
  /** Read at start(): the embedded broker's port is known only once it listens. */
  url: () => string;
  clientOptions: IClientOptions;
  topics: Topics;
  cameraId: string;
  discovery: { enabled: boolean; legacy: boolean; context: DiscoveryContext };
  captures: Pick<CaptureService, 'capture' | 'on' | 'off'>;
  store: Pick<CaptureStore, 'latest' | 'read'>;
  /** The app's clock: which day a timelapse command means by today. */
  clock: LocalClock;
  /** Day timelapses: announced on `timelapse` and as events; built on `timelapse/set`. */
  timelapses?: Pick<TimelapseService, 'build' | 'latest' | 'on' | 'off'>;
  logger: Logger;
  /** HA birth -> republish after a random delay in [min, max] ms, so many devices do not answer at once. */
  birthDelayMs?: [number, number];
  /** Reconnect backoff: first and longest wait in ms. */
  reconnectMs?: [number, number];
  /**
   * Remembers which camera id / topics were last announced, so that after a change of `camera.id`
   * the old device is removed from HA instead of lingering unavailable.
   */
  announcedFile?: string;
  /** Settings HA can change: their commands are subscribed and handed over, their state published with the rest. */
  controls?: MqttControls;
  /** The embedded broker's packet limit: a preview that does not fit is not published (the broker would drop us). */
  maxPacketSize?: number;
  /** The camera's status, published retained on the health topic (./health.ts). */
  health?: HealthPublisherDeps['health'];
  /** Test hooks for the health publisher: a fake clock's timers and time, the refresh period. */
  healthTiming?: Pick<HealthPublisherDeps, 'timers' | 'now' | 'refreshMs'>;
}

export class MqttBridge {
  private readonly deps: MqttBridgeDeps;
  private connection?: MqttConnection;
  private birthTimer?: NodeJS.Timeout;
  /** Retained-state publishing, one still at a time, newest wins. */
  private readonly state = new LatestWins();
  private readonly onCaptured = (r: CaptureRecord) => this.track(this.publishCapture(r));
  private readonly onFailed = (f: CaptureFailure) => this.track(this.publishFailure(f));
  private readonly onTimelapse = (t: TimelapseRecord) => this.track(this.publishTimelapse(t));
  private readonly onTimelapseFailed = (f: TimelapseFailure) => this.track(this.publishEvent(timelapseFailedEvent(f)));
  /** Publishes of stills and failures under way: a still finished during shutdown is published before `offline`. */
  private readonly pending = new Set<Promise<void>>();

  /** Rate-limited logging of command handling: a flood of commands must not flood the journal. */
  private readonly logs: CommandLogs;
  private readonly health?: HealthPublisher;

  constructor(deps: MqttBridgeDeps) {
    this.deps = deps;
    this.logs = commandLogs(deps.logger);
    const send = (topic: string, payload: string) => {
      const c = this.connection;
      return c?.connected ? c.send(c.generation, topic, payload, { retain: true }) : Promise.reject(new Error('MQTT not connected'));
    };
    if (deps.health) this.health = new HealthPublisher({ health: deps.health, topic: deps.topics.health, send, logger: deps.logger, ...deps.healthTiming });
  }

  get connected(): boolean {
    return Boolean(this.connection?.connected);
  }

  /** The mqtt.js client of the current connection (diagnostics and tests). */
  get client(): MqttClient | undefined {
    return this.connection?.client;
  }

  /** Connects in the background: a broker that is down never blocks or crashes the daemon. */
  start(): void {
    const { topics, logger } = this.deps;
    this.deps.captures.on('captured', this.onCaptured);
    this.deps.captures.on('failed', this.onFailed);
    this.deps.timelapses?.on('built', this.onTimelapse);
    this.deps.timelapses?.on('failed', this.onTimelapseFailed);
    this.health?.start();
    const connection = new MqttConnection({
      url: this.deps.url(),
      clientOptions: this.deps.clientOptions,
      willTopic: topics.availability,
      logger,
      ...(this.deps.reconnectMs ? { reconnectMs: this.deps.reconnectMs } : {}),
    });
    this.connection = connection;
    connection.on('connect', (gen) => void this.onConnect(gen));
    connection.on('message', (topic, payload, retained) => this.onMessage(topic, payload, retained));
    this.deps.controls?.start({
      state: (topic, payload) => (connection.connected ? this.send(connection.generation, topic, payload, { retain: true }) : Promise.resolve()),
      event: (event) => this.publishEvent(event),
    });
    connection.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.birthTimer);
    this.deps.controls?.stop();
    this.deps.captures.off('captured', this.onCaptured);
    this.deps.captures.off('failed', this.onFailed);
    this.deps.timelapses?.off('built', this.onTimelapse);
    this.deps.timelapses?.off('failed', this.onTimelapseFailed);
    this.health?.stop();
    // A still finished during shutdown is published before `offline`.
    await this.connection?.stop(() => Promise.allSettled([...this.pending]));
    this.connection = undefined;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.catch(() => undefined).finally(() => this.pending.delete(p));
  }

  /** QoS 1 on connection `gen` only, while it is up (see MqttConnection.send). */
  private send(gen: number, topic: string, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
    return this.connection ? this.connection.send(gen, topic, payload, opts) : Promise.reject(new Error('MQTT not connected'));
  }

  private async onConnect(gen: number): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const { topics, logger } = this.deps;
    try {
      // rap (MQTT 5 retain-as-published): a retained command keeps its flag even when delivered live, so it can be ignored.
      const commandSub = { qos: QOS, rap: true };
      await connection.subscribe(gen, {
        [topics.commandAll]: commandSub,
        [topics.command]: commandSub,
        ...(this.deps.timelapses ? { [topics.timelapseCommand]: commandSub } : {}),
        ...Object.fromEntries((this.deps.controls?.commandTopics() ?? []).map((t) => [t, commandSub])),
        [topics.haStatus]: { qos: QOS },
      });
      const { cameraId, discovery, announcedFile } = this.deps;
      if (announcedFile) {
        const current = announcedNow(cameraId, topics, discovery.enabled ? discoveryTopics(discovery.context) : []);
        await forgetPreviousIdentity(announcedFile, current, (t) => this.send(gen, t, '', { retain: true }), logger);
      }
      await this.publishAll(gen);
    } catch (err) {
      logger.warn({ err }, 'MQTT set-up after connect failed; it is retried on the next connect');
    }
  }

  /** Discovery, `online`, and the latest state: a restarted broker may have lost retained messages. */
  private async publishAll(gen: number): Promise<void> {
    await this.publishDiscovery(gen);
    await this.send(gen, this.deps.topics.availability, 'online', { retain: true });
    await this.publishLatest(gen);
    const timelapse = this.deps.timelapses?.latest();
    if (timelapse) await this.send(gen, this.deps.topics.timelapse, JSON.stringify(timelapse), { retain: true });
    await this.health?.publish((topic, payload) => this.send(gen, topic, payload, { retain: true }));
    for (const s of this.deps.controls?.states() ?? []) await this.send(gen, s.topic, s.payload, { retain: true });
  }

  private async publishDiscovery(gen: number): Promise<void> {
    const { enabled, legacy, context } = this.deps.discovery;
    if (!enabled) return;
    const messages = legacy ? entityDiscovery(context) : [deviceDiscovery(context)];
    await Promise.all(messages.map((m) => this.send(gen, m.topic, JSON.stringify(m.payload), { retain: true })));
  }

  /** The newest stored still, read when its turn comes: whatever was taken while the broker was down. */
  private publishLatest(gen: number): Promise<void> {
    return this.state.run(async () => {
      const latest = this.deps.store.latest();
      if (!latest) return;
      const [preview, still] = await Promise.all([fs.readFile(latest.files.preview), this.deps.store.read(latest.id)]);
      await this.publishState(gen, still ?? latest, preview);
    });
  }

  private async publishState(gen: number, capture: Still, preview: Buffer): Promise<void> {
    const { topics, maxPacketSize, logger } = this.deps;
    // Topic, header and properties take well under 1 KiB.
    const fits = maxPacketSize === undefined || preview.length + 1024 <= maxPacketSize;
    if (!fits)
      logger.error(
        { id: capture.id, bytes: preview.length, max_packet_size: maxPacketSize },
        'MQTT preview larger than broker.max_packet_size: not published; lower mqtt.preview_size or preview_quality, or raise broker.max_packet_size',
      );
    await Promise.all([
      fits ? this.send(gen, topics.image, preview, { retain: true }) : Promise.resolve(),
      this.send(gen, topics.imageAttributes, JSON.stringify(stillAttributes(capture, preview.length)), { retain: true }),
      this.send(gen, topics.lastCapture, capture.capturedAtIso, { retain: true }),
    ]);
  }

  private async publishCapture(record: CaptureRecord): Promise<void> {
    const connection = this.connection;
    const { topics, logger } = this.deps;
    if (!connection?.connected) {
      logger.info({ id: record.capture.id }, 'MQTT offline: still stored; it is published when the broker is back');
      return;
    }
    const gen = connection.generation;
    try {
      // The retained state may be superseded by a newer still (latest wins); the event is published for
      // every still all the same, after the state it refers to or a newer one: it answers the request ids.
      await this.state.run(() => this.publishState(gen, record.capture, record.preview));
      await this.send(gen, topics.event, JSON.stringify(capturedEvent(record)));
      const changed = changedEvent(record);
      if (changed) await this.send(gen, topics.event, JSON.stringify(changed));
    } catch (err) {
      logger.warn(
        { err: { message: (err as Error).message }, id: record.capture.id },
        'MQTT publish of a still failed; the latest still is republished on reconnect',
      );
    }
  }

  private async publishFailure(failure: CaptureFailure): Promise<void> {
    await this.publishEvent(failedEvent(failure));
  }

  /** Retained (the latest timelapse, for HA's sensor and image entity) and as a `timelapse` event. */
  private async publishTimelapse(record: TimelapseRecord): Promise<void> {
    const connection = this.connection;
    if (!connection?.connected) return; // the latest is republished on connect
    try {
      // The retained record is the newest day's, as republished on connect: an older day rebuilt on request only gets its event.
      const latest = this.deps.timelapses?.latest();
      if (!latest || record.day >= latest.day) await this.send(connection.generation, this.deps.topics.timelapse, JSON.stringify(record), { retain: true });
    } catch (err) {
      this.deps.logger.warn(
        { err: { message: (err as Error).message }, day: record.day },
        'MQTT publish of a timelapse failed; it is republished on reconnect',
      );
      return;
    }
    await this.publishEvent(timelapseEvent(record));
  }

  private async publishEvent(event: { event_type: string }): Promise<void> {
    const connection = this.connection;
    if (!connection?.connected) return; // events are moments: not replayed hours later
    try {
      await this.send(connection.generation, this.deps.topics.event, JSON.stringify(event));
    } catch (err) {
      if (this.logs.eventFailures.allow()) this.deps.logger.warn({ err, event: event.event_type }, 'MQTT event publish failed');
    }
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const { topics, logger } = this.deps;
    try {
      if (topic === topics.haStatus) {
        if (payload.toString().trim() === 'online') this.scheduleRepublish();
        return;
      }
      const control = this.deps.controls?.handles(topic);
      if (!control && topic !== topics.commandAll && topic !== topics.command && topic !== topics.timelapseCommand) return;
      if (retained) {
        // A retained command would fire on every reconnect; the contract says never honour it.
        if (this.logs.retained.allow())
          logger.warn({ topic, bytes: payload.length }, `ignored a retained command; clear it with: mosquitto_pub -r -n -t ${topic}`);
        return;
      }
      if (control) void this.deps.controls!.handle(topic, payload).catch((err: unknown) => logger.error({ err, topic }, 'MQTT setting command failed'));
      else if (topic === topics.timelapseCommand) this.handleTimelapseCommand(topic, payload);
      else this.handleCommand(topic, payload);
    } catch (err) {
      logger.error({ err, topic }, 'MQTT message handler failed');
    }
  }

  private handleCommand(topic: string, payload: Buffer): void {
    const { cameraId, logger } = this.deps;
    const cmd = parseCommand(payload);
    if (cmd.camera !== undefined && cmd.camera !== cameraId) return; // another camera's command
    if (!cmd.ok) {
      // Bounded: a flood of bad commands must not flood the log (each one still gets its failed event).
      if (this.logs.refused.allow()) logger.warn({ topic, error: cmd.error, bytes: payload.length }, `refused MQTT command: ${cmd.message}`);
      void this.publishEvent(refusedEvent(cmd, new Date()));
      return;
    }
    if (this.logs.accepted.allow()) logger.info({ topic, id: cmd.id, source: cmd.source }, 'MQTT capture command');
    this.deps.captures
      .capture('mqtt', { ...cmd.options, ...(cmd.id ? { requestId: cmd.id } : {}), ...(cmd.source ? { source: cmd.source } : {}) })
      .catch(() => {
        // Reported by the capture service's failed event.
      });
  }

  private handleTimelapseCommand(topic: string, payload: Buffer): void {
    const { clock, logger, timelapses } = this.deps;
    if (!timelapses) return;
    const now = new Date();
    const today = clock.day(now);
    const cmd = parseTimelapseCommand(payload, today, addDays(today, -1));
    if (!cmd.ok) {
      if (this.logs.refused.allow()) logger.warn({ topic, error: cmd.error, bytes: payload.length }, `refused MQTT timelapse command: ${cmd.message}`);
      void this.publishEvent(refusedEvent(cmd, now, 'timelapse'));
      return;
    }
    if (this.logs.accepted.allow()) logger.info({ topic, day: cmd.day, id: cmd.id }, 'MQTT timelapse command');
    timelapses.build(cmd.day, 'mqtt', cmd.id).catch(() => {
      // Reported by the timelapse service's failed event.
    });
  }

  private scheduleRepublish(): void {
    const [min, max] = this.deps.birthDelayMs ?? [500, 3000];
    clearTimeout(this.birthTimer);
    this.birthTimer = setTimeout(
      () => {
        const connection = this.connection;
        if (!connection?.connected) return;
        this.deps.logger.info('Home Assistant came online: republishing discovery and state');
        this.publishAll(connection.generation).catch((err: unknown) => this.deps.logger.warn({ err }, 'republish after HA birth failed'));
      },
      min + Math.random() * (max - min),
    );
  }
}
