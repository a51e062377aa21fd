// `moncam cert`: a small private CA and a server certificate for this Pi, so the page (HTTPS) and the
// embedded broker (mqtts) can be encrypted without a public domain. Home Assistant and phones are given
// the CA once; re-running (new IP address, expiry) keeps the CA, so they keep trusting the new pair.
// Certificates are built with node-forge (a kept library, no hand-written ASN.1); keys come from Node's
// native RSA generator, which is much faster than forge's JavaScript one on a Pi.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import forge from 'node-forge';
import { ConfigError, loadConfig } from '../config/load.ts';
import { writeFileAtomic } from '../storage/write-atomic.ts';

/** Under Apple's 825-day limit for TLS server certificates (iOS and macOS refuse longer ones, even from a private CA). */
export const SERVER_DAYS = 820;
export const CA_YEARS = 20;

export const FILES = { caCert: 'moncam-ca.pem', caKey: 'moncam-ca.key', cert: 'moncam.pem', key: 'moncam.key' } as const;

export interface CertNames {
  dns: string[];
  ips: string[];
}

export interface IssueOptions {
  dir: string;
  /** Host names; the first is the certificate's common name. */
  hosts: string[];
  /** Replace an existing server pair (the CA is always kept). */
  force?: boolean;
  now?: Date;
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

export interface Issued {
  files: { caCert: string; caKey: string; cert: string; key: string };
  /** false: an existing CA in the folder was reused. */
  newCa: boolean;
  names: CertNames;
  caFingerprint: string;
  validTo: Date;
}

export type CertErrorCode = 'cert_exists' | 'bad_ca' | 'bad_name';

export class CertError extends Error {
  readonly code: CertErrorCode;
  constructor(code: CertErrorCode, message: string) {
    super(message);
    this.name = 'CertError';
    this.code = code;
  }
}

/**
 * What the server certificate is valid for: each host name, `<name>.local` for bare names (mDNS, how a Pi
 * is usually reached), localhost, loopback and this machine's LAN addresses (IPv6 link-local left out:
 * they need a zone id, which certificates cannot hold).
 */
export function certNames(hosts: string[], interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): CertNames {
  const dns = new Set<string>();
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const raw of hosts) {
    const h = raw.trim().toLowerCase();
    if (net.isIP(h)) {
      ips.add(h);
      continue;
    }
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(h)) {
      throw new CertError('bad_name', `"${raw}" is not a host name or IP address`);
    }
    dns.add(h);
    if (!h.includes('.')) dns.add(`${h}.local`);
  }
  dns.add('localhost');
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (!a.internal && !/^fe80:/i.test(a.address)) ips.add(a.address);
  }
  return { dns: [...dns], ips: [...ips] };
}

const generateKeyPair = promisify(crypto.generateKeyPair);

async function newKey(): Promise<string> {
  const { privateKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

/** A positive 128-bit serial (RFC 5280: unique per CA, at most 20 octets). */
function serial(): string {
  const b = crypto.randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function baseCert(publicKey: forge.pki.PublicKey, subject: forge.pki.CertificateField[], notBefore: Date, notAfter: Date): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject(subject);
  return cert;
}

function makeCa(keyPem: string, host: string, now: Date): string {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const subject = [
    { name: 'commonName', value: `moncam CA (${host})` },
    { name: 'organizationName', value: 'moncam' },
  ];
  // An hour back: a client whose clock is a little behind still accepts a certificate made just now.
  const cert = baseCert(publicKey, subject, new Date(now.getTime() - 3_600_000), notAfter);
  cert.setIssuer(subject);
  // Python's ssl (Home Assistant) verifies strictly since 3.13: CA flag and key usage critical, key ids present.
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function makeServerCert(keyPem: string, ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }, names: CertNames, now: Date): string {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const notAfter = new Date(now.getTime() + SERVER_DAYS * 86_400_000);
  const cert = baseCert(forge.pki.setRsaPublicKey(key.n, key.e), [{ name: 'commonName', value: names.dns[0]! }], new Date(now.getTime() - 3_600_000), notAfter);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))] },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The folder's CA if it has one (checked: a CA certificate with its key), else a new one. */
async function loadOrMakeCa(files: Issued['files'], host: string, now: Date): Promise<{ pem: string; keyPem: string; isNew: boolean }> {
  const [pem, keyPem] = await Promise.all([readIfExists(files.caCert), readIfExists(files.caKey)]);
  if (pem && keyPem) {
    try {
      const x509 = new crypto.X509Certificate(pem);
      if (x509.ca && x509.checkPrivateKey(crypto.createPrivateKey(keyPem)) && new Date(x509.validTo) > now) return { pem, keyPem, isNew: false };
    } catch {
      // reported below
    }
    throw new CertError('bad_ca', `${files.caCert} / ${files.caKey} are not a valid, unexpired CA certificate and its key; move them away to make a new CA`);
  }
  if (pem || keyPem)
    throw new CertError('bad_ca', `only one of ${files.caCert} and ${files.caKey} exists; restore the other, or move it away to make a new CA`);
  const newKeyPem = await newKey();
  await writeFileAtomic(files.caKey, newKeyPem, { mode: 0o600, ownerOfDir: true });
  const newPem = makeCa(newKeyPem, host, now);
  await writeFileAtomic(files.caCert, newPem, { mode: 0o644, ownerOfDir: true });
  return { pem: newPem, keyPem: newKeyPem, isNew: true };
}

