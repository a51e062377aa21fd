// PacketGuard, the stream the embedded broker reads every connection through: MQTT fixed headers parsed as
// bytes pass (however the chunks are split), Remaining Length edge cases, the packet size limit at exactly
// max and max + 1, malformed lengths, and the byte budget before login.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketGuard, PacketGuardError, PRE_AUTH_SLACK } from '../../src/mqtt/packet-guard.ts';
import { remainingLength } from '../helpers/mqtt-wire.ts';

/** A packet of `size` bytes in total (fixed header included), of type PUBLISH. */
function packetOfSize(size: number, type = 0x30): Buffer {
  // The header's length depends on the body's length: find the body length that makes `size`.
  for (let lenBytes = 1; lenBytes <= 4; lenBytes++) {
    const body = size - 1 - lenBytes;
    if (body >= 0 && remainingLength(body).length === lenBytes) return Buffer.concat([Buffer.from([type]), remainingLength(body), Buffer.alloc(body, 0x61)]);
  }
  throw new Error(`no packet of ${size} bytes`);
}

interface Outcome {
  out: Buffer;
  error?: PacketGuardError;
  /** Bytes written before the guard refused. */
  accepted: number;
}

/** Feeds `chunks` one write at a time (waiting for each), collecting what passes and the first error. */
async function feed(guard: PacketGuard, chunks: Buffer[]): Promise<Outcome> {
  const out: Buffer[] = [];
  let error: PacketGuardError | undefined;
  guard.on('data', (c: Buffer) => out.push(c));
  guard.on('error', (e: PacketGuardError) => (error ??= e));
  let accepted = 0;
  for (const chunk of chunks) {
    if (error) break;
    await new Promise<void>((resolve) => guard.write(chunk, () => resolve()));
    if (!error) accepted += chunk.length;
  }
  await new Promise((r) => setImmediate(r));
  return { out: Buffer.concat(out), error, accepted };
}

/** Splits `b` into pieces of `n` bytes. */
function pieces(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
}

const MAX = 2 * 1024 * 1024;

