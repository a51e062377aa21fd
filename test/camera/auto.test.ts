// Backend probing with PATH pointing at a temp dir of fake programs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { findOnPath, probeCamera, type CameraConfig, type ProbeDeps, type SyntheticFactoryOptions } from '../../src/camera/auto.ts';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import type { Camera, Shot } from '../../src/camera/types.ts';
import { memoryLogger, quietLogger, tempDir, testConfig } from '../helpers/setup.ts';
import { FAKE_FFMPEG, FAKE_RASPISTILL, FAKE_RPICAM, fakeEnv, req } from './fakes.ts';

/** A bin dir holding the named fakes (symlinks, so the fakes still resolve sharp from the repo). */
function binDir(programs: Record<string, string>): string {
  const dir = tempDir('moncam-bin-');
  for (const [name, target] of Object.entries(programs)) {
    if (target.startsWith('#!')) fs.writeFileSync(path.join(dir, name), target, { mode: 0o755 });
    else fs.symlinkSync(target, path.join(dir, name));
  }
  return dir;
}

const vcgencmd = (detected: number) => `#!/bin/sh\necho "supported=1 detected=${detected}, libcamera interfaces=0"\n`;

class StubSynthetic implements Camera {
  readonly backend = 'synthetic';
  readonly description = 'stub synthetic';
  constructor(readonly opts: SyntheticFactoryOptions) {}
  async capture(): Promise<Shot> {
    return { jpeg: Buffer.alloc(0) };
  }
}

const camConfig = (over: Partial<CameraConfig> = {}): CameraConfig => ({ backend: 'auto', device: '/nonexistent/video0', extra_args: [], ...over });

function deps(searchPath: string, env: NodeJS.ProcessEnv, over: Partial<ProbeDeps> = {}): ProbeDeps {
  return { logger: quietLogger(), env, searchPath, createSynthetic: (o) => new StubSynthetic(o), ...over };
}

const program = (camera: Camera) => (camera as unknown as { program: string }).program;

describe('probeCamera (auto)', () => {
  test('rpicam-still listing a camera wins, and the chosen camera really captures', async () => {
    const bin = binDir({ 'rpicam-still': FAKE_RPICAM, 'libcamera-still': FAKE_RPICAM, raspistill: FAKE_RASPISTILL, ffmpeg: FAKE_FFMPEG });
    const { env, runs } = fakeEnv('ok');
    const { camera, reason } = await probeCamera(camConfig(), deps(bin, env));
    assert.equal(camera.backend, 'rpicam');
    assert.equal(program(camera), path.join(bin, 'rpicam-still'));
    assert.match(reason, /rpicam-still --list-cameras: found imx219/);
    assert.deepEqual(
      runs().map((r) => [r.program, r.argv]),
      [['rpicam-still', ['--list-cameras']]],
    );
    const still = await camera.capture(req());
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
  });

  test('rpicam-still without a camera -> libcamera-still', async () => {
    const bin = binDir({ 'rpicam-still': FAKE_RPICAM, 'libcamera-still': FAKE_RPICAM });
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SCENARIO_RPICAM_STILL: 'no_camera' });
    const { camera } = await probeCamera(camConfig(), deps(bin, env));
    assert.equal(program(camera), path.join(bin, 'libcamera-still'));
    assert.deepEqual(
      runs().map((r) => r.program),
      ['rpicam-still', 'libcamera-still'],
    );
  });

  test('legacy stack: raspistill when vcgencmd says detected=1, skipped when detected=0', async () => {
    const { env } = fakeEnv('ok', { FAKE_CAMERA_SCENARIO_RPICAM_STILL: 'legacy' });
    const yes = binDir({ 'rpicam-still': FAKE_RPICAM, raspistill: FAKE_RASPISTILL, vcgencmd: vcgencmd(1) });
    const found = await probeCamera(camConfig(), deps(yes, env));
    assert.equal(found.camera.backend, 'raspistill');
    assert.match(found.reason, /detected=1/);
    const no = binDir({ raspistill: FAKE_RASPISTILL, vcgencmd: vcgencmd(0) });
    assert.equal((await probeCamera(camConfig(), deps(no, env))).camera.backend, 'synthetic');
    // Without vcgencmd the camera cannot be verified; raspistill is chosen rather than hiding a real camera.
    const bare = binDir({ raspistill: FAKE_RASPISTILL });
    assert.equal((await probeCamera(camConfig(), deps(bare, env))).camera.backend, 'raspistill');
  });

  test('ffmpeg when its device exists or a url is set', async () => {
    const bin = binDir({ ffmpeg: FAKE_FFMPEG });
    const { env } = fakeEnv('ok');
    const device = path.join(tempDir(), 'video0');
    fs.writeFileSync(device, '');
    const byDevice = await probeCamera(camConfig({ device }), deps(bin, env));
    assert.equal(byDevice.camera.backend, 'ffmpeg');
    assert.equal(byDevice.camera.description, `${path.join(bin, 'ffmpeg')} from ${device}`);
    const byUrl = await probeCamera(camConfig({ url: 'rtsp://user:pw@cam.local/s' }), deps(bin, env));
    assert.equal(byUrl.camera.backend, 'ffmpeg');
    assert.ok(!byUrl.reason.includes('pw@'), byUrl.reason);
    assert.equal((await probeCamera(camConfig(), deps(bin, env))).camera.backend, 'synthetic');
  });

  test('nothing found -> synthetic from the factory, logged with what was tried', async () => {
    const { logger, lines } = memoryLogger();
    const bin = binDir({ 'rpicam-still': FAKE_RPICAM });
    const { env } = fakeEnv('no_camera');
    const { camera, reason, fallback } = await probeCamera(camConfig({ width: 640, height: 480 }), deps(bin, env, { logger, timeZone: 'Europe/Berlin' }));
    assert.ok(camera instanceof StubSynthetic);
    assert.match(fallback ?? '', /^rpicam-still: No cameras available!;/, 'the health status shows what the probe saw');
    assert.deepEqual(camera.opts, { width: 640, height: 480, timeZone: 'Europe/Berlin' });
    assert.match(reason, /rpicam-still: No cameras available!; libcamera-still: not found; raspistill: not found; ffmpeg: not found/);
    const warn = lines().find((l) => l.level === 40);
    assert.ok(warn && /synthetic/.test(String(warn.msg)), JSON.stringify(lines()));
    assert.equal(warn.backend, 'synthetic');
  });

  test('camera.command named like a known program replaces its default in auto', async () => {
    const bin = binDir({});
    const { env } = fakeEnv('ok');
    const { camera } = await probeCamera(camConfig({ command: FAKE_RPICAM }), deps(bin, env));
    assert.equal(camera.backend, 'rpicam');
    assert.equal(program(camera), FAKE_RPICAM);
  });
});

