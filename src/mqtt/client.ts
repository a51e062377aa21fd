// moncam's connection to the MQTT broker: connect with a will, reconnect with backoff (mqtt.js only
// retries at a fixed period), fall back from MQTT 5 to 3.1.1, and number each connection so that work
// started for one never publishes on a later one. What is published is the bridge's business.
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { refusedProtocol } from './protocol.ts';

export const QOS = 1 as const;

export interface MqttConnectionOptions {
  url: string;
  clientOptions: IClientOptions;
  /** Retained `offline` here when the connection drops without a goodbye. */
  willTopic: string;
  logger: Logger;
  /** Reconnect backoff: first and longest wait in ms. */
  reconnectMs?: [number, number];
}

export interface MqttConnectionEvents {
  /** A new connection is up; `gen` identifies it for send(). */
  connect: [gen: number];
  message: [topic: string, payload: Buffer, retained: boolean];
}

export class MqttConnection extends EventEmitter<MqttConnectionEvents> {
  private readonly opts: MqttConnectionOptions;
  private mqttClient?: MqttClient;
  private reconnectTimer?: NodeJS.Timeout;
  private attempt = 0;
  private stopping = false;
  private wasConnected = false;
  private gen = 0;

  constructor(opts: MqttConnectionOptions) {
    super();
    this.opts = opts;
  }

  get connected(): boolean {
    return Boolean(this.mqttClient?.connected);
  }

  /** The current connection's number (bumped on every connect). */
  get generation(): number {
    return this.gen;
  }

  /** The mqtt.js client (diagnostics and tests). */
  get client(): MqttClient | undefined {
    return this.mqttClient;
  }

  /** Connects in the background: a broker that is down never blocks or crashes the daemon. */
  start(): void {
    const { url, logger } = this.opts;
    this.stopping = false;
    const client = mqtt.connect(url, {
      ...this.opts.clientOptions,
      will: { topic: this.opts.willTopic, payload: Buffer.from('offline'), qos: QOS, retain: true },
      reconnectPeriod: 0, // reconnects are ours, with backoff
      queueQoSZero: false,
      resubscribe: false, // the bridge subscribes on every connect itself
    });
    this.mqttClient = client;
    client.on('connect', () => {
      if (this.stopping || client !== this.mqttClient) return;
      const gen = ++this.gen;
      this.attempt = 0;
      this.wasConnected = true;
      logger.info({ url }, 'MQTT connected');
      this.emit('connect', gen);
    });
    client.on('message', (topic, payload, packet) => this.emit('message', topic, payload, packet.retain));
    client.on('error', (err) => {
      if (client.options.protocolVersion === 5 && refusedProtocol(err)) {
        // An MQTT 3.1.1-only broker: fall back. Retained commands published live then reach us unflagged.
        client.options.protocolVersion = 4;
        logger.warn(
          { url },
          'the MQTT broker does not speak MQTT 5: using 3.1.1; a retained command published while moncam runs cannot be told from a live one there',
        );
        return;
      }
      // Logged once per outage: a broker that is down for hours must not flood the log.
      if (this.attempt <= 1) logger.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code }, url }, 'MQTT connection error');
    });
    client.on('close', () => this.onClose());
  }

  /**
   * Publishes `offline` (after `drain`, both bounded) and disconnects, within about 2 s in all cases (the
   * CLI's stop deadline counts on it): a broker that is down, being connected to, or hung must not hold it up.
   */
  async stop(drain: () => Promise<unknown>): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    const client = this.mqttClient;
    if (!client) return;
    let clean = false;
    if (client.connected) {
      await withTimeout(drain(), 1000).catch(() => undefined);
      try {
        await withTimeout(this.send(this.gen, this.opts.willTopic, 'offline', { retain: true }), 1000);
        clean = true;
      } catch (err) {
        this.opts.logger.warn(
          { err: { message: (err as Error).message } },
          'could not publish offline before disconnecting; the broker sends the will instead',
        );
      }
    }
    this.mqttClient = undefined;
    // A DISCONNECT only to a broker that just answered; otherwise drop the socket (the will says `offline`).
    await withTimeout(client.endAsync(!clean), 500).catch(() => undefined);
    // end() does nothing while mqtt.js is already disconnecting (a reconnect in progress) and may wait for
    // acknowledgements that never come: make sure no socket outlives stop().
    client.stream?.destroy();
    dropInFlight(client);
  }

  /**
   * QoS 1 publish on connection `gen` only, and only while it is up: mqtt.js would otherwise store the
   * message for the next connection (it does for QoS 1 by default), and nothing sent while the broker
   * is down is wanted later except the latest state, which the bridge republishes on connect.
   */
  send(gen: number, topic: string, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
    const client = this.mqttClient;
    if (!client || gen !== this.gen || !client.connected) return Promise.reject(new Error('MQTT not connected'));
    return client.publishAsync(topic, payload, { qos: QOS, retain: opts.retain ?? false }).then(() => undefined);
  }

  async subscribe(gen: number, subscriptions: ISubscriptionMap): Promise<void> {
    const client = this.mqttClient;
    if (!client || gen !== this.gen || !client.connected) throw new Error('MQTT not connected');
    await client.subscribeAsync(subscriptions);
  }

  private onClose(): void {
    if (this.stopping || !this.mqttClient) return;
    dropInFlight(this.mqttClient);
    if (this.wasConnected) this.opts.logger.warn({ url: this.opts.url }, 'MQTT disconnected; still capturing and storing, will republish on reconnect');
    this.wasConnected = false;
    const [first, max] = this.opts.reconnectMs ?? [1000, 5000];
    const delay = Math.min(max, first * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopping) this.mqttClient?.reconnect();
    }, delay);
  }
}

/**
 * Fails every QoS 1 publish (and subscribe) still awaiting its acknowledgement. mqtt.js keeps them to
 * resend on a resumed session; moncam uses clean sessions and republishes the latest state itself on
 * reconnect, so kept ones would only pile up, with their callbacks (and our awaits) pending forever.
 */
function dropInFlight(client: MqttClient): void {
  for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
