// What `moncam run` prints on stdout once it is up: where the page is (on this machine's LAN addresses, where
// phones and Home Assistant find it, not only localhost), how MQTT clients log in, and a generated password.
import os from 'node:os';
import type { Config } from '../config/schema.ts';

export interface BannerInput {
  config: Config;
  /** The bound web port, when the page is served. */
  webPort?: number;
  /** The bound embedded broker port, when it runs. */
  brokerPort?: number;
  /** A separate MQTT password is set (`moncam passwd --mqtt`). */
  mqttPasswordSet: boolean;
  /** The password generated on this start, shown this once. */
  generated?: string;
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Hosts a client on the LAN can use for a listener on `host`: every external IPv4 address for a wildcard. */
export function reachableHosts(host: string, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  if (!WILDCARD.has(host)) return [host];
  const lan = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => i.family === 'IPv4' && !i.internal)
    .map((i) => i.address);
  return [...new Set(lan), 'localhost'];
}

const url = (scheme: string, host: string, port: number, tail = '') => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${tail}`;

export function startBanner(b: BannerInput): string {
  const { config } = b;
  const line = '='.repeat(64);
  const out = [line, '  moncam is running'];
  if (b.webPort !== undefined) {
    const [first, ...others] = reachableHosts(config.web.host, b.interfaces);
    out.push(`  Web page:  ${url('http', first!, b.webPort, '/')}`);
    for (const h of others) out.push(`             ${url('http', h, b.webPort, '/')}`);
  }
  if (b.brokerPort !== undefined) {
    const [first] = reachableHosts(config.broker.host, b.interfaces);
    const password = b.mqttPasswordSet ? 'the MQTT password (set with npx moncam passwd --mqtt)' : 'the web password';
    out.push(`  MQTT:      ${url('mqtt', first!, b.brokerPort)}, user ${config.broker.username}, password: ${password}`);
  } else if (config.mqtt.url) {
    out.push(`  MQTT:      publishing to ${config.mqtt.url}`);
  }
  if (b.generated) {
    out.push('', '  No web password was set, so one was generated:', '', `      ${b.generated}`, '');
    out.push('  It is shown only this once; only its hash is stored in', `  ${config.web.password_file}`);
  }
  out.push(`  Change the password: npx moncam passwd${b.brokerPort !== undefined ? '   (a separate MQTT one: npx moncam passwd --mqtt)' : ''}`);
  out.push(line);
  return `\n${out.join('\n')}\n\n`;
}
