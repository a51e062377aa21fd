// The daemon's MQTT client options: what they cost in memory (issue 13).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { instantCamera, startDaemon } from '../helpers/mqtt.ts';
import { makeJpeg } from '../helpers/setup.ts';

// The module aedes and mqtt.js share (one copy after npm's dedupe): its cache of 65,536 two-byte Buffers.
const numbers = createRequire(import.meta.url)('mqtt-packet/numbers') as { cache: Record<number, Buffer> };

test("the embedded broker and the daemon client exchange packets without building mqtt-packet's number cache", { timeout: 60_000 }, async () => {
  const camera = instantCamera(await makeJpeg());
  const daemon = await startDaemon(camera);
  try {
    // A still over MQTT: broker and client both write packets (CONNACK, SUBACK, PUBLISH with topic lengths).
    const t0 = Date.now();
    while (!daemon.app.mqtt?.connected) {
      assert.ok(Date.now() - t0 < 10_000, 'the daemon client did not connect');
      await new Promise((r) => setTimeout(r, 20));
    }
    await daemon.app.captures.capture('mqtt');
    assert.equal(camera.runs, 1);
    await new Promise((r) => setTimeout(r, 300)); // the preview and state publishes that follow
    assert.equal(Object.keys(numbers.cache).length, 0);
  } finally {
    await daemon.stop();
  }
});