describe('probeCamera (explicit backend)', () => {
  test('explicit backend + command: used as configured, nothing probed (with camera.width/height set)', async () => {
    const { env, runs } = fakeEnv('no_camera');
    const { camera, reason } = await probeCamera(camConfig({ backend: 'rpicam', command: FAKE_RPICAM, width: 640, height: 480 }), deps(binDir({}), env));
    assert.equal(camera.backend, 'rpicam');
    assert.equal(program(camera), FAKE_RPICAM);
    assert.match(reason, /camera.backend is rpicam \(camera.command\)/);
    assert.equal(runs().length, 0);
  });

  test('explicit rpicam without a size: only --list-cameras runs (for the size); no camera listed still keeps the backend', async () => {
    const { env, runs } = fakeEnv('no_camera');
    const { camera } = await probeCamera(camConfig({ backend: 'rpicam', command: FAKE_RPICAM }), deps(binDir({}), env));
    assert.equal(camera.backend, 'rpicam');
    assert.deepEqual(
      runs().map((r) => r.argv),
      [['--list-cameras']],
    );
  });

  test('explicit rpicam without command: libcamera-still when rpicam-still is absent; the bare name when neither is found', async () => {
    const { env } = fakeEnv('ok');
    const bin = binDir({ 'libcamera-still': FAKE_RPICAM });
    const old = await probeCamera(camConfig({ backend: 'rpicam' }), deps(bin, env));
    assert.equal(program(old.camera), path.join(bin, 'libcamera-still'));
    const { logger, lines } = memoryLogger();
    const none = await probeCamera(camConfig({ backend: 'raspistill' }), deps(binDir({}), env, { logger }));
    assert.equal(program(none.camera), 'raspistill');
    assert.ok(lines().some((l) => l.level === 40 && /not found on PATH/.test(String(l.msg))));
  });

  test('accepts the whole config and a bare logger (as app.ts calls it)', async () => {
    const config = testConfig({ MONCAM_CAMERA_BACKEND: 'synthetic', MONCAM_CAMERA_WIDTH: '320', MONCAM_CAMERA_HEIGHT: '240' });
    const { camera, reason } = await probeCamera(config, quietLogger());
    assert.equal(camera.backend, 'synthetic');
    assert.equal(reason, 'camera.backend is synthetic');
    assert.deepEqual(validateJpeg((await camera.capture(req())).jpeg), { width: 320, height: 240 });
  });

  test('findOnPath: executables only, no shell, empty entries ignored', () => {
    const bin = binDir({ 'rpicam-still': FAKE_RPICAM });
    fs.writeFileSync(path.join(bin, 'notexec'), 'x', { mode: 0o644 });
    assert.equal(findOnPath('rpicam-still', `::/nonexistent:${bin}`), path.join(bin, 'rpicam-still'));
    assert.equal(findOnPath('notexec', bin), undefined);
    assert.equal(findOnPath('rpicam-still', ''), undefined);
    assert.equal(findOnPath(FAKE_RPICAM, ''), FAKE_RPICAM);
  });
});
