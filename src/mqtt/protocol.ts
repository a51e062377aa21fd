// MQTT 5 first, 3.1.1 when the broker refuses it: how a refusal of the protocol version looks.

/** CONNACK "unacceptable protocol version" (3.1.1, code 1) or "unsupported protocol version" (5, code 132). */
export function refusedProtocol(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 1 || code === 132;
}
