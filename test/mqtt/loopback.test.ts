// moncam's own MQTT client reaches the embedded broker over loopback without a password; the broker's
// pre-login byte budget (packet-guard.ts) must not apply to it once it is connected, or it is cut off after
// max_packet_size + PRE_AUTH_SLACK bytes of previews (found by the issue 13 memory bench at still 10).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import mqtt from 'mqtt';
import { ChildDaemon } from '../helpers/daemon.ts';

let daemon: ChildDaemon | undefined;
after(async () => {
  await daemon?.stop();
});

test('the daemon keeps its loopback MQTT connection through many previews', { timeout: 120_000 }, async () => {
  // 16 KiB packets: the pre-login budget is then 32 KiB, which 20 previews of ~3 KB exceed.
  daemon = await ChildDaemon.start({ env: { MONCAM_BROKER_MAX_PACKET_SIZE: '16384' } });
  const client = await mqtt.connectAsync(daemon.mqttUrl);
  const previews: number[] = [];
  let captured = 0;
  client.on('message', (topic, payload) => {
    if (topic === 'moncam/childcam/image') previews.push(payload.length);
    else if ((JSON.parse(payload.toString()) as { event_type?: string }).event_type === 'captured') captured++;
  });
  await client.subscribeAsync(['moncam/childcam/image', 'moncam/childcam/event']);
  for (let i = 0; i < 20; i++) {
    const before = captured;
    await client.publishAsync('moncam/capture/set', 'PRESS');
    const t0 = Date.now();
    while (captured === before) {
      assert.ok(Date.now() - t0 < 10_000, `still ${i + 1}: no captured event (daemon's MQTT connection lost?)`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await client.endAsync();
  const total = previews.reduce((a, b) => a + b, 0);
  assert.ok(total > 32 * 1024, `previews (${total} bytes) exceed the pre-login budget, so the test can fail`);
  assert.equal(
    daemon.logs.filter((l) => l.msg === 'MQTT connection error' || l.msg === 'MQTT disconnected; still capturing and storing, will republish on reconnect')
      .length,
    0,
  );
});
