// GET /api/state carries the camera's status (src/health/) beside the existing `health` field, in the
// documented snake_case shape, following stills and failures of the real daemon.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setPassword } from '../../src/auth/password.ts';
import { CameraError, type Camera } from '../../src/camera/types.ts';
import { startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { farSchedule, makeJpeg, tempDir } from '../helpers/setup.ts';
import { WebClient } from '../helpers/web.ts';

const PASSWORD = 'garden-secret-1';
const KEYS = ['advice', 'backend', 'free_bytes', 'last_error', 'latest_at', 'next_at', 'reason', 'stale', 'state', 'stills_kept', 'synthetic'];
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/;

class BreakableCamera implements Camera {
  readonly backend = 'rpicam';
  readonly description = 'test camera that can break';
  broken = false;
  jpeg: Buffer = Buffer.alloc(0);
  async capture() {
    if (this.broken) throw new CameraError('no_camera', 'no camera available');
    return { jpeg: this.jpeg };
  }
}

interface State {
  health: Record<string, unknown>;
  status: Record<string, unknown> & { last_error: Record<string, unknown> | null };
}

describe('web: /api/state status', () => {
  let daemon: Daemon;
  let web: WebClient;
  const camera = new BreakableCamera();
  before(async () => {
    camera.jpeg = await makeJpeg(640, 480);
    const dataDir = tempDir();
    await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
    daemon = await startDaemon(camera, {
      MONCAM_DATA_DIR: dataDir,
      MONCAM_BROKER_ENABLED: 'false',
      MONCAM_SCHEDULE_ENABLED: 'true',
      ...farSchedule(),
      MONCAM_CAMERA_BACKOFF_AFTER: '0',
    });
    web = new WebClient(daemon.web);
    assert.equal((await web.login(PASSWORD)).status, 303);
  });
  after(() => daemon.stop());

  const state = async () => (await (await web.get('/api/state')).json()) as State;

  test("no still yet: no_stills, the schedule's next still, free space", async () => {
    const { status, health } = await state();
    assert.deepEqual(Object.keys(status).sort(), KEYS);
    assert.equal(status.state, 'no_stills');
    assert.equal(status.stale, false);
    assert.equal(status.backend, 'rpicam');
    assert.equal(status.synthetic, false);
    assert.equal(status.latest_at, null);
    assert.match(String(status.next_at), ISO_WITH_OFFSET);
    assert.ok(typeof status.free_bytes === 'number' && status.free_bytes > 0);
    assert.equal(status.stills_kept, 0);
    assert.equal(status.last_error, null);
    assert.deepEqual(health, { ok: true, consecutive_failures: 0 }, 'the existing health field is unchanged');
  });

  test('after stills and a failure: counts, the newest still, failing with the error, then ok again', async () => {
    await daemon.app.captures.capture('web');
    const still = await daemon.app.captures.capture('web');
    let { status } = await state();
    assert.equal(status.state, 'ok');
    assert.equal(status.stills_kept, 2);
    assert.equal(status.latest_at, still.capture.capturedAtIso);
    assert.equal(status.reason, null);

    camera.broken = true;
    await daemon.app.captures.capture('web').catch(() => undefined);
    const failing = await state();
    assert.equal(failing.status.state, 'failing');
    assert.equal(failing.status.stale, true);
    assert.match(String(failing.status.reason), /no_camera/);
    assert.match(String(failing.status.advice), /ribbon cable/);
    assert.equal(failing.status.last_error?.code, 'no_camera');
    assert.match(String(failing.status.last_error?.at), ISO_WITH_OFFSET);
    assert.equal(failing.health.consecutive_failures, 1);

    camera.broken = false;
    await daemon.app.captures.capture('web');
    ({ status } = await state());
    assert.equal(status.state, 'ok');
    assert.equal(status.stills_kept, 3);
    assert.equal(status.last_error?.code, 'no_camera', 'the last error is still shown');
  });
});
