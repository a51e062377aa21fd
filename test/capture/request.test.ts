// Config + per-still overrides -> the camera's StillRequest: autofocus, lens position and HDR.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stillRequest } from '../../src/capture/request.ts';
import { ConfigError } from '../../src/config/load.ts';
import { testConfig } from '../helpers/setup.ts';

const focus = (r: ReturnType<typeof stillRequest>) => ({ mode: r.autofocusMode, scan: r.autofocusOnCapture, lens: r.lensPosition, hdr: r.hdr });

describe('stillRequest: Camera Module 3 options', () => {
  test('defaults pass nothing: rpicam-still keeps its own focus behaviour, no HDR', () => {
    assert.deepEqual(focus(stillRequest(testConfig())), { mode: undefined, scan: undefined, lens: undefined, hdr: undefined });
  });

  test('config: mode, scan on capture, lens position and HDR', () => {
    const config = testConfig({ MONCAM_CAMERA_AUTOFOCUS_MODE: 'manual', MONCAM_CAMERA_LENS_POSITION: '0.5', MONCAM_CAMERA_HDR: 'sensor' });
    assert.deepEqual(focus(stillRequest(config)), { mode: 'manual', scan: undefined, lens: 0.5, hdr: 'sensor' });
    assert.deepEqual(focus(stillRequest(testConfig({ MONCAM_CAMERA_AUTOFOCUS_ON_CAPTURE: 'true' }))), {
      mode: undefined,
      scan: true,
      lens: undefined,
      hdr: undefined,
    });
  });

  test('per still: a lens position means manual focus and no scan; autofocus: true replaces the lens position', () => {
    const continuous = testConfig({ MONCAM_CAMERA_AUTOFOCUS_MODE: 'continuous', MONCAM_CAMERA_AUTOFOCUS_ON_CAPTURE: 'true' });
    assert.deepEqual(focus(stillRequest(continuous, { lensPosition: 2 })), { mode: 'manual', scan: undefined, lens: 2, hdr: undefined });
    const manual = testConfig({ MONCAM_CAMERA_LENS_POSITION: '1' });
    assert.deepEqual(focus(stillRequest(manual, { autofocus: true })), { mode: undefined, scan: true, lens: undefined, hdr: undefined });
    assert.deepEqual(focus(stillRequest(continuous, { autofocus: false })), { mode: 'continuous', scan: undefined, lens: undefined, hdr: undefined });
  });

  test('config refuses a lens position that autofocus would ignore, and unknown modes', () => {
    assert.throws(
      () => testConfig({ MONCAM_CAMERA_AUTOFOCUS_MODE: 'continuous', MONCAM_CAMERA_LENS_POSITION: '1' }),
      (e: unknown) => e instanceof ConfigError && /camera\.lens_position.*ignored/.test(e.message),
    );
    assert.throws(() => testConfig({ MONCAM_CAMERA_HDR: 'on' }), ConfigError);
    assert.throws(() => testConfig({ MONCAM_CAMERA_LENS_POSITION: '40' }), ConfigError);
  });
});
