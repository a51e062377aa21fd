// How moncam's own MQTT clients reach the broker: the configured one, or the embedded one on loopback.
import fs from 'node:fs/promises';
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config/schema.ts';

/** Where the daemon's own MQTT client connects: the configured broker, else the embedded one. */
export function brokerUrl(config: Config, broker?: { port: number }): string {
  if (config.mqtt.url) return config.mqtt.url;
  // Plain, even with mqtts on: loopback traffic never leaves the machine. Without plain_remote the plain
  // listener is on 127.0.0.1 only.
  const host = !config.broker.plain_remote || ['0.0.0.0', '::', ''].includes(config.broker.host) ? '127.0.0.1' : config.broker.host;
  return `mqtt://${host.includes(':') ? `[${host}]` : host}:${broker?.port ?? config.broker.port}`;
}

export async function clientOptions(config: Config): Promise<IClientOptions> {
  const m = config.mqtt;
  const read = async (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return await fs.readFile(file);
    } catch (err) {
      throw new Error(`mqtt.${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  const [ca, cert, key] = await Promise.all([read(m.ca, 'ca'), read(m.cert, 'cert'), read(m.key, 'key')]);
  return {
    clientId: m.client_id ?? `moncam_${config.camera.id}`,
    clean: true,
    // MQTT 5 for external brokers (Mosquitto 1.6+, the HA add-on) so retained commands stay recognisable;
    // the bridge falls back to 3.1.1 when a broker refuses it. aedes (embedded) speaks 3.1.1 and guards itself.
    protocolVersion: m.url ? 5 : 4,
    connectTimeout: 10_000,
    keepalive: 30,
    // mqtt-packet otherwise pre-builds a Buffer for each of the 65,536 two-byte numbers on its first write
    // (~7 MB of heap, kept for good). aedes shares that module, so this turns it off for the embedded broker
    // too: the client is created before the broker has written anything (docs/memory.md).
    writeCache: false,
    ...(m.url && m.username ? { username: m.username } : {}),
    ...(m.url && m.password ? { password: m.password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}
