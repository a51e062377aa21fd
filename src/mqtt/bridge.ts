// MQTT output and command input: subscribes to the capture service's events and publishes them;
// turns commands into capture() calls. Owns the client connection and its reconnect timer.
// Over 300 lines for now: splitting it is issue 14 (one typed Still first, then the split; behaviour unchanged).
import fs from 'node:fs/promises';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { LocalClock } from '../clock.ts';
import type { CaptureFailure, CaptureRecord, CaptureService } from '../capture/service.ts';
import { addDays } from '../storage/layout.ts';
import type { CaptureStore, Still } from '../storage/store.ts';
import { stillAttributes } from './attributes.ts';
import type { TimelapseFailure, TimelapseRecord, TimelapseService } from '../timelapse/service.ts';
import { parseCommand, parseTimelapseCommand } from './command.ts';
import { refusedProtocol } from './protocol.ts';
import { commandLogs, type CommandLogs } from './loglimit.ts';
import { deviceDiscovery, discoveryTopics, entityDiscovery, type DiscoveryContext } from './discovery.ts';
import type { Topics } from './topics.ts';

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
  /** The embedded broker's packet limit: a preview that does not fit is not published (the broker would drop us). */
  maxPacketSize?: number;
}

interface Announced {
  cameraId: string;
  topics: Pick<Topics, 'availability' | 'image' | 'imageAttributes' | 'lastCapture' | 'timelapse'>;
  discoveryTopics: string[];
}

const QOS = 1 as const;
/** Longest a retained-state publish may hold up the next one (see runStateJob). */
const STATE_JOB_TIMEOUT_MS = 60_000;

export class MqttBridge {
  private readonly deps: MqttBridgeDeps;
  private client?: MqttClient;
  private birthTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private attempt = 0;
  private stopping = false;
  private url = '';
  private wasConnected = false;
  /** Bumped on every connect: work started for an earlier connection never publishes on a later one. */
  private generation = 0;
  /** Retained-state publishing, one still at a time (see publishStateSerially). */
  private stateBusy = false;
  private stateNext?: { job: () => Promise<void>; done: Promise<void>; resolve: () => void; reject: (err: unknown) => void };
  private readonly onCaptured = (r: CaptureRecord) => this.track(this.publishCapture(r));
  private readonly onFailed = (f: CaptureFailure) => this.track(this.publishFailure(f));
  private readonly onTimelapse = (t: TimelapseRecord) => this.track(this.publishTimelapse(t));
  private readonly onTimelapseFailed = (f: TimelapseFailure) =>
    this.track(this.publishEvent({ event_type: 'failed', what: 'timelapse', ...(f.requestId ? { id: f.requestId } : {}), day: f.day, trigger: f.trigger, error: f.error.code, message: f.error.message, at: f.at.toISOString() }));
  /** Publishes of stills and failures under way: a still finished during shutdown is published before `offline`. */
  private readonly pending = new Set<Promise<void>>();

  /** Rate-limited logging of command handling: a flood of commands must not flood the journal. */
  private readonly logs: CommandLogs;

  constructor(deps: MqttBridgeDeps) {
    this.deps = deps;
    this.logs = commandLogs(deps.logger);
  }

  get connected(): boolean {
    return Boolean(this.client?.connected);
  }

