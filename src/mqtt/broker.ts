// The embedded MQTT broker (aedes), used when no external broker is configured, so moncam works with zero
// setup. Bounded like Mosquitto, since its port is open to the whole LAN: packet size checked while
// parsing, a CONNECT deadline, a connection cap, few connections per address before login, and password
// checks through the limiter and queue the web login uses. With a certificate it also listens for mqtts;
// TLS sockets take the same path and count against the same caps from the moment they are accepted.
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { limitedLog, type LogLimiter } from '../log.ts';
import { authError, authenticateClient, isLoopback, SERVER_UNAVAILABLE, type BrokerAuthDeps } from './broker-auth.ts';
import { PacketGuard, PacketGuardError } from './packet-guard.ts';

export interface EmbeddedBrokerDeps extends BrokerAuthDeps {
  host: string;
  port: number;
  /** mqtts listener on host:port with this pair (broker.tls_port, broker.tls_cert/tls_key). */
  tls?: { port: number; cert: Buffer; key: Buffer };
  /** false: the plain listener binds 127.0.0.1 only, so other machines must use mqtts (broker.plain_remote). */
  plainRemote?: boolean;
  /** Largest MQTT packet accepted, in bytes (broker.max_packet_size). */
  maxPacketSize: number;
  /** Connections at once from other machines (broker.max_connections); loopback is never refused. */
  maxConnections: number;
  /** moncam command topics (any camera's): a retained publish there is stored but never delivered live. */
  isCommandTopic: (topic: string) => boolean;
  logger: Logger;
  /** Time from TCP connect to CONNECT, TLS handshake included (tests shorten it). */
  connectTimeoutMs?: number;
}

/** A client that has not sent CONNECT by then is dropped (aedes' default is 30 s). */
export const CONNECT_TIMEOUT_MS = 5000;
/** Connections per address that have not logged in yet: HA opens one at a time. */
export const MAX_PENDING_PER_ADDRESS = 4;

/** What the broker knows of one accepted connection. */
interface Peer {
  address: string | undefined;
  guard: PacketGuard;
  /** Still counted in `pending` (not logged in yet). */
  pending: boolean;
}

export class EmbeddedBroker {
  private readonly deps: EmbeddedBrokerDeps;
  private aedes?: Aedes;
  private server?: net.Server;
  private tlsServer?: net.Server;
  /** Every accepted socket (TLS: the TLS socket), so stop() can end those aedes does not know yet. */
  private readonly sockets = new Set<net.Socket>();
  private readonly peers = new WeakMap<object, Peer>();
  private readonly pending = new Map<string, number>();
  private remoteConnections = 0;
  private refusedLog?: LogLimiter;
  private droppedLog?: LogLimiter;

  constructor(deps: EmbeddedBrokerDeps) {
    this.deps = deps;
  }

  /** The port actually listened on (differs from the configured one when that is 0). */
  get port(): number {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : this.deps.port;
  }

  /** The mqtts port actually listened on, or undefined without TLS. */
  get tlsPort(): number | undefined {
    const addr = this.tlsServer?.address();
    return addr && typeof addr === 'object' ? addr.port : this.deps.tls?.port;
  }

  /** Connections from other machines now (TLS handshakes included), and those not logged in yet. */
  get connections(): { remote: number; pending: number } {
    let pending = 0;
    for (const n of this.pending.values()) pending += n;
    return { remote: this.remoteConnections, pending };
  }

  /** Where the plain listener binds: broker.host, or loopback only when the LAN must use TLS. */
  private get plainHost(): string {
    return this.deps.plainRemote === false ? '127.0.0.1' : this.deps.host;
  }

