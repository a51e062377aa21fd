// Reads and checks a configured certificate and key once, at start, so a typo or a wrong file stops the
// daemon with one clear line (exit 2) instead of failing every client's handshake later.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import tls from 'node:tls';
import { ConfigError } from './load.ts';

export type TlsErrorCode = 'tls_unreadable' | 'tls_invalid';

/** A bad configured file: a configuration problem (exit 2, no restart loop), with a code for callers. */
export class TlsConfigError extends ConfigError {
  readonly code: TlsErrorCode;
  constructor(code: TlsErrorCode, problem: string) {
    super([problem]);
    this.name = 'TlsConfigError';
    this.code = code;
  }
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** When the certificate expires (logged, and warned about when near). */
  validTo: Date;
  /** The names it is valid for, as the certificate lists them (for the log). */
  subjectAltName: string;
}

/** 30 days: long enough to notice in the log before clients start refusing. */
const EXPIRY_WARNING_MS = 30 * 86_400_000;

async function readSetting(setting: string, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new TlsConfigError('tls_unreadable', `${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Reads `<section>.tls_cert` and `<section>.tls_key` and checks that they are PEM, that the key is the
 * certificate's, and that Node's TLS accepts them together.
 */
export async function readTlsPair(section: 'web' | 'broker', certFile: string, keyFile: string): Promise<TlsPair> {
  const [cert, key] = await Promise.all([readSetting(`${section}.tls_cert`, certFile), readSetting(`${section}.tls_key`, keyFile)]);
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(cert);
  } catch {
    throw new TlsConfigError('tls_invalid', `${section}.tls_cert: ${certFile} is not a PEM certificate`);
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch {
    // PKCS#8 "ENCRYPTED PRIVATE KEY" and legacy "Proc-Type: 4,ENCRYPTED" both say so in the PEM.
    const encrypted = key.includes('ENCRYPTED');
    throw new TlsConfigError('tls_invalid', `${section}.tls_key: ${keyFile} is not ${encrypted ? 'an unencrypted' : 'a PEM'} private key`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsConfigError('tls_invalid', `${section}.tls_key: ${keyFile} is not the key of ${certFile}`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsConfigError('tls_invalid', `${section}.tls_cert: ${certFile} cannot be used for TLS (${(err as Error).message})`);
  }
  return { cert, key, validTo: new Date(x509.validTo), subjectAltName: x509.subjectAltName ?? '' };
}

/** 'expired', 'expiring' (within 30 days) or undefined, for a warning at start. */
export function expiryState(pair: TlsPair, now = Date.now()): 'expired' | 'expiring' | undefined {
  const left = pair.validTo.getTime() - now;
  return left <= 0 ? 'expired' : left < EXPIRY_WARNING_MS ? 'expiring' : undefined;
}
