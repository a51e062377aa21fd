// ffmpeg backend (USB webcam / stream) against test/fixtures/fake-ffmpeg.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FfmpegCamera, ffmpegArgs, mjpegQscale, scrubCredentials } from '../../src/camera/ffmpeg.ts';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { tempDir } from '../helpers/setup.ts';
import { FAKE_FFMPEG, fakeEnv, pidGone, rejectsWithCode, req } from './fakes.ts';

function fakeDevice(): string {
  const dev = path.join(tempDir(), 'video0');
  fs.writeFileSync(dev, '');
  return dev;
}

describe('ffmpeg', () => {
  test('quality maps onto mjpeg -q:v 2..31', () => {
    assert.equal(mjpegQscale(100), 2);
    assert.equal(mjpegQscale(1), 31);
    assert.equal(mjpegQscale(93), 4);
  });

  test('args: v4l2 device with size, settle, flips then rotation, output to stdout last', () => {
    assert.deepEqual(ffmpegArgs(req({ rotation: 90, hflip: true, settleMs: 1500 }), { device: '/dev/video2' }, ['-input_format', 'mjpeg']), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-y',
      '-f',
      'v4l2',
      '-video_size',
      '320x240',
      '-i',
      '/dev/video2',
      '-ss',
      '1.500',
      '-frames:v',
      '1',
      '-vf',
      'hflip,transpose=clock',
      '-f',
      'image2pipe',
      '-c:v',
      'mjpeg',
      '-q:v',
      '5',
      '-input_format',
      'mjpeg',
      '-',
    ]);
  });

  test('args: rtsp url over tcp, scaled, rotation 270', () => {
    assert.deepEqual(ffmpegArgs(req({ rotation: 270 }), { url: 'rtsp://cam.local/stream1' }), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-y',
      '-rtsp_transport',
      'tcp',
      '-i',
      'rtsp://cam.local/stream1',
      '-frames:v',
      '1',
      '-vf',
      'scale=320:240,transpose=cclock',
      '-f',
      'image2pipe',
      '-c:v',
      'mjpeg',
      '-q:v',
      '5',
      '-',
    ]);
    assert.ok(!ffmpegArgs(req(), { url: 'http://cam.local/snap.mjpg' }).includes('-rtsp_transport'));
  });

  test('ok: one frame as JPEG, rotation done by ffmpeg, exact argv', async () => {
    const { env, runs } = fakeEnv('ok');
    const device = fakeDevice();
    const still = await new FfmpegCamera({ program: FAKE_FFMPEG, env, device }).capture(req({ rotation: 90 }));
    assert.equal(still.rotate, undefined);
    assert.deepEqual(validateJpeg(still.jpeg), { width: 240, height: 320 });
    const [run] = runs();
    assert.deepEqual(run!.argv, ffmpegArgs(req({ rotation: 90 }), { device }));
    assert.ok(pidGone(run!.pid));
  });

  test('missing device -> no_camera; busy device -> busy', async () => {
    const missing = path.join(tempDir(), 'video9');
    const err = await rejectsWithCode(new FfmpegCamera({ program: FAKE_FFMPEG, env: fakeEnv('ok').env, device: missing }).capture(req()), 'no_camera');
    assert.equal(err.detail, `${missing}: No such file or directory`);
    const busy = await rejectsWithCode(new FfmpegCamera({ program: FAKE_FFMPEG, env: fakeEnv('busy').env, device: fakeDevice() }).capture(req()), 'busy');
    assert.match(busy.detail!, /Device or resource busy/);
  });

  test('stream refused -> no_camera, password scrubbed from the detail and description', async () => {
    const url = 'rtsp://admin:s3cret@127.0.0.1:1/live';
    const cam = new FfmpegCamera({ program: FAKE_FFMPEG, env: fakeEnv('refused').env, url });
    assert.ok(!cam.description.includes('s3cret'));
    const err = await rejectsWithCode(cam.capture(req()), 'no_camera');
    assert.equal(err.detail, 'rtsp://admin:***@127.0.0.1:1/live: Connection refused');
    assert.equal(scrubCredentials('http://u:p@h/x: 404'), 'http://u:***@h/x: 404');
  });

  test('unknown option -> config', async () => {
    const cam = new FfmpegCamera({ program: FAKE_FFMPEG, env: fakeEnv('ok').env, device: fakeDevice(), extraArgs: ['-bogus'] });
    const err = await rejectsWithCode(cam.capture(req()), 'config');
    assert.match(err.detail!, /Option not found/);
  });
});