  async start(): Promise<void> {
    const { logger, isCommandTopic } = this.deps;
    this.refusedLog = limitedLog(logger, 'warn', 'refused MQTT clients');
    this.droppedLog = limitedLog(logger, 'warn', 'dropped MQTT connections');
    // MQTT 3.1.1 delivers a retained publish to clients already subscribed with the retain flag cleared
    // (MQTT-3.3.1-9), so the daemon could not tell it from a button press and would honour it (an empty
    // retained message, `mosquitto_pub -r -n` to clear one, would take a still). Such publishes are kept
    // as retained but not forwarded live; on its next connect the daemon sees them flagged and ignores them.
    const retainedCommands = new WeakSet<Buffer>();
    const aedes = await Aedes.createBroker({
      connectTimeout: this.deps.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      authorizePublish: (client, packet, done) => {
        if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are reserved'));
        if (packet.retain && isCommandTopic(packet.topic) && Buffer.isBuffer(packet.payload)) {
          packet.payload = Buffer.from(packet.payload); // a buffer of our own, so the mark cannot be shared
          retainedCommands.add(packet.payload);
          // An empty retained payload clears a retained command (what the README tells users to do).
          if (packet.payload.length === 0) logger.debug({ client: client?.id, topic: packet.topic }, 'retained command cleared');
          else logger.warn({ client: client?.id, topic: packet.topic }, 'retained command stored but not delivered: retained commands are never honoured');
        }
        done(null);
      },
      authorizeForward: (_client, packet) => (!packet.retain && Buffer.isBuffer(packet.payload) && retainedCommands.has(packet.payload) ? undefined : packet),
      authenticate: (client: Client, username, password, done) => {
        const peer = this.peers.get(client.conn);
        authenticateClient(this.deps, peer?.address, username, password).then(
          (err) => {
            if (err) {
              if (this.refusedLog!.allow()) logger.warn({ client: client.id, remote: peer?.address, reason: err.message }, 'MQTT client refused');
            } else if (peer) {
              this.loggedIn(peer);
            }
            done(err, !err);
          },
          (err: unknown) => {
            logger.error({ err, client: client.id }, 'MQTT authentication failed');
            done(authError(SERVER_UNAVAILABLE, 'authentication failed'), false);
          },
        );
      },
    });
    aedes.on('clientError', (client, err) => logger.debug({ client: client?.id, err: err.message }, 'MQTT client error'));
    aedes.on('connectionError', (client, err) => {
      if (err instanceof PacketGuardError) {
        if (this.droppedLog!.allow())
          logger.warn(
            { remote: this.peers.get(client.conn)?.address, reason: err.code, declared: err.declared, limit: this.deps.maxPacketSize },
            'MQTT connection dropped',
          );
      } else logger.debug({ err: err.message }, 'MQTT connection error');
    });
    this.aedes = aedes;
    const t = this.deps.tls;
    try {
      this.server = await this.listen(
        net.createServer((socket) => this.accept(aedes, socket)),
        this.plainHost,
        this.deps.port,
        'broker.port',
      );
      if (t) {
        const context = tls.createSecureContext({ cert: t.cert, key: t.key });
        this.tlsServer = await this.listen(
          net.createServer((socket) => this.accept(aedes, socket, context)),
          this.deps.host,
          t.port,
          'broker.tls_port',
        );
      }
    } catch (err) {
      await this.stop(); // neither listener nor aedes is left behind
      throw err;
    }
    logger.info(
      {
        host: this.plainHost,
        port: this.port,
        ...(t ? { tls_host: this.deps.host, tls_port: this.tlsPort } : {}),
        username: this.deps.username,
        max_packet_size: this.deps.maxPacketSize,
      },
      'embedded MQTT broker listening',
    );
  }

