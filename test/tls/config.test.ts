// TLS settings: pairs are whole or absent, the broker falls back to the page's pair, and a bad file stops
// start-up with one line, a code and exit 2 (a configuration problem: systemd must not restart forever).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/config/load.ts';
import { readTlsPair, TlsConfigError, expiryState } from '../../src/config/tls.ts';
import { brokerUrl } from '../../src/mqtt/connection.ts';
import { moncam } from '../helpers/cli.ts';
import { freePort, tempDir, testConfig } from '../helpers/setup.ts';
import { testPki } from '../helpers/tls.ts';

describe('TLS settings', () => {
  test('off by default: no pair for the page or the broker, plain MQTT open to the LAN', () => {
    const c = testConfig();
    assert.equal(c.web.tls_cert, undefined);
    assert.equal(c.broker.tls_cert, undefined);
    assert.equal(c.broker.tls_port, 8883);
    assert.equal(c.broker.plain_remote, true);
  });

  test('a certificate without its key (or the other way round) is a config error naming both', () => {
    assert.throws(
      () => testConfig({ MONCAM_WEB_TLS_CERT: 'cert.pem' }),
      (e: ConfigError) => e instanceof ConfigError && e.problems.length === 1 && /^web\.tls_key: must be set together with web\.tls_cert/.test(e.problems[0]!),
    );
    assert.throws(
      () => testConfig({ MONCAM_BROKER_TLS_KEY: 'key.pem' }),
      (e: ConfigError) => /^broker\.tls_cert: must be set together with broker\.tls_key/.test(e.problems[0]!),
    );
  });

  test("the broker uses the page's pair unless it has its own; paths become absolute", () => {
    const dir = tempDir();
    const c = testConfig({ MONCAM_WEB_TLS_CERT: 'c.pem', MONCAM_WEB_TLS_KEY: 'k.pem' }, dir);
    assert.equal(c.web.tls_cert, path.join(dir, 'c.pem'));
    assert.equal(c.broker.tls_cert, path.join(dir, 'c.pem'));
    assert.equal(c.broker.tls_key, path.join(dir, 'k.pem'));
    const own = testConfig(
      { MONCAM_WEB_TLS_CERT: 'c.pem', MONCAM_WEB_TLS_KEY: 'k.pem', MONCAM_BROKER_TLS_CERT: '/etc/mqtt.pem', MONCAM_BROKER_TLS_KEY: '/etc/mqtt.key' },
      dir,
    );
    assert.equal(own.broker.tls_cert, '/etc/mqtt.pem');
    assert.equal(own.broker.tls_key, '/etc/mqtt.key');
    assert.equal(own.web.tls_cert, path.join(dir, 'c.pem'));
  });

  test("the daemon's own MQTT client stays on plain loopback; with plain_remote false even for a LAN host", () => {
    assert.equal(brokerUrl(testConfig({ MONCAM_BROKER_HOST: '192.168.1.5' })), 'mqtt://192.168.1.5:1883');
    assert.equal(brokerUrl(testConfig({ MONCAM_BROKER_HOST: '192.168.1.5', MONCAM_BROKER_PLAIN_REMOTE: 'false' })), 'mqtt://127.0.0.1:1883');
  });
});

describe('TLS files, checked at start', () => {
  test('a good pair is read, with its expiry and names', async () => {
    const { good } = await testPki();
    const pair = await readTlsPair('web', good.certFile, good.keyFile);
    assert.deepEqual(pair.cert, good.cert);
    assert.match(pair.subjectAltName, /DNS:localhost/);
    assert.equal(expiryState(pair), undefined);
    assert.equal(expiryState(pair, pair.validTo.getTime() - 86_400_000), 'expiring');
    assert.equal(expiryState(pair, pair.validTo.getTime() + 1), 'expired');
  });

  const bad = async (files: { cert: string; key: string }, code: string, line: RegExp) => {
    const err = await readTlsPair('broker', files.cert, files.key).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TlsConfigError && err instanceof ConfigError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.problems.length, 1);
    assert.match(err.problems[0]!, line);
  };

  test('missing or unreadable: tls_unreadable with the setting, file and errno', async () => {
    const { good } = await testPki();
    await bad({ cert: '/nonexistent/c.pem', key: good.keyFile }, 'tls_unreadable', /^broker\.tls_cert: cannot read \/nonexistent\/c\.pem \(ENOENT\)$/);
    await bad({ cert: good.certFile, key: path.dirname(good.keyFile) }, 'tls_unreadable', /^broker\.tls_key: cannot read .* \(EISDIR\)$/);
  });

  test("not PEM, a key that is not the certificate's, an encrypted key: tls_invalid", async () => {
    const { good, wrong } = await testPki();
    const dir = tempDir();
    const junk = path.join(dir, 'junk.pem');
    fs.writeFileSync(junk, 'hello\n');
    await bad({ cert: junk, key: good.keyFile }, 'tls_invalid', /^broker\.tls_cert: .*junk\.pem is not a PEM certificate$/);
    await bad({ cert: good.certFile, key: junk }, 'tls_invalid', /^broker\.tls_key: .*junk\.pem is not a PEM private key$/);
    await bad({ cert: good.certFile, key: wrong.keyFile }, 'tls_invalid', /^broker\.tls_key: .* is not the key of /);
    const crypto = await import('node:crypto');
    const encrypted = path.join(dir, 'enc.key');
    fs.writeFileSync(encrypted, crypto.createPrivateKey(good.key).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }));
    await bad({ cert: good.certFile, key: encrypted }, 'tls_invalid', /is not an unencrypted private key$/);
  });

  test('moncam run with a missing certificate: exit 2 and one line', { timeout: 60_000 }, async () => {
    const cwd = tempDir();
    const { good } = await testPki();
    const run = await moncam(['run'], {
      cwd,
      env: {
        MONCAM_DATA_DIR: cwd,
        MONCAM_CAMERA_BACKEND: 'synthetic',
        MONCAM_BROKER_ENABLED: 'false',
        MONCAM_WEB_PORT: String(await freePort()),
        MONCAM_WEB_TLS_CERT: path.join(cwd, 'missing.pem'),
        MONCAM_WEB_TLS_KEY: good.keyFile,
      },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`moncam: bad configuration: web\\.tls_cert: cannot read ${path.join(cwd, 'missing.pem').replace(/\./g, '\\.')} \\(ENOENT\\)\\n$`),
    );
  });
});
