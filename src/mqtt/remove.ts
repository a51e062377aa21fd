// `moncam mqtt remove`: empty retained payloads on everything this camera announced, so HA drops the device.
import mqtt, { type IClientOptions } from 'mqtt';
import { discoveryTopics, type DiscoveryContext } from './discovery.ts';

export interface RemoveResult {
  topics: string[];
}

export async function removeFromBroker(url: string, options: IClientOptions, ctx: DiscoveryContext): Promise<RemoveResult> {
  const client = await mqtt.connectAsync(url, { ...options, clientId: `${options.clientId ?? 'moncam'}_remove`, reconnectPeriod: 0, connectTimeout: 5000 });
  const t = ctx.topics;
  const topics = [...discoveryTopics(ctx), t.image, t.imageAttributes, t.lastCapture, t.availability];
  try {
    await Promise.all(topics.map((topic) => client.publishAsync(topic, '', { qos: 1, retain: true })));
  } finally {
    await client.endAsync();
  }
  return { topics };
}
