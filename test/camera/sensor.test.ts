// The sensor's full size from `--list-cameras` (the fake prints the real layout for IMX219/708/477/585) and
// the default still size it gives where camera.width/height are unset.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { probeCamera, type CameraConfig, type ProbeDeps } from '../../src/camera/auto.ts';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { cameraIndex, fullSize, parseListCameras, withSensorSize } from '../../src/camera/sensor.ts';
import { WarmRpicamCamera } from '../../src/camera/warm.ts';
import { stillRequest } from '../../src/capture/request.ts';
import { quietLogger, tempDir, testConfig } from '../helpers/setup.ts';
import { FAKE_RPICAM, fakeEnv, req } from './fakes.ts';

function listing(sensor: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [FAKE_RPICAM, '--list-cameras', ...args], { env: { ...process.env, FAKE_CAMERA_SENSOR: sensor }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** A bin dir with the fake as rpicam-still (a symlink, so it still resolves sharp from the repo). */
function binDir(): string {
  const dir = tempDir('moncam-bin-');
  fs.symlinkSync(FAKE_RPICAM, path.join(dir, 'rpicam-still'));
  return dir;
}

const camConfig = (over: Partial<CameraConfig> = {}): CameraConfig => ({ backend: 'auto', device: '/nonexistent/video0', extra_args: [], ...over });
const deps = (searchPath: string, env: NodeJS.ProcessEnv, over: Partial<ProbeDeps> = {}): ProbeDeps => ({ logger: quietLogger(), env, searchPath, ...over });
/** The request the daemon builds from camera.width/height (unset: none), small quality for speed. */
const unsized = () => req({ width: undefined, height: undefined, quality: 30 });

describe('parseListCameras / fullSize', () => {
  test('Camera Module 3 (IMX708): 4608x2592; with --hdr=sensor only the 2304x1296 HDR mode', () => {
    const [cm3] = parseListCameras(listing('imx708'));
    assert.equal(cm3!.model, 'imx708');
    assert.deepEqual(cm3!.active, { width: 4608, height: 2592 });
    assert.deepEqual(
      cm3!.modes.map((m) => `${m.width}x${m.height}`),
      ['1536x864', '2304x1296', '4608x2592'],
      'crop rectangles are not modes',
    );
    assert.deepEqual(fullSize(cm3!), { width: 4608, height: 2592 });
    assert.deepEqual(fullSize(parseListCameras(listing('imx708', '--hdr=sensor'))[0]!), { width: 2304, height: 1296 });
  });

  test('HQ camera (IMX477): 4056x3040 across two pixel formats; IMX585: modes beyond the active area are cut to it', () => {
    const [hq] = parseListCameras(listing('imx477'));
    assert.deepEqual(hq!.modes.length, 4);
    assert.deepEqual(fullSize(hq!), { width: 4056, height: 3040 });
    assert.deepEqual(fullSize(parseListCameras(listing('imx585'))[0]!), { width: 3840, height: 2160 });
    assert.deepEqual(fullSize(parseListCameras(listing('imx219'))[0]!), { width: 3280, height: 2464 });
  });

  test('older libcamera-apps listing (sizes without fps), two cameras, no active area, nothing listed', () => {
    const text = [
      'Available cameras',
      '-----------------',
      '0 : imx219 [3280x2464] (/base/soc/i2c0mux/i2c@1/imx219@10)',
      "    Modes: 'SRGGB10_CSI2P' : 640x480 1640x1232 1920x1080 3280x2464",
      '1 : ov5647 [10-bit GBRG] (/base/soc/i2c0mux/i2c@0/ov5647@36)',
      "    Modes: 'SGBRG10_CSI2P' : 640x480 1296x972 1920x1080 2592x1944",
    ].join('\n');
    const [a, b] = parseListCameras(text);
    assert.deepEqual(fullSize(a!), { width: 3280, height: 2464 });
    assert.equal(b!.index, 1);
    assert.equal(b!.active, undefined);
    assert.deepEqual(fullSize(b!), { width: 2592, height: 1944 });
    assert.deepEqual(parseListCameras('No cameras available!\n'), []);
    assert.equal(fullSize({ index: 0, model: 'x', modes: [] }), undefined);
  });

  test('cameraIndex follows --camera in extra_args', () => {
    assert.equal(cameraIndex([]), 0);
    assert.equal(cameraIndex(['--awb', 'daylight', '--camera', '1']), 1);
    assert.equal(cameraIndex(['--camera=2']), 2);
  });

  test('withSensorSize: both unset -> full size; one set -> the other from the aspect ratio; both set -> unchanged', () => {
    const size = { width: 4608, height: 2592 };
    assert.deepEqual([withSensorSize(unsized(), size).width, withSensorSize(unsized(), size).height], [4608, 2592]);
    assert.equal(withSensorSize(req({ width: 1920, height: undefined }), size).height, 1080);
    assert.equal(withSensorSize(req({ width: undefined, height: 1080 }), size).width, 1920);
    assert.deepEqual(withSensorSize(req({ width: 640, height: 640 }), size), req({ width: 640, height: 640 }));
    assert.deepEqual(withSensorSize(unsized(), undefined), unsized());
  });
});

describe('probeCamera: the default still size is the sensor full size', () => {
  test('auto, Camera Module 3: stills are 4608x2592 without camera.width/height', async () => {
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx708' });
    const { camera, reason } = await probeCamera(camConfig(), deps(binDir(), env));
    assert.match(reason, /found imx708/);
    const still = await camera.capture(unsized());
    assert.deepEqual(validateJpeg(still.jpeg), { width: 4608, height: 2592 });
    const [list, shot] = runs();
    assert.deepEqual(list!.argv, ['--list-cameras']);
    assert.deepEqual(shot!.argv.slice(shot!.argv.indexOf('--width'), shot!.argv.indexOf('--width') + 4), ['--width', '4608', '--height', '2592']);
  });

  test('explicit rpicam, HQ camera: --list-cameras once at start, stills 4056x3040', async () => {
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx477' });
    const { camera } = await probeCamera(camConfig({ backend: 'rpicam', command: FAKE_RPICAM }), deps('', env));
    assert.deepEqual(validateJpeg((await camera.capture(unsized())).jpeg), { width: 4056, height: 3040 });
    assert.deepEqual(
      runs().map((r) => r.argv[0]),
      ['--list-cameras', '-n'],
    );
  });

  test('camera.hdr sensor on a Camera Module 3: listed with --hdr=sensor, stills at the HDR size 2304x1296', async () => {
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx708' });
    const config = testConfig({
      MONCAM_CAMERA_BACKEND: 'rpicam',
      MONCAM_CAMERA_COMMAND: FAKE_RPICAM,
      MONCAM_CAMERA_HDR: 'sensor',
      MONCAM_CAMERA_WARM: 'false',
    });
    const { camera } = await probeCamera(config, deps('', env));
    const request = stillRequest(config);
    assert.equal(request.width, undefined, 'the config sets no size');
    assert.deepEqual(validateJpeg((await camera.capture({ ...request, quality: 30, settleMs: 0 })).jpeg), { width: 2304, height: 1296 });
    const [list, shot] = runs();
    assert.deepEqual(list!.argv, ['--list-cameras', '--hdr=sensor']);
    assert.ok(shot!.argv.includes('--hdr=sensor'), shot!.argv.join(' '));
  });

  test('explicit camera.width/height win, and the explicit backend then lists nothing', async () => {
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx708' });
    const config = testConfig({
      MONCAM_CAMERA_BACKEND: 'rpicam',
      MONCAM_CAMERA_COMMAND: FAKE_RPICAM,
      MONCAM_CAMERA_WIDTH: '640',
      MONCAM_CAMERA_HEIGHT: '360',
      MONCAM_CAMERA_WARM: 'false',
    });
    const { camera } = await probeCamera(config, deps('', env));
    assert.deepEqual(validateJpeg((await camera.capture({ ...stillRequest(config), settleMs: 0 })).jpeg), { width: 640, height: 360 });
    assert.deepEqual(
      runs().map((r) => r.argv[0]),
      ['-n'],
      'no --list-cameras run',
    );
  });

  test('auto with camera.width/height set: the probe runs, the user size wins', async () => {
    const { env } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx477' });
    const { camera } = await probeCamera(camConfig({ width: 400, height: 300 }), deps(binDir(), env));
    assert.deepEqual(validateJpeg((await camera.capture(req({ width: 400, height: 300 }))).jpeg), { width: 400, height: 300 });
  });

  test('warm mode keeps its process for the daemon profile filled with the sensor size', async () => {
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx219', FAKE_CAMERA_WARM_START_MS: '50' });
    const profile = req({ width: undefined, height: undefined, quality: 30, settleMs: 0 });
    const { camera } = await probeCamera(
      { ...camConfig({ backend: 'rpicam', command: FAKE_RPICAM }), warm: true },
      deps('', env, { warmProfile: profile, totalMemBytes: 4096 * 1024 * 1024 }),
    );
    assert.ok(camera instanceof WarmRpicamCamera);
    try {
      for (let i = 0; i < 2; i++) assert.deepEqual(validateJpeg((await camera.capture(profile)).jpeg), { width: 3280, height: 2464 });
      const shots = runs().filter((r) => r.argv[0] !== '--list-cameras');
      assert.equal(shots.length, 1, 'both stills from one warm process');
      assert.ok(shots[0]!.argv.includes('--signal'));
    } finally {
      await camera.stop?.();
    }
  });
});
