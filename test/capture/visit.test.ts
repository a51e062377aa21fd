// Page visits' stills through the capture service (src/capture/service.ts): shown and published as the
// latest, filed in no day unless web.keep_visit_stills; a "Take still" joining a visit is kept.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CaptureService, type CaptureRecord } from '../../src/capture/service.ts';
import { CaptureStore } from '../../src/storage/store.ts';
import { GateCamera, makeJpeg, quietLogger, testConfig, until } from '../helpers/setup.ts';

async function setup(env: Record<string, string> = {}) {
  const config = testConfig(env);
  const camera = new GateCamera(await makeJpeg(640, 480));
  const store = new CaptureStore({ dir: config.storage.dir, timeZone: 'UTC', retentionDays: 0, maxBytes: 0, logger: quietLogger() });
  await store.start();
  const service = new CaptureService({ camera, store, config, logger: quietLogger() });
  const captured: CaptureRecord[] = [];
  service.on('captured', (r) => captured.push(r));
  const take = async (trigger: 'visit' | 'web' | 'schedule') => {
    const done = service.capture(trigger, trigger === 'visit' ? { joinInFlight: true } : {});
    await until(() => camera.pending === 1);
    camera.release();
    return done;
  };
  return { store, service, camera, captured, take };
}

const filedIds = async (store: CaptureStore) => (await Promise.all((await store.listDays()).map((d) => store.listDay(d)))).flat().map((s) => s.id);

describe('visit stills', () => {
  test('by default a visit still is the latest and published (trigger visit), but filed in no day', async () => {
    const { store, captured, take } = await setup();
    const kept = await take('schedule');
    const visit = await take('visit');
    assert.equal(visit.capture.transient, true);
    assert.equal(visit.capture.meta.trigger, 'visit');
    assert.equal(captured.at(-1)?.capture.id, visit.capture.id, 'the captured event is emitted (MQTT publishes it)');
    assert.equal(store.latest()?.id, visit.capture.id);
    assert.deepEqual(await filedIds(store), [kept.capture.id]);
    const web = await take('web');
    assert.equal(web.capture.transient, undefined);
    assert.deepEqual(await filedIds(store), [kept.capture.id, web.capture.id]);
    assert.equal(await store.get(visit.capture.id), undefined, 'replaced by the next still');
  });

  test('web.keep_visit_stills: true files them like any still', async () => {
    const { store, take } = await setup({ MONCAM_WEB_KEEP_VISIT_STILLS: 'true' });
    const visit = await take('visit');
    assert.equal(visit.capture.transient, undefined);
    assert.deepEqual(await filedIds(store), [visit.capture.id]);
  });

  test('"Take still" joining a queued visit still makes it a kept web still', async () => {
    const { store, service, camera } = await setup();
    const first = service.capture('schedule');
    await until(() => camera.pending === 1);
    const visit = service.capture('visit');
    const web = service.capture('web');
    camera.release();
    await first;
    await until(() => camera.pending === 1);
    camera.release();
    const [v, w] = await Promise.all([visit, web]);
    assert.equal(v, w);
    assert.equal(w.capture.meta.trigger, 'web');
    assert.equal(w.capture.transient, undefined);
    assert.equal((await filedIds(store)).length, 2);
  });
});
