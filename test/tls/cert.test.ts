// `moncam cert`: the pair it makes verifies for the host name with real verifiers (Node, OpenSSL's strict
// mode, Python's ssl as Home Assistant uses it), files are written with the right modes, and re-running
// keeps the CA.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { readTlsPair } from '../../src/config/tls.ts';
import { CertError, FILES, SERVER_DAYS, certNames, issueCertificates } from '../../src/cli/cert.ts';
import { moncam } from '../helpers/cli.ts';
import { tempDir } from '../helpers/setup.ts';

const LAN = {
  eth0: [
    { address: '192.168.1.77', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:01', internal: false, cidr: '192.168.1.77/24' },
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
  ],
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
} as const;
const execFileAsync = promisify(execFile);
const interfaces = LAN as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;

/** A TLS server with the pair; resolves with how a client trusting `ca` and asking for `servername` fares. */
async function handshake(pair: { cert: Buffer; key: Buffer }, ca: Buffer, servername: string): Promise<{ authorized: boolean; error?: string }> {
  const server = tls.createServer({ cert: pair.cert, key: pair.key }, (s) => s.end());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as import('node:net').AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca, servername }, () => {
        resolve({ authorized: s.authorized });
        s.destroy();
      });
      s.on('error', (err: Error & { code?: string }) => resolve({ authorized: false, error: err.code ?? err.message }));
    });
  } finally {
    server.close();
  }
}

describe('moncam cert: names', () => {
  test('a bare host name gets .local, plus localhost, loopback and LAN addresses (no link-local)', () => {
    const n = certNames(['CamPi'], interfaces);
    assert.deepEqual(n.dns, ['campi', 'campi.local', 'localhost']);
    assert.deepEqual(n.ips, ['127.0.0.1', '::1', '192.168.1.77']);
  });

  test('a dotted name is kept as is; an IP given as host goes to the addresses; garbage is refused', () => {
    const n = certNames(['cam.example.org', '10.0.0.9'], {});
    assert.deepEqual(n.dns, ['cam.example.org', 'localhost']);
    assert.ok(n.ips.includes('10.0.0.9'));
    assert.throws(
      () => certNames(['bad name'], {}),
      (e: CertError) => e.code === 'bad_name',
    );
    assert.throws(
      () => certNames(['-x'], {}),
      (e: CertError) => e.code === 'bad_name',
    );
  });
});

