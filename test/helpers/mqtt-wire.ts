// Raw MQTT bytes for tests that must send what no well-behaved client library would.

/** MQTT's Remaining Length encoding (7 bits a byte, least significant first). */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