describe('PacketGuard: parsing', () => {
  test('a stream of packets passes byte for byte, whether in one chunk, byte by byte, or split anywhere', async () => {
    const stream = Buffer.concat([
      Buffer.from([0x10]),
      remainingLength(12),
      Buffer.from('\0\x04MQTT\x04\x02\0\x3c\0\0'), // CONNECT
      Buffer.from([0xc0, 0x00]), // PINGREQ: no body
      packetOfSize(129),
      packetOfSize(131), // 1- and 2-byte lengths
      Buffer.from([0xe0, 0x00]), // DISCONNECT
    ]);
    for (const size of [stream.length, 1, 2, 3, 7, 64, 129]) {
      const r = await feed(new PacketGuard(MAX), pieces(stream, size));
      assert.equal(r.error, undefined, `chunks of ${size}`);
      assert.ok(r.out.equals(stream), `chunks of ${size}: passed unchanged`);
    }
  });

  test('a header split right after its type byte, and inside its length, is still read right', async () => {
    const g = new PacketGuard(300);
    // 0x30 | 0xac 0x02 (300 - 3 = 297 body bytes ... declared 300 total: allowed), then a second packet
    // whose declared size is too large: the guard only catches it if it kept track of where packets end.
    const ok = packetOfSize(300);
    const tooBig = packetOfSize(301);
    const r = await feed(g, [
      ok.subarray(0, 1),
      ok.subarray(1, 2),
      ok.subarray(2, 3),
      ok.subarray(3, 150),
      Buffer.concat([ok.subarray(150), tooBig.subarray(0, 1)]),
      tooBig.subarray(1, 2),
      tooBig.subarray(2, 3),
    ]);
    assert.equal(r.error?.code, 'packet_too_large');
    assert.equal(r.accepted, ok.length + 2, 'refused at the byte that completed the too-large length');
  });

  test('Remaining Length at each encoding boundary (1 to 4 bytes) is read exactly', async () => {
    for (const body of [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455]) {
      const header = Buffer.concat([Buffer.from([0x30]), remainingLength(body)]);
      const size = header.length + body;
      // The declared size is exact: a limit of exactly that passes the header, one byte less refuses it.
      assert.equal((await feed(new PacketGuard(size), [header])).error, undefined, `${size} with a limit of ${size}`);
      const refused = await feed(new PacketGuard(size - 1 || 1), [header]);
      assert.equal(refused.error?.code, 'packet_too_large', `${size} with a limit of ${size - 1}`);
      assert.equal(refused.error?.declared, size);
      if (body > 2_097_152) continue; // 256 MB of body bytes prove nothing more
      // The guard knows where the packet ends: the header after the body is read as a header.
      const g = new PacketGuard(300 * 1024 * 1024);
      g.authenticated();
      const chunks = [header, ...pieces(Buffer.alloc(body, 0x80), 256 * 1024), Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80])];
      const r = await feed(g, chunks);
      assert.equal(r.error?.code, 'malformed_length', `the header after a body of ${body}`);
      assert.equal(r.accepted, size, `body of ${body}: refused in the next header, not before`);
    }
  });

  test('a packet of exactly the limit passes; limit + 1 is refused at its header, before any body byte', async () => {
    for (const max of [2, 128, 16_385, MAX]) {
      const exact = packetOfSize(max);
      const r = await feed(new PacketGuard(max), [exact]);
      assert.equal(r.error, undefined, `exactly ${max}`);
      assert.equal(r.out.length, max);

      const refused = await feed(new PacketGuard(max), pieces(packetOfSize(max + 1), 1));
      assert.equal(refused.error?.code, 'packet_too_large', `${max + 1} with a limit of ${max}`);
      assert.equal(refused.error?.declared, max + 1);
      assert.ok(refused.accepted <= 4, `refused within the fixed header (${refused.accepted} bytes passed)`);
      assert.equal(refused.out.length, refused.accepted, 'no body byte reached the parser');
    }
  });

  test('a 250 MB declaration is refused at its 2nd to 5th byte, with the size the client declared', async () => {
    const header = Buffer.concat([Buffer.from([0x10]), remainingLength(250_000_000)]);
    const r = await feed(new PacketGuard(MAX), pieces(header, 1));
    assert.equal(r.error?.code, 'packet_too_large');
    assert.ok(r.error instanceof PacketGuardError);
    // Refused as soon as the bytes so far already declare more than the limit: the 4th byte here.
    assert.ok(r.accepted < header.length, `refused before the last length byte (${r.accepted} of ${header.length})`);
    assert.ok(r.error.declared! > MAX);
  });

  test('a 5-byte Remaining Length (continuation bit on the 4th byte) is malformed', async () => {
    const r = await feed(new PacketGuard(MAX), [Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])]);
    assert.equal(r.error?.code, 'malformed_length');
    // Also when split, and after a good packet.
    const r2 = await feed(new PacketGuard(MAX), [Buffer.from([0xc0, 0x00, 0x30, 0x80]), Buffer.from([0x80]), Buffer.from([0x80, 0x80]), Buffer.from([0x00])]);
    assert.equal(r2.error?.code, 'malformed_length');
    assert.equal(r2.accepted, 5, 'the PINGREQ and the first length bytes passed; the chunk with the 4th length byte (continuation set) is refused');
  });
});

describe('PacketGuard: before login', () => {
  test('up to the limit plus a small slack passes before login; one byte more is refused', async () => {
    const max = 64 * 1024;
    const budget = max + PRE_AUTH_SLACK;
    const packets = Buffer.concat(Array.from({ length: Math.ceil(budget / 1000) + 1 }, () => packetOfSize(1000)));
    const r = await feed(new PacketGuard(max), [packets.subarray(0, budget), packets.subarray(budget, budget + 1)]);
    assert.equal(r.accepted, budget);
    assert.equal(r.error?.code, 'unauthenticated_flood');
  });

  test('after authenticated() only the packet size is checked: many times the budget passes', async () => {
    const max = 4096;
    const g = new PacketGuard(max);
    const connect = packetOfSize(100, 0x10);
    const first = await feed(g, [connect]);
    assert.equal(first.error, undefined);
    g.authenticated();
    const many = Buffer.concat(Array.from({ length: 200 }, () => packetOfSize(max)));
    const r = await feed(g, pieces(many, 1500));
    assert.equal(r.error, undefined);
    assert.equal(r.accepted, many.length);
    const over = await feed(g, [packetOfSize(max + 1)]);
    assert.equal(over.error?.code, 'packet_too_large', 'the size rule still holds after login');
  });
});
