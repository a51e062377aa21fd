import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { moncam } from '../helpers/cli.ts';
import { instantCamera, Recorder, startDaemon } from '../helpers/mqtt.ts';
import { makeJpeg, tempDir } from '../helpers/setup.ts';

describe('moncam mqtt remove', () => {
  test('clears the retained discovery and state of this camera, nothing else', async () => {
    const host = await startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_CAMERA_ID: 'host' });
    try {
      const gone = await startDaemon(instantCamera(await makeJpeg(320, 240)), {
        MONCAM_MQTT_URL: host.url,
        MONCAM_CAMERA_ID: 'gone',
        MONCAM_BROKER_ENABLED: 'false',
      });
      await gone.app.captures.capture('web');
      const sub = await Recorder.connect(host.url, ['moncam/gone/#', 'homeassistant/device/#']);
      await sub.waitFor('moncam/gone/image');
      await sub.close();
      await gone.stop();

      const r = await moncam(['mqtt', 'remove'], { cwd: tempDir(), env: { MONCAM_MQTT_URL: host.url, MONCAM_CAMERA_ID: 'gone' } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /removed camera "gone"/);

      const late = await Recorder.connect(host.url, ['moncam/#', 'homeassistant/device/#']);
      await late.waitFor('homeassistant/device/moncam_host/config');
      await new Promise((res) => setTimeout(res, 300));
      const left = late.messages.filter((m) => m.topic.includes('gone'));
      assert.deepEqual(
        left.map((m) => m.topic),
        [],
        'nothing retained for the removed camera',
      );
      await late.close();
    } finally {
      await host.stop();
    }
  });

  test('an unreachable broker is a clear error, exit 1', async () => {
    const r = await moncam(['mqtt', 'remove'], { cwd: tempDir(), env: { MONCAM_MQTT_URL: 'mqtt://127.0.0.1:9' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the MQTT broker at mqtt:\/\/127\.0\.0\.1:9/);
  });
});
