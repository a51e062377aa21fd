// Legacy raspistill backend against test/fixtures/fake-raspistill.mjs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { RaspistillCamera, raspistillArgs } from '../../src/camera/raspistill.ts';
import { FAKE_RASPISTILL, fakeEnv, pidGone, rejectsWithCode, req } from './fakes.ts';

describe('raspistill', () => {
  test('args: -n -o - -e jpg, explicit -t, rotation done by the tool, exposure names mapped', () => {
    assert.deepEqual(raspistillArgs(req({ rotation: 270, hflip: true, exposure: 'long', shutterUs: 6_000_000, gain: 8 }), ['-awb', 'sun']), [
      '-n',
      '-o',
      '-',
      '-e',
      'jpg',
      '-t',
      '10',
      '-q',
      '90',
      '-w',
      '320',
      '-h',
      '240',
      '-rot',
      '270',
      '-hf',
      '-ex',
      'verylong',
      '-ss',
      '6000000',
      '-ag',
      '8',
      '-awb',
      'sun',
    ]);
    assert.equal(raspistillArgs(req({ exposure: 'normal' })).at(-1), 'auto');
    assert.equal(raspistillArgs(req({ exposure: 'night' })).at(-1), 'night');
    assert.equal(raspistillArgs(req({ exposure: 'sport' })).at(-1), 'sports');
    assert.ok(!raspistillArgs(req({ rotation: 0 })).includes('-rot'));
  });

  test('ok: JPEG from stdout, exact argv, nothing left to rotate', async () => {
    const { env, runs } = fakeEnv('ok');
    const still = await new RaspistillCamera({ program: FAKE_RASPISTILL, env }).capture(req({ rotation: 90, vflip: true }));
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    assert.equal(still.rotate, undefined);
    const [run] = runs();
    assert.deepEqual(run!.argv, ['-n', '-o', '-', '-e', 'jpg', '-t', '10', '-q', '90', '-w', '320', '-h', '240', '-rot', '90', '-vf', '-ex', 'auto']);
    assert.ok(pidGone(run!.pid));
  });

  test('camera not detected / not enabled -> no_camera with the MMAL line; exit code 70', async () => {
    const cam = (scenario: string) => new RaspistillCamera({ program: FAKE_RASPISTILL, env: fakeEnv(scenario).env });
    const err = await rejectsWithCode(cam('no_camera').capture(req()), 'no_camera');
    assert.equal(err.detail, 'mmal: Camera is not detected. Please check carefully the camera module is installed correctly');
    assert.equal(err.exitCode, 70);
    const off = await rejectsWithCode(cam('not_enabled').capture(req()), 'no_camera');
    assert.match(off.detail!, /Camera is not enabled in this build/);
  });

  test('ENOSPC (camera held by another process) -> busy', async () => {
    const err = await rejectsWithCode(new RaspistillCamera({ program: FAKE_RASPISTILL, env: fakeEnv('busy').env }).capture(req()), 'busy');
    assert.match(err.detail!, /ENOSPC|couldn't be enabled/);
  });

  test('unknown option -> config (exit 64)', async () => {
    const cam = new RaspistillCamera({ program: FAKE_RASPISTILL, env: fakeEnv('ok').env, extraArgs: ['--bogus'] });
    const err = await rejectsWithCode(cam.capture(req()), 'config');
    assert.equal(err.detail, 'Invalid command line option (--bogus)');
    assert.equal(err.exitCode, 64);
  });
});
