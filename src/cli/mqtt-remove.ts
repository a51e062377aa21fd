// `moncam mqtt remove`: takes this camera out of Home Assistant (empty retained discovery and state).
import type { Config } from '../config/schema.ts';
import { brokerUrl, clientOptions } from '../mqtt/connection.ts';
import { removeFromBroker } from '../mqtt/remove.ts';
import { mqttTopics } from '../mqtt/topics.ts';
import { version } from '../version.ts';
import type { CliIo } from './io.ts';

export async function cmdMqttRemove(config: Config, io: CliIo): Promise<number> {
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
