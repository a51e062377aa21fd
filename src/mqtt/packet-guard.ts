// Reads MQTT fixed headers as the bytes pass, before aedes' parser buffers anything: a packet that
// declares more than the limit ends the connection at its 2nd to 5th byte, so a stranger's 250 MB CONNECT
// costs nothing. Until the client has logged in it may send only a little more than one packet.
import { Transform, type TransformCallback } from 'node:stream';

export type GuardErrorCode = 'packet_too_large' | 'malformed_length' | 'unauthenticated_flood';

export class PacketGuardError extends Error {
  readonly code: GuardErrorCode;
  /** The packet size the client declared (packet_too_large). */
  readonly declared?: number;
  constructor(code: GuardErrorCode, message: string, declared?: number) {
    super(message);
    this.name = 'PacketGuardError';
    this.code = code;
    this.declared = declared;
  }
}

/** Bytes a client may send before it is logged in, beyond its CONNECT: a pipelined SUBSCRIBE or two. */
export const PRE_AUTH_SLACK = 16 * 1024;

export class PacketGuard extends Transform {
  private readonly maxPacketSize: number;
  /** Bytes still allowed before login; Infinity once logged in. */
  private preAuthLeft: number;
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(maxPacketSize: number) {
    super();
    this.maxPacketSize = maxPacketSize;
    this.preAuthLeft = maxPacketSize + PRE_AUTH_SLACK;
  }

  /** The client logged in: from now on only the packet size is checked. */
  authenticated(): void {
    this.preAuthLeft = Infinity;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length > this.preAuthLeft) {
      callback(new PacketGuardError('unauthenticated_flood', 'too much data before logging in'));
      return;
    }
    this.preAuthLeft -= chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const n = Math.min(this.remaining, chunk.length - i);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      // Remaining Length: 7 bits a byte, least significant first, at most 4 bytes (MQTT 2.2.3).
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      const size = 1 + this.lengthBytes + this.length;
      if (size > this.maxPacketSize) {
        callback(new PacketGuardError('packet_too_large', `packet of ${size} bytes or more exceeds the limit of ${this.maxPacketSize}`, size));
        return;
      }
      if (byte & 0x80) {
        if (this.lengthBytes === 4) {
          callback(new PacketGuardError('malformed_length', 'malformed packet length'));
          return;
        }
        continue;
      }
      this.remaining = this.length;
      this.state = this.remaining > 0 ? 'body' : 'type';
    }
    callback(null, chunk);
  }
}
