import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { SyntheticCamera } from '../../src/camera/synthetic.ts';
import type { StillRequest } from '../../src/camera/types.ts';

const req = (over: Partial<StillRequest> = {}): StillRequest => ({
  quality: 85,
  rotation: 0,
  hflip: false,
  vflip: false,
  exposure: 'normal',
  settleMs: 0,
  timeoutMs: 5000,
  ...over,
});

describe('synthetic camera', () => {
  test('renders a valid JPEG at the configured size, default 1640x1232', async () => {
    const cam = new SyntheticCamera({});
    const { jpeg } = await cam.capture(req());
    assert.deepEqual(validateJpeg(jpeg), { width: 1640, height: 1232 });
    const small = await cam.capture(req({ width: 320, height: 240 }));
    assert.deepEqual(validateJpeg(small.jpeg), { width: 320, height: 240 });
  });

  test('the scene shows the time: stills a minute apart differ; night is darker', async () => {
    let now = new Date('2026-06-01T10:00:00Z');
    const cam = new SyntheticCamera({ width: 320, height: 240, timeZone: 'UTC', now: () => now });
    const a = await sharp((await cam.capture(req())).jpeg)
      .raw()
      .toBuffer();
    now = new Date('2026-06-01T10:21:00Z');
    const b = await sharp((await cam.capture(req())).jpeg)
      .raw()
      .toBuffer();
    assert.notDeepEqual(a, b);
    const night = await sharp((await cam.capture(req({ exposure: 'night' }))).jpeg).stats();
    const day = await sharp((await cam.capture(req())).jpeg).stats();
    assert.ok(night.channels[2]!.mean < day.channels[2]!.mean);
  });

  test('rotation 90 is rendered upright (it re-encodes anyway, no EXIF needed)', async () => {
    const cam = new SyntheticCamera({ width: 320, height: 240 });
    const still = await cam.capture(req({ rotation: 90 }));
    assert.equal(still.rotate, undefined);
    assert.deepEqual(validateJpeg(still.jpeg), { width: 240, height: 320 });
  });
});