  private async listen(server: net.Server, host: string, port: number, setting: string): Promise<net.Server> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? Object.assign(
                new Error(
                  `cannot start the embedded MQTT broker: port ${port} on ${host} is in use, likely by another broker (Mosquitto, Home Assistant's add-on). To use that broker set mqtt.url (MONCAM_MQTT_URL=mqtt://localhost:${port}); to run moncam's own on another port set ${setting}`,
                ),
                { code: 'port_in_use' },
              )
            : err,
        );
      });
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.deps.logger.error({ err }, 'embedded MQTT broker error'));
    return server;
  }

  async stop(): Promise<void> {
    const servers = [this.server, this.tlsServer];
    const aedes = this.aedes;
    this.server = undefined;
    this.tlsServer = undefined;
    this.aedes = undefined;
    // aedes first: it drops its clients; sockets it does not know yet (before CONNECT, TLS handshakes)
    // are destroyed here, since server.close() would wait for them.
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(servers.map((server) => server && new Promise<void>((resolve) => server.close(() => resolve()))));
    this.refusedLog?.flush();
    this.droppedLog?.flush();
  }

  /**
   * Every accepted socket comes through here, plain or TLS: the caps, then aedes reads it through the
   * packet guard. A TLS socket is counted from TCP accept, so handshakes in progress hold slots too, and
   * aedes' CONNECT deadline runs from here: handshake and CONNECT together get connectTimeoutMs.
   * Loopback (the daemon's own client, local tools) is never refused for the caps.
   */
  private accept(aedes: Aedes, socket: net.Socket, secureContext?: tls.SecureContext): void {
    const address = socket.remoteAddress;
    const remote = !isLoopback(address);
    const key = address ?? 'unknown';
    if (remote && (this.remoteConnections >= this.deps.maxConnections || (this.pending.get(key) ?? 0) >= MAX_PENDING_PER_ADDRESS)) {
      const reason = this.remoteConnections >= this.deps.maxConnections ? 'max_connections' : 'too_many_pending';
      if (this.droppedLog!.allow())
        this.deps.logger.warn(
          { remote: address, reason, limit: reason === 'max_connections' ? this.deps.maxConnections : MAX_PENDING_PER_ADDRESS },
          'MQTT connection dropped',
        );
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    // Server-side TLS over the accepted socket (no client certificates); the handshake starts with the
    // client's first bytes. Failures (wrong CA on the client, plain MQTT sent to this port) end up as
    // errors on it, which close it like a reset.
    const stream = secureContext ? new tls.TLSSocket(socket, { isServer: true, secureContext }) : socket;
    this.sockets.add(stream);
    const guard = new PacketGuard(this.deps.maxPacketSize);
    const conn = Duplex.from({ readable: guard, writable: stream });
    const peer: Peer = { address, guard, pending: remote };
    this.peers.set(conn, peer);
    if (remote) {
      this.remoteConnections++;
      this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    }
    stream.pipe(guard);
    // The guard's refusal ends the connection; aedes reports it as a connection error (logged above).
    guard.once('error', () => stream.destroy());
    let open = true;
    const closed = () => {
      if (!open) return;
      open = false;
      this.sockets.delete(stream);
      if (remote) this.remoteConnections--;
      this.loggedIn(peer);
      conn.destroy();
    };
    // Either can report the end first (a TLS socket and the TCP socket under it); count it once.
    stream.once('close', closed);
    socket.once('close', closed);
    stream.on('error', (err: Error & { code?: string }) => {
      if (stream !== socket) this.deps.logger.debug({ remote: address, err: err.code ?? err.message }, 'MQTT TLS connection failed');
    }); // resets are normal; aedes sees the close
    if (stream !== socket) socket.on('error', () => undefined);
    aedes.handle(conn);
  }

  /** Leaves the per-address count of connections that have not logged in (login, or close). */
  private loggedIn(peer: Peer): void {
    // Loopback clients (moncam's own) are never pending, but their guard must be lifted too.
    peer.guard.authenticated();
    if (!peer.pending) return;
    peer.pending = false;
    const key = peer.address ?? 'unknown';
    const n = (this.pending.get(key) ?? 1) - 1;
    if (n > 0) this.pending.set(key, n);
    else this.pending.delete(key);
  }
}