  /** Connects in the background: a broker that is down never blocks or crashes the daemon. */
  start(): void {
    const { topics, logger } = this.deps;
    const url = (this.url = this.deps.url());
    this.stopping = false;
    this.deps.captures.on('captured', this.onCaptured);
    this.deps.captures.on('failed', this.onFailed);
    this.deps.timelapses?.on('built', this.onTimelapse);
    this.deps.timelapses?.on('failed', this.onTimelapseFailed);
    const client = mqtt.connect(url, {
      ...this.deps.clientOptions,
      will: { topic: topics.availability, payload: Buffer.from('offline'), qos: QOS, retain: true },
      reconnectPeriod: 0, // reconnects are ours, with backoff (mqtt.js retries at a fixed period)
      queueQoSZero: false,
      resubscribe: false, // we subscribe on every connect ourselves
    });
    this.client = client;
    client.on('connect', () => void this.onConnect());
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    client.on('error', (err) => {
      if (client.options.protocolVersion === 5 && refusedProtocol(err)) {
        // An MQTT 3.1.1-only broker: fall back. Retained commands published live then reach us unflagged.
        client.options.protocolVersion = 4;
        logger.warn({ url }, 'the MQTT broker does not speak MQTT 5: using 3.1.1; a retained command published while moncam runs cannot be told from a live one there');
        return;
      }
      // Logged once per outage: a broker that is down for hours must not flood the log.
      if (this.attempt <= 1) logger.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code }, url }, 'MQTT connection error');
    });
    client.on('close', () => this.onClose());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.birthTimer);
    clearTimeout(this.reconnectTimer);
    this.deps.captures.off('captured', this.onCaptured);
    this.deps.captures.off('failed', this.onFailed);
    this.deps.timelapses?.off('built', this.onTimelapse);
    this.deps.timelapses?.off('failed', this.onTimelapseFailed);
    const client = this.client;
    if (!client) return;
    // Within about 2 s in all cases (the CLI's stop deadline counts on it): a broker that is down, being
    // connected to, or hung (accepts TCP, never answers) must not hold the stop up.
    let clean = false;
    if (client.connected) {
      await withTimeout(Promise.allSettled([...this.pending]), 1000).catch(() => undefined);
      try {
        await withTimeout(this.send(client, this.generation, this.deps.topics.availability, 'offline', { retain: true }), 1000);
        clean = true;
      } catch (err) {
        this.deps.logger.warn({ err: { message: (err as Error).message } }, 'could not publish offline before disconnecting; the broker sends the will instead');
      }
    }
    this.client = undefined;
    // A DISCONNECT only to a broker that just answered; otherwise drop the socket (the will says `offline`).
    await withTimeout(client.endAsync(!clean), 500).catch(() => undefined);
    // end() does nothing while mqtt.js is already disconnecting (a reconnect in progress) and may wait for
    // acknowledgements that never come: make sure no socket outlives stop().
    client.stream?.destroy();
    this.dropInFlight(client);
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.catch(() => undefined).finally(() => this.pending.delete(p));
  }

  private onClose(): void {
    if (this.stopping || !this.client) return;
    this.dropInFlight(this.client);
    if (this.wasConnected) this.deps.logger.warn({ url: this.url }, 'MQTT disconnected; still capturing and storing, will republish on reconnect');
    this.wasConnected = false;
    const [first, max] = this.deps.reconnectMs ?? [1000, 5000];
    const delay = Math.min(max, first * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  /**
   * Fails every QoS 1 publish (and subscribe) still awaiting its acknowledgement. mqtt.js keeps them to
   * resend on a resumed session; moncam uses clean sessions and republishes the latest state itself on
   * reconnect, so kept ones would only pile up, with their callbacks (and our awaits) pending forever.
   */
  private dropInFlight(client: MqttClient): void {
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
  }

  /**
   * QoS 1 publish on connection `gen` only, and only while it is up: mqtt.js would otherwise store the
   * message for the next connection (it does for QoS 1 by default), and nothing sent while the broker
   * is down is wanted later except the latest state, which onConnect republishes.
   */
  private send(client: MqttClient, gen: number, topic: string, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
    if (client !== this.client || gen !== this.generation || !client.connected) return Promise.reject(new Error('MQTT not connected'));
    return client.publishAsync(topic, payload, { qos: QOS, retain: opts.retain ?? false }).then(() => undefined);
  }

  private async onConnect(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    const { topics, logger } = this.deps;
    const gen = ++this.generation;
    this.attempt = 0;
    this.wasConnected = true;
    logger.info({ url: this.url }, 'MQTT connected');
    try {
      // rap (MQTT 5 retain-as-published): a retained command keeps its flag even when delivered live, so it can be ignored.
      const commandSub = { qos: QOS, rap: true };
      await client.subscribeAsync({
        [topics.commandAll]: commandSub,
        [topics.command]: commandSub,
        ...(this.deps.timelapses ? { [topics.timelapseCommand]: commandSub } : {}),
        [topics.haStatus]: { qos: QOS },
      });
      await this.forgetPreviousIdentity(client, gen);
      await this.publishAll(client, gen);
    } catch (err) {
      logger.warn({ err }, 'MQTT set-up after connect failed; it is retried on the next connect');
    }
  }

  /** After `camera.id` (or the topics) changed: empty retained payloads on what the old identity left behind. */
  private async forgetPreviousIdentity(client: MqttClient, gen: number): Promise<void> {
    const file = this.deps.announcedFile;
    if (!file) return;
    const { topics, cameraId, discovery } = this.deps;
    const current: Announced = {
      cameraId,
      topics: { availability: topics.availability, image: topics.image, imageAttributes: topics.imageAttributes, lastCapture: topics.lastCapture, timelapse: topics.timelapse },
      discoveryTopics: discovery.enabled ? discoveryTopics(discovery.context) : [],
    };
    let previous: Announced | undefined;
    try {
      previous = JSON.parse(await fs.readFile(file, 'utf8')) as Announced;
    } catch {
      previous = undefined; // first run, or unreadable: nothing to clean up
    }
    if (previous && Array.isArray(previous.discoveryTopics) && previous.topics) {
      const stale = [...previous.discoveryTopics, ...Object.values(previous.topics)].filter(
        (t) => typeof t === 'string' && !current.discoveryTopics.includes(t) && !Object.values(current.topics).includes(t),
      );
      if (stale.length) {
        this.deps.logger.info({ previous: previous.cameraId, topics: stale.length }, 'camera id or topics changed: removing the old device from Home Assistant');
        await Promise.all(stale.map((t) => this.send(client, gen, t, '', { retain: true })));
      }
    }
    if (JSON.stringify(previous) !== JSON.stringify(current)) await fs.writeFile(file, JSON.stringify(current, null, 2) + '\n');
  }

  /** Discovery, `online`, and the latest state: a restarted broker may have lost retained messages. */
  private async publishAll(client: MqttClient, gen = this.generation): Promise<void> {
    await this.publishDiscovery(client, gen);
    await this.send(client, gen, this.deps.topics.availability, 'online', { retain: true });
    await this.publishLatest(client, gen);
    const timelapse = this.deps.timelapses?.latest();
    if (timelapse) await this.send(client, gen, this.deps.topics.timelapse, JSON.stringify(timelapse), { retain: true });
  }

  private async publishDiscovery(client: MqttClient, gen: number): Promise<void> {
    const { enabled, legacy, context } = this.deps.discovery;
    if (!enabled) return;
    const messages = legacy ? entityDiscovery(context) : [deviceDiscovery(context)];
    await Promise.all(messages.map((m) => this.send(client, gen, m.topic, JSON.stringify(m.payload), { retain: true })));
  }

  /** The newest stored still, read when its turn comes: whatever was taken while the broker was down. */
  private publishLatest(client: MqttClient, gen: number): Promise<void> {
    return this.publishStateSerially(async () => {
      const latest = this.deps.store.latest();
      if (!latest) return;
      const [preview, still] = await Promise.all([fs.readFile(latest.files.preview), this.deps.store.read(latest.id)]);
      await this.publishState(client, gen, still ?? latest, preview);
    });
  }

  /**
   * Runs retained-state publishes one at a time. While one is in flight, a newer one replaces any job
   * waiting behind it (its caller gets the newer one's outcome), so a slow or stalled broker holds at
   * most one still's messages in flight and one more still in memory; the retained state cannot go
   * back to an older still because two publishes overtook each other.
   */
  private publishStateSerially(job: () => Promise<void>): Promise<void> {
    if (!this.stateBusy) return this.runStateJob(job);
    if (this.stateNext) {
      this.stateNext.job = job;
      return this.stateNext.done;
    }
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.stateNext = { job, done, resolve, reject };
    return done;
  }

  private async runStateJob(job: () => Promise<void>): Promise<void> {
    this.stateBusy = true;
    try {
      // A safety net only: publishes settle on their PUBACK, on the close of their connection
      // (dropInFlight) or at the keepalive timeout; a job that still hangs must not block newer stills forever.
      await withTimeout(job(), STATE_JOB_TIMEOUT_MS);
    } finally {
      const next = this.stateNext;
      this.stateNext = undefined;
      this.stateBusy = false;
      if (next) this.runStateJob(next.job).then(next.resolve, next.reject);
    }
  }

  private async publishState(client: MqttClient, gen: number, capture: Still, preview: Buffer): Promise<void> {
    const { topics, maxPacketSize, logger } = this.deps;
    // Topic, header and properties take well under 1 KiB.
    const fits = maxPacketSize === undefined || preview.length + 1024 <= maxPacketSize;
    if (!fits) logger.error({ id: capture.id, bytes: preview.length, max_packet_size: maxPacketSize }, 'MQTT preview larger than broker.max_packet_size: not published; lower mqtt.preview_size or preview_quality, or raise broker.max_packet_size');
    await Promise.all([
      fits ? this.send(client, gen, topics.image, preview, { retain: true }) : Promise.resolve(),
      this.send(client, gen, topics.imageAttributes, JSON.stringify(stillAttributes(capture, preview.length)), { retain: true }),
      this.send(client, gen, topics.lastCapture, capture.capturedAtIso, { retain: true }),
    ]);
  }

  private async publishCapture(record: CaptureRecord): Promise<void> {
    const client = this.client;
    const { topics, logger } = this.deps;
    if (!client?.connected) {
      logger.info({ id: record.capture.id }, 'MQTT offline: still stored; it is published when the broker is back');
      return;
    }
    const gen = this.generation;
    const { meta } = record.capture;
    const ids = meta.requests.flatMap((r) => (r.requestId ? [r.requestId] : []));
    const source = meta.requests.find((r) => r.source)?.source;
    const { scene } = record;
    const sceneFields = { brightness: scene.brightness, change: scene.change ?? null };
    try {
      // The retained state may be superseded by a newer still (latest wins); the event is published for
      // every still all the same, after the state it refers to or a newer one: it answers the request ids.
      await this.publishStateSerially(() => this.publishState(client, gen, record.capture, record.preview));
      await this.send(
        client,
        gen,
        topics.event,
        JSON.stringify({
          event_type: 'captured',
          ...(ids.length ? { id: ids[0], ids } : {}),
          capture_id: record.capture.id,
          trigger: meta.trigger,
          ...(source ? { source } : {}),
          captured_at: record.capture.capturedAtIso,
          width: meta.width,
          height: meta.height,
          ...sceneFields,
        }),
      );
      if (scene.changed) {
        await this.send(
          client,
          gen,
          topics.event,
          JSON.stringify({
            event_type: 'changed',
            capture_id: record.capture.id,
            trigger: meta.trigger,
            captured_at: record.capture.capturedAtIso,
            ...sceneFields,
            ...(scene.previousBrightness !== undefined ? { previous_brightness: scene.previousBrightness } : {}),
          }),
        );
      }
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message }, id: record.capture.id }, 'MQTT publish of a still failed; the latest still is republished on reconnect');
    }
  }

  private async publishFailure(failure: CaptureFailure): Promise<void> {
    const ids = failure.requests.flatMap((r) => (r.requestId ? [r.requestId] : []));
    await this.publishEvent({
      event_type: 'failed',
      ...(ids.length ? { id: ids[0], ids } : {}),
      trigger: failure.trigger,
      error: failure.error.code,
      message: failure.error.message,
      ...(failure.error.detail ? { detail: failure.error.detail } : {}),
      at: failure.at.toISOString(),
    });
  }

  /** Retained (the latest timelapse, for HA's sensor and image entity) and as a `timelapse` event. */
  private async publishTimelapse(record: TimelapseRecord): Promise<void> {
    const client = this.client;
    if (!client?.connected) return; // the latest is republished on connect
    try {
      // The retained record is the newest day's, as republished on connect: an older day rebuilt on request only gets its event.
      const latest = this.deps.timelapses?.latest();
      if (!latest || record.day >= latest.day) await this.send(client, this.generation, this.deps.topics.timelapse, JSON.stringify(record), { retain: true });
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message }, day: record.day }, 'MQTT publish of a timelapse failed; it is republished on reconnect');
      return;
    }
    await this.publishEvent({ event_type: 'timelapse', ...record });
  }

  private async publishEvent(event: Record<string, unknown>): Promise<void> {
    const client = this.client;
    if (!client?.connected) return; // events are moments: not replayed hours later
    try {
      await client.publishAsync(this.deps.topics.event, JSON.stringify(event), { qos: QOS });
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
      if (topic !== topics.commandAll && topic !== topics.command && topic !== topics.timelapseCommand) return;
      if (retained) {
        // A retained command would fire on every reconnect; the contract says never honour it.
        if (this.logs.retained.allow()) logger.warn({ topic, bytes: payload.length }, `ignored a retained command; clear it with: mosquitto_pub -r -n -t ${topic}`);
        return;
      }
      if (topic === topics.timelapseCommand) this.handleTimelapseCommand(topic, payload);
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
      void this.publishEvent({ event_type: 'failed', ...(cmd.id ? { id: cmd.id } : {}), trigger: 'mqtt', error: cmd.error, message: cmd.message, at: new Date().toISOString() });
      return;
    }
    if (this.logs.accepted.allow()) logger.info({ topic, id: cmd.id, source: cmd.source }, 'MQTT capture command');
    this.deps.captures.capture('mqtt', { ...cmd.options, ...(cmd.id ? { requestId: cmd.id } : {}), ...(cmd.source ? { source: cmd.source } : {}) }).catch(() => {
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
      void this.publishEvent({ event_type: 'failed', what: 'timelapse', ...(cmd.id ? { id: cmd.id } : {}), trigger: 'mqtt', error: cmd.error, message: cmd.message, at: now.toISOString() });
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
    this.birthTimer = setTimeout(() => {
      const client = this.client;
      if (!client?.connected) return;
      this.deps.logger.info('Home Assistant came online: republishing discovery and state');
      this.publishAll(client).catch((err: unknown) => this.deps.logger.warn({ err }, 'republish after HA birth failed'));
    }, min + Math.random() * (max - min));
  }
}


function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
