// SIGTERM while a capture runs: the daemon finishes it (or discards it cleanly), says `offline`, and
// exits 0 within 10 s, leaving no camera process and no partial file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { ChildDaemon } from '../helpers/daemon.ts';
import { Recorder } from '../helpers/mqtt.ts';
import { makeJpeg, tempDir, until } from '../helpers/setup.ts';

const AVAILABILITY = 'moncam/childcam/availability';
const EVENT = 'moncam/childcam/event';

interface Run {
  pid: number;
}

function runsIn(log: string): Run[] {
  return fs.existsSync(log)
    ? fs
        .readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Run)
    : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every file under the captures folder, relative. */
function files(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : [];
}

/** Starts a daemon, asks for a still over MQTT, SIGTERMs it once the camera program runs. */
async function sigtermDuringCapture(env: Record<string, string>) {
  const log = path.join(tempDir('moncam-shutdown-'), 'argv.jsonl');
  const daemon = await ChildDaemon.start({ env: { FAKE_CAMERA_ARGV_LOG: log, ...env } });
  const watcher = await Recorder.connect(daemon.mqttUrl, [AVAILABILITY, EVENT]);
  await watcher.waitFor(AVAILABILITY, 1, 5000, (m) => m.payload.toString() === 'online');
  await watcher.publish('moncam/capture/set', 'PRESS');
  await until(() => runsIn(log).length === 1, 10_000, 'the camera program to start');
  const exit = await daemon.stop('SIGTERM');
  const offline = watcher.messages.some((m) => m.topic === AVAILABILITY && m.payload.toString() === 'offline');
  // What reached the broker, in order: a still finished during shutdown is published before `offline`.
  // A subscription made while `online` is being published gets it twice (live and retained): one counts.
  const sequence = watcher.messages
    .map((m) => (m.topic === EVENT ? String(JSON.parse(m.payload.toString()).event_type) : m.payload.toString()))
    .filter((s, i, all) => s !== all[i - 1]);
  await watcher.close();
  return { daemon, exit, offline, sequence, camera: runsIn(log)[0]!, captures: path.join(daemon.dataDir, 'captures') };
}

describe('clean shutdown', () => {
  test('SIGTERM during a capture that can finish: the still is stored whole, offline is published, exit 0', async () => {
    // A prepared JPEG (the fake then loads no sharp) and a short delay: the still is well inside the 4 s
    // that stopping gives a capture in flight, also on a loaded machine.
    const jpeg = path.join(tempDir('moncam-shutdown-'), 'still.jpg');
    fs.writeFileSync(jpeg, await makeJpeg(640, 480));
    const { daemon, exit, offline, sequence, camera, captures } = await sigtermDuringCapture({ FAKE_CAMERA_DELAY_MS: '800', FAKE_CAMERA_JPEG: jpeg });
    assert.deepEqual(sequence, ['online', 'captured', 'offline'], 'the still is published, then `offline`');
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    assert.ok(exit.ms < 10_000, `exited after ${exit.ms} ms`);
    assert.ok(offline, '`offline` reached the broker before the daemon left');
    assert.equal(alive(camera.pid), false);
    const originals = files(captures).filter((f) => f.endsWith('.jpg') && !f.includes('.thumb') && !f.includes('.preview'));
    assert.equal(originals.length, 1, `stored: ${files(captures).join(', ')}`);
    validateJpeg(fs.readFileSync(path.join(captures, originals[0]!)));
    assert.deepEqual(
      files(captures).filter((f) => /\.tmp-/.test(f)),
      [],
    );
    assert.ok(daemon.logged('moncam stopped'));
  });

  for (const scenario of ['hang', 'hang_ignore_term']) {
    test(`SIGTERM during a capture that never ends (${scenario}): it is discarded, the program killed, exit 0 within 10 s`, async () => {
      const { daemon, exit, offline, camera, captures } = await sigtermDuringCapture({ FAKE_CAMERA_SCENARIO: scenario, MONCAM_CAMERA_TIMEOUT_MS: '60000' });
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.ok(exit.ms < 10_000, `exited after ${exit.ms} ms`);
      assert.ok(offline, '`offline` reached the broker');
      assert.equal(alive(camera.pid), false, 'the camera program was killed, not orphaned');
      assert.deepEqual(files(captures), [], 'nothing stored, no temp file');
      assert.ok(daemon.logged('shutting down: aborting the capture in flight'));
    });
  }

  test('a second signal exits at once without waiting for the capture', async () => {
    const log = path.join(tempDir('moncam-shutdown-'), 'argv.jsonl');
    const daemon = await ChildDaemon.start({ env: { FAKE_CAMERA_ARGV_LOG: log, FAKE_CAMERA_SCENARIO: 'hang', MONCAM_CAMERA_TIMEOUT_MS: '60000' } });
    const client = await Recorder.connect(daemon.mqttUrl, [AVAILABILITY]);
    await client.publish('moncam/capture/set', 'PRESS');
    await until(() => runsIn(log).length === 1, 10_000, 'the camera program to start');
    await client.close();
    daemon.kill('SIGINT');
    await until(() => daemon.logged('stopping'), 5000, 'the first signal to be seen');
    const t0 = Date.now();
    daemon.kill('SIGINT');
    const exit = await daemon.exited;
    assert.equal(exit.code, 130);
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
    // An orphaned camera program would hold the camera: it got SIGTERM on the way out.
    const pid = runsIn(log)[0]!.pid;
    await until(() => !alive(pid), 2000, 'the camera program to go').finally(() => alive(pid) && process.kill(pid, 'SIGKILL'));
  });
});