export async function issueCertificates(opts: IssueOptions): Promise<Issued> {
  const now = opts.now ?? new Date();
  const names = certNames(opts.hosts, opts.interfaces);
  const files = {
    caCert: path.join(opts.dir, FILES.caCert),
    caKey: path.join(opts.dir, FILES.caKey),
    cert: path.join(opts.dir, FILES.cert),
    key: path.join(opts.dir, FILES.key),
  };
  await fs.mkdir(opts.dir, { recursive: true, mode: 0o700 });
  if (!opts.force) {
    const existing = (await Promise.all([files.cert, files.key].map(async (f) => ((await readIfExists(f)) !== undefined ? f : undefined)))).filter(Boolean);
    if (existing.length) throw new CertError('cert_exists', `${existing.join(' and ')} already exist; add --force to replace them (the CA is kept)`);
  }
  const ca = await loadOrMakeCa(files, names.dns[0] ?? names.ips[0]!, now);
  const keyPem = await newKey();
  const pem = makeServerCert(keyPem, { cert: forge.pki.certificateFromPem(ca.pem), key: forge.pki.privateKeyFromPem(ca.keyPem) }, names, now);
  await writeFileAtomic(files.key, keyPem, { mode: 0o600, ownerOfDir: true });
  await writeFileAtomic(files.cert, pem, { mode: 0o644, ownerOfDir: true });
  return {
    files,
    newCa: ca.isNew,
    names,
    caFingerprint: new crypto.X509Certificate(ca.pem).fingerprint256,
    validTo: new Date(new crypto.X509Certificate(pem).validTo),
  };
}

export const CERT_HELP = `moncam cert — make a private CA and a TLS certificate for this machine (HTTPS page, mqtts broker)

Usage: moncam cert [--host NAME]... [--dir DIR] [--force] [-c FILE]
  --host NAME   a name (or IP address) clients use for this machine; repeat for more. Default: the host
                name. NAME.local, localhost and this machine's IP addresses are always added.
  --dir DIR     where the files go (default: <data_dir>/private)
  --force       replace an existing certificate (the CA in DIR is kept, so clients keep trusting it)
  -c FILE       config file (for data_dir)

Writes moncam-ca.pem (give it to Home Assistant and your devices), moncam-ca.key, moncam.pem and
moncam.key (keys mode 0600), then prints the settings to add. See docs/tls.md.`;

/** Writes where `moncam cert` prints to; only the parts it uses. */
export interface CertIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** `moncam cert ...`: parses its own arguments (so the main parser stays untouched) and returns the exit code. */
export async function cmdCert(argv: string[], io: CertIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', multiple: true },
        dir: { type: 'string' },
        force: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr.write(`moncam cert: ${(err as Error).message.split('\n')[0]}\n(moncam cert --help)\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(CERT_HELP + '\n');
    return 0;
  }
  try {
    let dir: string;
    if (values.dir) dir = path.resolve(io.cwd, values.dir);
    else {
      const { config } = loadConfig({ file: values.config, env: io.env, cwd: io.cwd });
      dir = path.join(config.data_dir, 'private');
    }
    const hosts = values.host?.length ? values.host : [os.hostname()];
    const issued = await issueCertificates({ dir, hosts, force: values.force === true });
    const f = issued.files;
    const names = [...issued.names.dns, ...issued.names.ips].join(', ');
    io.stdout.write(
      [
        `${issued.newCa ? 'Made a new CA' : 'Kept the CA'} and a certificate in ${dir}:`,
        `  ${FILES.caCert}   the CA: give it to Home Assistant and to browsers/phones that open the page`,
        `                   SHA-256 ${issued.caFingerprint}`,
        `  ${FILES.caKey}   the CA's key (0600): keep it here, it signs the next certificate`,
        `  ${FILES.cert}      this machine's certificate, until ${issued.validTo.toISOString().slice(0, 10)}, for: ${names}`,
        `  ${FILES.key}      its key (0600)`,
        '',
        'Add to moncam.yaml, then restart moncam (the page becomes https://, and the embedded broker adds',
        'mqtts on port 8883 with the same pair):',
        '',
        'web:',
        `  tls_cert: ${f.cert}`,
        `  tls_key: ${f.key}`,
        '',
        `or in the environment: MONCAM_WEB_TLS_CERT=${f.cert} MONCAM_WEB_TLS_KEY=${f.key}`,
        'Home Assistant and devices: see docs/tls.md.',
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`moncam: bad configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 2;
    }
    const e = err as Error & { code?: string };
    io.stderr.write(`moncam cert: ${e.code ? `(${e.code}) ` : ''}${e.message}\n`);
    return err instanceof CertError ? 2 : 1;
  }
}
