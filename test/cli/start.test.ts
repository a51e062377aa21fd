// `moncam run` as a new user meets it: a first start that fails (port 1883 taken by their Mosquitto) keeps no
// password and says what to do; the start that works prints the page on the LAN addresses, the MQTT login
// and the generated password.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import argon2 from 'argon2';
import { reachableHosts, startBanner } from '../../src/cli/banner.ts';
import { loadConfig } from '../../src/config/load.ts';
import { BIN, moncam, TSX } from '../helpers/cli.ts';
import { CLOCK_ENV, freePort, tempDir, until } from '../helpers/setup.ts';

const env = (brokerPort: number, webPort: number) => ({
  MONCAM_CAMERA_BACKEND: 'synthetic',
  MONCAM_SCHEDULE_ENABLED: 'false',
  MONCAM_BROKER_PORT: String(brokerPort),
  MONCAM_WEB_PORT: String(webPort),
});

/** Starts `moncam run`, waits for its banner, stops it with SIGTERM; its stdout. */
async function runUntilBanner(cwd: string, vars: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', TSX, BIN, 'run'], {
    cwd,
    env: { ...CLOCK_ENV, PATH: process.env.PATH, HOME: cwd, MONCAM_CAMERA_ID: 'starttest', ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await until(() => /moncam is running[\s\S]*={64}/.test(stdout), 20_000, `the banner (stderr: ${stderr})`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  return stdout;
}

describe('moncam run: first start', () => {
  test('port 1883 taken: exit 1 with what to do, no password stored; the next start shows one, with the LAN URL and MQTT login', async () => {
    const cwd = tempDir();
    const taken = net.createServer().listen(0, '0.0.0.0');
    await new Promise((r) => taken.once('listening', r));
    const takenPort = (taken.address() as net.AddressInfo).port;
    const webPort = await freePort();
    let failed;
    try {
      failed = await moncam(['run'], { cwd, env: env(takenPort, webPort) });
    } finally {
      taken.close();
    }
    assert.equal(failed.code, 1, failed.stderr);
    const line = failed.stderr.split('\n').find((l) => l.startsWith('moncam: '));
    assert.ok(line, failed.stderr);
    assert.match(line, /\(port_in_use\) cannot start the embedded MQTT broker: port \d+ .* in use/);
    assert.match(line, /mqtt\.url/);
    assert.match(line, /broker\.port/);
    assert.doesNotMatch(failed.stdout, /generated/, 'no password shown by a start that failed');
    const passwordFile = path.join(cwd, 'data', 'private', 'pass_user');
    assert.equal(fs.existsSync(passwordFile), false, 'no password stored by a start that failed');

    const stdout = await runUntilBanner(cwd, env(await freePort(), webPort));
    const pw = /^ {6}(\S+)$/m.exec(stdout)?.[1];
    assert.ok(pw, stdout);
    assert.ok(await argon2.verify(fs.readFileSync(passwordFile, 'utf8').trim(), pw));
    const lan = Object.values(os.networkInterfaces())
      .flat()
      .filter((i) => i && i.family === 'IPv4' && !i.internal);
    for (const i of lan) assert.ok(stdout.includes(`http://${i!.address}:${webPort}/`), `the page on ${i!.address}: ${stdout}`);
    assert.ok(stdout.includes(`http://localhost:${webPort}/`));
    assert.match(stdout, /MQTT: +mqtt:\/\/\S+:\d+, user moncam, password: the web password/);
    assert.match(stdout, /npx moncam passwd/);
    assert.doesNotMatch(stdout, /(^|[^x] )moncam passwd/m, 'always `npx moncam ...`: after Quick start `moncam` is not a command');

    // The next start shows no password (it is set), and a separate MQTT password is named as such.
    assert.equal((await moncam(['passwd', '--mqtt'], { cwd, stdin: 'mqtt-only-password\n' })).code, 0);
    const again = await runUntilBanner(cwd, env(await freePort(), webPort));
    assert.ok(!again.includes(pw));
    assert.match(again, /user moncam, password: the MQTT password \(set with npx moncam passwd --mqtt\)/);
  });

  test('banner: a listener on one address shows that address; an external broker is named', () => {
    const { config } = loadConfig({ env: { MONCAM_WEB_HOST: '192.168.7.9', MONCAM_MQTT_URL: 'mqtt://ha.local:1883' }, cwd: tempDir() });
    const text = startBanner({ config, webPort: 5000, mqttPasswordSet: false });
    assert.match(text, /Web page: +http:\/\/192\.168\.7\.9:5000\//);
    assert.match(text, /MQTT: +publishing to mqtt:\/\/ha\.local:1883/);
    const ifaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      wlan0: [
        { address: '10.0.0.5', family: 'IPv4', internal: false },
        { address: 'fe80::1', family: 'IPv6', internal: false },
      ],
    } as unknown as NodeJS.Dict<os.NetworkInterfaceInfo[]>;
    assert.deepEqual(reachableHosts('0.0.0.0', ifaces), ['10.0.0.5', 'localhost']);
  });
});
