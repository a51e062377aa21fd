import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN, moncam, TSX } from '../helpers/cli.ts';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import argon2 from 'argon2';
import sharp from 'sharp';
import { readHidden } from '../../src/cli/prompt.ts';
import { CLOCK_ENV, freePort, tempDir, until } from '../helpers/setup.ts';

describe('moncam CLI', () => {
  test('--help prints usage and exits 0; an unknown command exits 2', async () => {
    const cwd = tempDir();
    const help = await moncam(['--help'], { cwd });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /moncam capture \[--out FILE\]/);
    assert.match(help.stdout, /moncam passwd/);
    const bad = await moncam(['frobnicate'], { cwd });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  });

  test('config prints the effective config with secrets redacted', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), 'mqtt:\n  url: mqtt://broker:1883\n  password: hunter2\n');
    const r = await moncam(['config'], { cwd, env: { MONCAM_WEB_PORT: '8080' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /port: 8080/);
    assert.match(r.stdout, /url: mqtt:\/\/broker:1883/);
    assert.match(r.stdout, /password: "\*\*\*"/);
    assert.ok(!r.stdout.includes('hunter2'));
  });

  test('bad configuration: one line per problem, exit code 2', async () => {
    const cwd = tempDir();
    const r = await moncam(['config'], { cwd, env: { MONCAM_WEB_PORT: '99999', MONCAM_CAMERA_ROTATION: '45' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^moncam: bad configuration: web\.port: expected 1\.\.65535, got 99999 \(from MONCAM_WEB_PORT\)$/m);
    assert.match(r.stderr, /^moncam: bad configuration: camera\.rotation: expected 0, 90, 180 or 270, got 45/m);
    assert.equal(r.stderr.trim().split('\n').length, 2, r.stderr);
  });

  test('passwd from stdin stores an argon2id hash, 0600 in a 0700 folder', async () => {
    const cwd = tempDir();
    const r = await moncam(['passwd'], { cwd, stdin: 'correct horse battery\n' });
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(cwd, 'data', 'private', 'pass_user');
    const hash = fs.readFileSync(file, 'utf8').trim();
    assert.match(hash, /^\$argon2id\$/);
    assert.ok(await argon2.verify(hash, 'correct horse battery'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.ok(!r.stdout.includes('correct horse') && !r.stderr.includes('correct horse'), 'the password is never echoed');
  });

  test('passwd rejects a short password and changes nothing', async () => {
    const cwd = tempDir();
    const r = await moncam(['passwd'], { cwd, stdin: 'short\n' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /at least 8 characters; nothing changed/);
    assert.ok(!fs.existsSync(path.join(cwd, 'data', 'private', 'pass_user')));
  });

  test('capture --out writes one still to a file (synthetic camera), --out - to stdout', async () => {
    const cwd = tempDir();
    const env = { MONCAM_CAMERA_BACKEND: 'synthetic', MONCAM_CAMERA_WIDTH: '640', MONCAM_CAMERA_HEIGHT: '480' };
    const r = await moncam(['capture', '--out', 'still.jpg'], { cwd, env });
    assert.equal(r.code, 0, r.stderr);
    const meta = await sharp(path.join(cwd, 'still.jpg')).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 640);
    assert.ok(!fs.existsSync(path.join(cwd, 'data', 'captures')), '--out stores nothing');
    const piped = await moncam(['capture', '--out', '-'], { cwd, env });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal((await sharp(piped.stdoutBytes).metadata()).height, 480);
  });

  test('capture stores a still with thumbnail and preview and prints its path', async () => {
    const cwd = tempDir();
    const r = await moncam(['capture'], { cwd, env: { MONCAM_CAMERA_BACKEND: 'synthetic' } });
    assert.equal(r.code, 0, r.stderr);
    const original = r.stdout.trim();
    assert.ok(original.startsWith(path.join(cwd, 'data', 'captures')), original);
    assert.ok(fs.existsSync(original));
    assert.ok(fs.existsSync(original.replace(/\.jpg$/, '.thumb.jpg')));
    assert.ok(fs.existsSync(original.replace(/\.jpg$/, '.preview.jpg')));
  });

  test('run: prints a generated password once, takes scheduled stills, stops cleanly on SIGTERM', async () => {
    const cwd = tempDir();
    const child = spawn(process.execPath, ['--import', TSX, BIN, 'run'], {
      cwd,
      env: {
        ...CLOCK_ENV,
        PATH: process.env.PATH,
        MONCAM_CAMERA_BACKEND: 'synthetic',
        MONCAM_CAMERA_WIDTH: '320',
        MONCAM_CAMERA_HEIGHT: '240',
        MONCAM_SCHEDULE_CRON: '* * * * * *',
        MONCAM_CAMERA_ID: 'runtest',
        MONCAM_BROKER_PORT: String(await freePort()),
        MONCAM_WEB_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const captures = path.join(cwd, 'data', 'captures');
    const count = () =>
      fs.existsSync(captures)
        ? fs
            .readdirSync(captures)
            .flatMap((d) => fs.readdirSync(path.join(captures, d)))
            .filter((f) => /Z\.jpg$/.test(f)).length
        : 0;
    try {
      await until(() => count() >= 2, 30_000, `two scheduled stills (stderr: ${stderr})`);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    const pw = /^ {6}(\S+)$/m.exec(stdout)?.[1];
    assert.ok(pw && pw.length >= 20, `a generated password is printed: ${stdout}`);
    assert.ok(await argon2.verify(fs.readFileSync(path.join(cwd, 'data', 'private', 'pass_user'), 'utf8').trim(), pw));
    assert.ok(!stderr.includes(pw), 'the password is not in the logs');
    assert.match(stderr, /"camera":"synthetic"/);
    assert.match(stderr, /moncam stopped/);
  });
});

describe('hidden password prompt', () => {
  test('reads a line without echoing it; backspace edits', async () => {
    const input = Object.assign(new PassThrough(), {
      isTTY: true,
      rawModes: [] as boolean[],
      setRawMode(m: boolean) {
        this.rawModes.push(m);
      },
    });
    const output = new PassThrough();
    let shown = '';
    output.on('data', (c: Buffer) => (shown += c));
    const p = readHidden('Password: ', input, output);
    input.write('secreX');
    input.write('\u007ft pass\r');
    assert.equal(await p, 'secret pass');
    assert.equal(shown, 'Password: \n');
    assert.deepEqual(input.rawModes, [true, false]);
  });

  test('Ctrl-C cancels', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode() {} });
    const p = readHidden('Password: ', input, new PassThrough());
    input.write('abc\u0003');
    await assert.rejects(p, /cancelled/);
  });
});
