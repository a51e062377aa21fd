// The embedded MQTT broker (aedes), used when no external broker is configured, so moncam works with zero setup.
import net from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { readPasswordHash, verifyPassword } from '../auth/password.ts';

export interface EmbeddedBrokerDeps {
  host: string;
  port: number;
  /** The user name remote clients (Home Assistant) log in with. */
  username: string;
  /** The web password's hash file: remote clients use the same password (set with `moncam passwd`). */
  passwordFile: string;
  /** moncam command topics (any camera's): a retained publish there is stored but never delivered live. */
  isCommandTopic: (topic: string) => boolean;
  logger: Logger;
}

const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function authError(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

/**
 * Anonymous clients only from loopback (the daemon itself, local tools); everyone else needs
 * `broker.username` and the moncam password. The hash file is read per attempt, so `moncam passwd`
 * takes effect at once.
 */
export async function authenticateClient(deps: Pick<EmbeddedBrokerDeps, 'username' | 'passwordFile'>, remoteAddress: string | undefined, username: string | undefined, password: Buffer | undefined): Promise<AuthenticateError | null> {
  if (username === undefined && password === undefined) {
    return isLoopback(remoteAddress) ? null : authError(NOT_AUTHORIZED, 'anonymous clients are only allowed from this machine');
  }
  if (username !== deps.username || !password) return authError(BAD_CREDENTIALS, 'bad user name or password');
  const hash = await readPasswordHash(deps.passwordFile);
  if (!hash || !(await verifyPassword(hash, password.toString('utf8')))) return authError(BAD_CREDENTIALS, 'bad user name or password');
  return null;
}

export class EmbeddedBroker {
  private readonly deps: EmbeddedBrokerDeps;
  private aedes?: Aedes;
  private server?: net.Server;

  constructor(deps: EmbeddedBrokerDeps) {
    this.deps = deps;
  }

  /** The port actually listened on (differs from the configured one when that is 0). */
  get port(): number {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : this.deps.port;
  }

  async start(): Promise<void> {
    const { logger, isCommandTopic } = this.deps;
    // MQTT 3.1.1 delivers a retained publish to clients already subscribed with the retain flag cleared
    // (MQTT-3.3.1-9), so the daemon could not tell it from a button press and would honour it (an empty
    // retained message, `mosquitto_pub -r -n` to clear one, would take a still). Such publishes are kept
    // as retained but not forwarded live; on its next connect the daemon sees them flagged and ignores them.
    const retainedCommands = new WeakSet<Buffer>();
    const aedes = await Aedes.createBroker({
      authorizePublish: (client, packet, done) => {
        if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are reserved'));
        if (packet.retain && isCommandTopic(packet.topic) && Buffer.isBuffer(packet.payload)) {
          packet.payload = Buffer.from(packet.payload); // a buffer of our own, so the mark cannot be shared
          retainedCommands.add(packet.payload);
          logger.warn({ client: client?.id, topic: packet.topic }, 'retained command stored but not delivered: retained commands are never honoured');
        }
        done(null);
      },
      authorizeForward: (_client, packet) => (!packet.retain && Buffer.isBuffer(packet.payload) && retainedCommands.has(packet.payload) ? undefined : packet),
      authenticate: (client: Client, username, password, done) => {
        const remote = (client.conn as net.Socket).remoteAddress;
        authenticateClient(this.deps, remote, username, password).then(
          (err) => {
            if (err) logger.warn({ client: client.id, remote, reason: err.message }, 'MQTT client refused');
            done(err, !err);
          },
          (err: unknown) => {
            logger.error({ err, client: client.id }, 'MQTT authentication failed');
            done(authError(NOT_AUTHORIZED, 'authentication failed'), false);
          },
        );
      },
    });
    aedes.on('clientError', (client, err) => logger.debug({ client: client?.id, err: err.message }, 'MQTT client error'));
    const server = net.createServer((socket) => aedes.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(`cannot start the embedded MQTT broker: port ${this.deps.port} on ${this.deps.host} is in use (another broker? set mqtt.url to use it, or broker.port)`)
            : err,
        );
      });
      server.listen(this.deps.port, this.deps.host, () => resolve());
    });
    server.on('error', (err) => logger.error({ err }, 'embedded MQTT broker error'));
    this.aedes = aedes;
    this.server = server;
    logger.info({ host: this.deps.host, port: this.port, username: this.deps.username }, 'embedded MQTT broker listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    // aedes first: it drops client connections, which server.close() would otherwise wait for.
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
