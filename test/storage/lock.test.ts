// One moncam per data dir: a second one refuses to start with a clear message; a lock left by kill -9 is taken over.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DataDirLock, DataDirLockedError } from '../../src/storage/lock.ts';
import { moncam } from '../helpers/cli.ts';
import { ChildDaemon } from '../helpers/daemon.ts';
import { quietLogger, tempDir } from '../helpers/setup.ts';

test('a second `moncam run` on the same data dir refuses and touches nothing; after kill -9 `moncam capture` works (stale lock and socket)', async () => {
  const daemon = await ChildDaemon.start();
  const env = { MONCAM_DATA_DIR: daemon.dataDir, MONCAM_CAMERA_BACKEND: 'synthetic', MONCAM_BROKER_ENABLED: 'false', MONCAM_WEB_ENABLED: 'false' };
  try {
    const refused = await moncam(['run'], { cwd: daemon.dataDir, env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`another moncam \\(pid ${daemon.pid}, started .*\\) is using ${daemon.dataDir}; ask it for a still`));
    assert.equal(fs.existsSync(path.join(daemon.dataDir, 'captures')) && fs.readdirSync(path.join(daemon.dataDir, 'captures')).length, 0, 'nothing stored');
  } finally {
    daemon.kill('SIGKILL');
    await daemon.exited;
  }
  assert.ok(fs.existsSync(path.join(daemon.dataDir, 'private', 'moncam.sock')), 'kill -9 leaves the control socket file behind');
  const after = await moncam(['capture'], { cwd: daemon.dataDir, env });
  assert.equal(after.code, 0, after.stderr);
  assert.doesNotMatch(after.stderr, /running moncam/, 'taken by the command itself');
  assert.ok(!fs.existsSync(path.join(daemon.dataDir, 'moncam.lock')), 'released on exit');
});

test('a stale lock (dead pid, or another boot) is taken over; a torn one too; release removes it', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'moncam.lock');
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  for (const stale of [
    JSON.stringify({ pid: 2 ** 22 + 7, boot, started: 'x' }), // no such process
    JSON.stringify({ pid: process.ppid, boot: 'an-earlier-boot', started: 'x' }), // alive, but the pid is from before a reboot
    '', // torn by a power cut
  ]) {
    fs.writeFileSync(file, stale);
    const lock = new DataDirLock(dir, quietLogger());
    await lock.acquire();
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid);
    await lock.release();
    assert.ok(!fs.existsSync(file));
  }
  fs.writeFileSync(file, JSON.stringify({ pid: process.ppid, boot, started: 'x' }));
  await assert.rejects(new DataDirLock(dir, quietLogger()).acquire(), DataDirLockedError);
});
