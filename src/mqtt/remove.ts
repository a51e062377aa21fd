// `moncam mqtt remove`: empty retained payloads on everything this camera announced, so HA drops the device.
import mqtt, { type IClientOptions } from 'mqtt';
import { discoveryTopics, type DiscoveryContext } from './discovery.ts';
import { refusedProtocol } from './protocol.ts';

export interface RemoveResult {
  topics: string[];
}

export async function removeFromBroker(url: string, options: IClientOptions, ctx: DiscoveryContext): Promise<RemoveResult> {
  const opts: IClientOptions = { ...options, clientId: `${options.clientId ?? 'moncam'}_remove`, reconnectPeriod: 0, connectTimeout: 5000 };
  let client;
  try {
    client = await mqtt.connectAsync(url, opts);
  } catch (err) {
    if (opts.protocolVersion !== 5 || !refusedProtocol(err)) throw err;
    client = await mqtt.connectAsync(url, { ...opts, protocolVersion: 4 }); // an MQTT 3.1.1-only broker
  }
  const t = ctx.topics;
  const settings = [t.schedule, t.interval, t.nightExposure, t.quality];
  const topics = [...discoveryTopics(ctx), t.image, t.imageAttributes, t.lastCapture, t.timelapse, t.health, ...settings, t.availability];
  try {
    await Promise.all(topics.map((topic) => client.publishAsync(topic, '', { qos: 1, retain: true })));
  } finally {
    await client.endAsync();
  }
  return { topics };
}
