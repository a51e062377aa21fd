// README's Quick start: `npx moncam capture` while `npm start` runs. The daemon holds the data dir and the
// camera, so the command asks it (control socket) and prints the stored still; a daemon that cannot be asked
// gets a clear message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { moncam } from '../helpers/cli.ts';
import { ChildDaemon } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/setup.ts';

describe('moncam capture beside a running daemon', () => {
  test('the running daemon takes the still; the CLI prints its path; a camera failure is reported, exit 1', async () => {
    const scenario = path.join(tempDir(), 'scenario');
    fs.writeFileSync(scenario, 'ok');
    const daemon = await ChildDaemon.start({ env: { FAKE_CAMERA_SCENARIO_FILE: scenario } });
    try {
      // Same data dir, as a user in the same folder has; no camera settings: the CLI itself opens no camera.
      const env = { MONCAM_DATA_DIR: daemon.dataDir, MONCAM_CAMERA_BACKEND: 'synthetic' };
      const r = await moncam(['capture'], { cwd: daemon.dataDir, env });
      assert.equal(r.code, 0, r.stderr);
      const original = r.stdout.trim();
      assert.ok(original.startsWith(path.join(daemon.dataDir, 'captures')), original);
      assert.equal((await sharp(original).metadata()).width, 640, "taken by the daemon's (fake rpicam) camera, not the CLI's synthetic one");
      assert.match(r.stderr, /captured \S+ \(640x480, \d+ bytes, rpicam\) by the running moncam/);
      assert.ok(
        daemon.logs.some((l) => l.msg === 'still captured' && l.trigger === 'cli'),
        'the daemon logged it as a cli still',
      );

      // --out FILE / --out - too: the daemon's camera takes it (a second camera user would find it busy).
      const file = path.join(tempDir(), 'out.jpg');
      const toFile = await moncam(['capture', '--out', file], { cwd: daemon.dataDir, env });
      assert.equal(toFile.code, 0, toFile.stderr);
      assert.match(toFile.stderr, /^wrote .*out\.jpg \(640x480, \d+ bytes, rpicam\) from the running moncam\n$/);
      assert.equal((await sharp(file).metadata()).width, 640);
      const toStdout = await moncam(['capture', '--out', '-'], { cwd: daemon.dataDir, env });
      assert.equal(toStdout.code, 0, toStdout.stderr);
      assert.equal((await sharp(toStdout.stdoutBytes).metadata()).width, 640);
      assert.equal(daemon.logs.filter((l) => l.msg === 'still captured' && l.trigger === 'cli').length, 3);

      fs.writeFileSync(scenario, 'no_camera');
      const failed = await moncam(['capture'], { cwd: daemon.dataDir, env });
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, /^moncam: \(\w+\) capture failed: /m);
      // The daemon carries on: a further still works once the camera is back.
      fs.writeFileSync(scenario, 'ok');
      assert.equal((await moncam(['capture'], { cwd: daemon.dataDir, env })).code, 0);
    } finally {
      await daemon.stop();
    }
    assert.equal(fs.existsSync(path.join(daemon.dataDir, 'private', 'moncam.sock')), false, 'the socket goes with the daemon');
    // Stopped: the CLI takes the still itself again.
    const alone = await moncam(['capture'], {
      cwd: daemon.dataDir,
      env: { MONCAM_DATA_DIR: daemon.dataDir, MONCAM_CAMERA_BACKEND: 'synthetic', MONCAM_CAMERA_WIDTH: '320', MONCAM_CAMERA_HEIGHT: '240' },
    });
    assert.equal(alone.code, 0, alone.stderr);
    assert.doesNotMatch(alone.stderr, /running moncam/);
  });

  test('a running moncam that does not answer (lock held, no socket): one clear line, exit 1', async () => {
    const dataDir = tempDir();
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // This test process stands in for a daemon of another version: alive, holding the lock, no control socket.
    fs.writeFileSync(path.join(dataDir, 'moncam.lock'), JSON.stringify({ pid: process.pid, boot, started: new Date().toISOString() }) + '\n');
    const r = await moncam(['capture'], { cwd: dataDir, env: { MONCAM_DATA_DIR: dataDir, MONCAM_CAMERA_BACKEND: 'synthetic' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^moncam: \(locked\) a moncam daemon is running on .* but does not answer on .*moncam\.sock; take the still from the web page or over MQTT, or use moncam capture --out FILE\n$/,
    );
  });
});