describe('moncam cert: the pair', () => {
  const dir = tempDir('moncam-cert-');
  const made = issueCertificates({ dir, hosts: ['campi'], interfaces });

  test('files: CA and server certificate, keys mode 0600, nothing else left behind', async () => {
    const { files, newCa } = await made;
    assert.equal(newCa, true);
    assert.deepEqual(fs.readdirSync(dir).sort(), Object.values(FILES).sort());
    assert.equal(fs.statSync(files.key).mode & 0o777, 0o600);
    assert.equal(fs.statSync(files.caKey).mode & 0o777, 0o600);
    assert.equal(fs.statSync(files.cert).mode & 0o777, 0o644);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  });

  test('the certificate is signed by the CA, valid for the host names and addresses, server auth, <= 825 days', async () => {
    const { files } = await made;
    const ca = new crypto.X509Certificate(fs.readFileSync(files.caCert));
    const cert = new crypto.X509Certificate(fs.readFileSync(files.cert));
    assert.equal(ca.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(ca.publicKey), 'signed by the CA');
    assert.ok(cert.checkIssued(ca));
    assert.ok(cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(files.key))));
    for (const name of ['campi', 'campi.local', 'localhost']) assert.equal(cert.checkHost(name), name);
    assert.equal(cert.checkHost('other.local'), undefined);
    for (const ip of ['192.168.1.77', '127.0.0.1']) assert.equal(cert.checkIP(ip), ip);
    assert.equal(cert.checkIP('192.168.1.78'), undefined);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']); // extended key usage: TLS server
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    assert.ok(days <= 825 && days >= SERVER_DAYS, `validity ${days} days`);
  });

  test('OpenSSL verifies it in strict X.509 mode for the host name, and refuses another name', async () => {
    const { files } = await made;
    const ok = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', files.caCert, '-verify_hostname', 'campi.local', files.cert], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const wrong = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', files.caCert, '-verify_hostname', 'nas.local', files.cert], { encoding: 'utf8' });
    assert.notEqual(wrong.status, 0);
  });

  test("Python's ssl with a default context and strict X.509 checks (as Home Assistant's MQTT client) accepts it", async () => {
    const { files } = await made;
    const pair = { cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) };
    const server = tls.createServer(pair, (s) => s.end());
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const script = [
      'import socket, ssl, sys',
      'ctx = ssl.create_default_context(cafile=sys.argv[1])',
      'ctx.verify_flags |= ssl.VERIFY_X509_STRICT',
      'with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:',
      '    try:',
      '        with ctx.wrap_socket(raw, server_hostname=sys.argv[3]) as s: print("ok", s.version())',
      '    except ssl.SSLCertVerificationError as e: print("refused", e.verify_message)',
    ].join('\n');
    // Asynchronous: the server runs in this process.
    const run = async (name: string) => (await execFileAsync('python3', ['-c', script, files.caCert, String(port), name], { encoding: 'utf8' })).stdout.trim();
    try {
      assert.match(await run('campi.local'), /^ok TLSv1\.[23]$/);
      assert.match(await run('nas.local'), /^refused .*mismatch/i);
    } finally {
      server.close();
    }
  });

  test('a real TLS handshake: trusted with this CA for the host name, refused with another CA', async () => {
    const { files } = await made;
    const pair = { cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) };
    assert.deepEqual(await handshake(pair, fs.readFileSync(files.caCert), 'campi.local'), { authorized: true });
    const other = await issueCertificates({ dir: tempDir('moncam-cert-other-'), hosts: ['campi'], interfaces });
    const refused = await handshake(pair, fs.readFileSync(other.files.caCert), 'campi.local');
    assert.equal(refused.authorized, false);
    assert.equal(refused.error, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('again: refused without --force; with it a new certificate from the same CA', async () => {
    const first = await made;
    const before = new crypto.X509Certificate(fs.readFileSync(first.files.cert));
    await assert.rejects(issueCertificates({ dir, hosts: ['campi'], interfaces }), (e: CertError) => e.code === 'cert_exists');
    const again = await issueCertificates({ dir, hosts: ['campi', 'garden'], interfaces, force: true });
    assert.equal(again.newCa, false);
    assert.equal(again.caFingerprint, first.caFingerprint);
    const after = new crypto.X509Certificate(fs.readFileSync(again.files.cert));
    assert.notEqual(after.serialNumber, before.serialNumber);
    assert.equal(after.checkHost('garden.local'), 'garden.local');
    assert.ok(after.verify(new crypto.X509Certificate(fs.readFileSync(first.files.caCert)).publicKey));
  });

  test('a CA certificate without its key is not silently replaced', async () => {
    const d = tempDir('moncam-cert-half-');
    await issueCertificates({ dir: d, hosts: ['campi'], interfaces });
    fs.rmSync(path.join(d, FILES.caKey));
    await assert.rejects(issueCertificates({ dir: d, hosts: ['campi'], interfaces, force: true }), (e: CertError) => e.code === 'bad_ca');
  });
});

describe('moncam cert: command line', () => {
  test('writes into <data_dir>/private, prints the settings; a second run exits 2 with cert_exists', async () => {
    const cwd = tempDir('moncam-cert-cli-');
    const run = await moncam(['cert', '--host', 'campi'], { cwd, env: { MONCAM_DATA_DIR: path.join(cwd, 'data') } });
    assert.equal(run.code, 0, run.stderr);
    const cert = path.join(cwd, 'data', 'private', FILES.cert);
    assert.ok(run.stdout.includes(`  tls_cert: ${cert}\n`), run.stdout);
    assert.ok(run.stdout.includes(`  tls_key: ${path.join(cwd, 'data', 'private', FILES.key)}\n`));
    assert.match(run.stdout, /campi, campi\.local, localhost, 127\.0\.0\.1/);
    // The printed files pass the daemon's own start-up checks.
    const pair = await readTlsPair('web', cert, path.join(cwd, 'data', 'private', FILES.key));
    assert.match(pair.subjectAltName, /DNS:campi\.local/);
    const again = await moncam(['cert', '--host', 'campi'], { cwd, env: { MONCAM_DATA_DIR: path.join(cwd, 'data') } });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^moncam cert: \(cert_exists\) .*--force/);
    const bad = await moncam(['cert', '--nope'], { cwd });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.split('\n').filter(Boolean).length, 2, bad.stderr);
  });
});
