import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { CameraError } from '../../src/camera/types.ts';
import { CaptureFailedError, CaptureService, type CaptureFailure, type CaptureRecord } from '../../src/capture/service.ts';
import { CaptureStore } from '../../src/storage/store.ts';
import { GARDEN_8MP, GateCamera, makeJpeg, quietLogger, testConfig, until } from '../helpers/setup.ts';

async function setup(env: Record<string, string> = {}, jpeg?: Buffer) {
  const config = testConfig(env);
  const camera = new GateCamera(jpeg ?? (await makeJpeg(640, 480)));
  const store = new CaptureStore({ dir: config.storage.dir, retentionDays: 0, maxBytes: 0, logger: quietLogger() });
  await store.start();
  const service = new CaptureService({ camera, store, config, logger: quietLogger() });
  const captured: CaptureRecord[] = [];
  const failed: CaptureFailure[] = [];
  service.on('captured', (r) => captured.push(r));
  service.on('failed', (f) => failed.push(f));
  return { config, camera, store, service, captured, failed };
}

describe('capture service', () => {
  test('stores the original byte-for-byte with an upright 1280 preview and a thumbnail', async () => {
    const original = fs.readFileSync(GARDEN_8MP);
    const { camera, store, service, captured } = await setup({}, original);
    const done = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release();
    const record = await done;
    assert.deepEqual(fs.readFileSync(record.capture.files.original), original);
    assert.equal(record.capture.meta.full_width, 3280);
    assert.equal(record.capture.meta.full_height, 2464);
    assert.equal(record.capture.meta.width, 1280);
    assert.equal(record.capture.meta.height, 962);
    assert.equal(Math.max(record.capture.meta.thumb_width, record.capture.meta.thumb_height), 480);
    const preview = await sharp(record.capture.files.preview).metadata();
    assert.equal(preview.width, 1280);
    assert.deepEqual(fs.readFileSync(record.capture.files.preview), record.preview);
    const thumb = await sharp(record.capture.files.thumb).metadata();
    assert.equal(thumb.width, 480);
    assert.equal(captured.length, 1);
    assert.equal(captured[0]!.capture.meta.trigger, 'web');
    assert.equal(store.latest()?.id, record.capture.id);
  });

  test('derived images carry a burned-in time tag (bottom-left), the original does not change', async () => {
    const plain = await makeJpeg(1600, 1200, '#808080');
    const { camera, service } = await setup({}, plain);
    const done = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release();
    const record = await done;
    const { data, info } = await sharp(record.capture.files.thumb).raw().toBuffer({ resolveWithObject: true });
    // Scan the bottom rows: the tag box is dark with white glyph pixels; the rest stays mid grey.
    let white = 0;
    let dark = 0;
    for (let y = info.height - 15; y < info.height; y++) {
      for (let x = 0; x < 100; x++) {
        const v = data[(y * info.width + x) * info.channels]!;
        if (v > 220) white++;
        if (v < 70) dark++;
      }
    }
    assert.ok(white > 50, `white glyph pixels: ${white}`);
    assert.ok(dark > 200, `dark box pixels: ${dark}`);
    const topRight = data[(5 * info.width + info.width - 5) * info.channels]!;
    assert.ok(Math.abs(topRight - 128) < 10, `untouched area stays grey (${topRight})`);
  });

  test('a burst costs at most two camera runs: one in flight, one queued that the rest join', async () => {
    const { camera, service, captured } = await setup();
    const first = service.capture('schedule');
    await until(() => camera.pending === 1);
    const burst = Array.from({ length: 20 }, (_, i) => service.capture('mqtt', { requestId: `r${i}` }));
    assert.equal(camera.runs, 1, 'queued captures wait for the one in flight');
    camera.release();
    const a = await first;
    await until(() => camera.pending === 1);
    assert.equal(camera.runs, 2);
    camera.release();
    const results = await Promise.all(burst);
    assert.ok(
      results.every((r) => r === results[0]),
      'all burst requests share one still',
    );
    assert.notEqual(results[0]!.capture.id, a.capture.id);
    assert.equal(results[0]!.capture.meta.requests.length, 20);
    assert.deepEqual(
      results[0]!.capture.meta.requests.map((r) => r.requestId),
      Array.from({ length: 20 }, (_, i) => `r${i}`),
    );
    assert.equal(camera.runs, 2);
    assert.equal(captured.length, 2);
  });

  test('joinInFlight shares the capture already running (page visits)', async () => {
    const { camera, service } = await setup();
    const first = service.capture('web');
    await until(() => camera.pending === 1);
    const visit = service.capture('visit', { joinInFlight: true });
    camera.release();
    assert.equal(await visit, await first);
    assert.equal(camera.runs, 1);
  });

  test('a camera error becomes a classified failed event; the next capture works', async () => {
    const { camera, service, failed, captured, store } = await setup();
    const bad = service.capture('mqtt', { requestId: 'x1' });
    await until(() => camera.pending === 1);
    camera.fail(new CameraError('busy', 'camera busy', { detail: 'ERROR: *** failed to acquire camera ***' }));
    await assert.rejects(bad, (err: unknown) => err instanceof CaptureFailedError && err.failure.error.code === 'busy');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.error.code, 'busy');
    assert.equal(failed[0]!.error.detail, 'ERROR: *** failed to acquire camera ***');
    assert.equal(failed[0]!.requests[0]!.requestId, 'x1');
    assert.equal(store.latest(), undefined);
    const good = service.capture('mqtt');
    await until(() => camera.pending === 1);
    camera.release();
    await good;
    assert.equal(captured.length, 1);
  });

  test('a truncated JPEG is rejected as corrupt and nothing is stored', async () => {
    const jpeg = await makeJpeg(640, 480);
    const { camera, service, failed, store, config } = await setup({}, jpeg);
    const p = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release({ jpeg: jpeg.subarray(0, jpeg.length - 200) });
    await assert.rejects(p);
    assert.equal(failed[0]!.error.code, 'corrupt');
    assert.equal(store.latest(), undefined);
    const days = fs.existsSync(config.storage.dir) ? fs.readdirSync(config.storage.dir) : [];
    for (const d of days)
      assert.deepEqual(
        fs.readdirSync(`${config.storage.dir}/${d}`).filter((f) => !f.startsWith('.')),
        [],
      );
  });

  test('a bogus Huffman table behind valid markers fails as corrupt when decoding (a CameraError, not message text)', async () => {
    const cut = Buffer.from(await makeJpeg(640, 480));
    const dht = cut.indexOf(Buffer.from([0xff, 0xc4]));
    cut.fill(0xff, dht + 5, dht + 21); // the code-length counts: the markers still check out
    const { camera, service, failed, store } = await setup({});
    const p = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release({ jpeg: cut });
    await assert.rejects(p);
    assert.equal(failed[0]!.error.code, 'corrupt');
    assert.match(failed[0]!.error.message, /^camera output does not decode: /);
    assert.equal(store.latest(), undefined);
  });

  test('garbage between valid markers fails as corrupt when decoding', async () => {
    const jpeg = Buffer.from(await makeJpeg(640, 480));
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    jpeg.fill(0x00, sos + 20, jpeg.length - 2); // scan data zeroed: markers intact, image data nonsense
    const { camera, service, failed } = await setup({});
    const p = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release({ jpeg });
    const outcome = await p.then(
      () => 'stored',
      () => 'failed',
    );
    // libjpeg may decode zeroed scan data as a grey picture; either way nothing crashes and the result is explicit.
    if (outcome === 'failed') assert.equal(failed[0]!.error.code, 'corrupt');
  });

  test('rotation 90: EXIF orientation on the untouched original, derived images upright', async () => {
    const original = fs.readFileSync(GARDEN_8MP);
    const { camera, service } = await setup({ MONCAM_CAMERA_ROTATION: '90' }, original);
    const p = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release({ rotate: 90 });
    const record = await p;
    const stored = fs.readFileSync(record.capture.files.original);
    assert.equal((await sharp(stored).metadata()).orientation, 6);
    const sos = original.indexOf(Buffer.from([0xff, 0xda]));
    assert.ok(stored.subarray(stored.length - (original.length - sos)).equals(original.subarray(sos)), 'image data is byte-identical');
    assert.equal(record.capture.meta.full_width, 2464);
    assert.equal(record.capture.meta.full_height, 3280);
    assert.equal(record.capture.meta.width, 962);
    assert.equal(record.capture.meta.height, 1280);
    const thumb = await sharp(record.capture.files.thumb).metadata();
    assert.ok(thumb.height! > thumb.width!, 'thumbnail is portrait');
  });

  test('scheduled stills use schedule.exposure; others use camera.exposure', async () => {
    const { camera, service } = await setup({ MONCAM_SCHEDULE_EXPOSURE: 'night' });
    const a = service.capture('schedule');
    await until(() => camera.pending === 1);
    camera.release();
    await a;
    const b = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release();
    await b;
    assert.equal(camera.requests[0]!.exposure, 'night');
    assert.equal(camera.requests[1]!.exposure, 'normal');
  });

  test('afterStill runs once per settled still, stored or failed, after the caller has its answer', async () => {
    const config = testConfig();
    const camera = new GateCamera(await makeJpeg(640, 480));
    const store = new CaptureStore({ dir: config.storage.dir, retentionDays: 0, maxBytes: 0, logger: quietLogger() });
    await store.start();
    const order: string[] = [];
    const service = new CaptureService({ camera, store, config, logger: quietLogger(), afterStill: async () => void order.push('afterStill') });
    const good = service.capture('web').then(() => order.push('stored'));
    await until(() => camera.pending === 1);
    camera.release();
    await good;
    await until(() => order.length === 2);
    const bad = service.capture('web').catch(() => order.push('failed'));
    await until(() => camera.pending === 1);
    camera.fail(new CameraError('busy', 'camera busy'));
    await bad;
    await until(() => order.length === 4);
    assert.deepEqual(order, ['stored', 'afterStill', 'failed', 'afterStill']);
  });

  test('a throwing event listener does not break capturing', async () => {
    const { camera, service, captured } = await setup();
    service.prependListener('captured', () => {
      throw new Error('listener bug');
    });
    const p = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release();
    await p;
    assert.equal(captured.length, 1);
  });
});

describe('capture service: failures in a row and shutdown', () => {
  test('backoff: after camera.backoff_after failures the camera is not run until the pause ends; success resets', async () => {
    let now = new Date('2026-11-23T12:00:00Z');
    const config = testConfig({ MONCAM_CAMERA_BACKOFF_AFTER: '2', MONCAM_CAMERA_BACKOFF_S: '10', MONCAM_CAMERA_BACKOFF_MAX_S: '25' });
    const camera = new GateCamera(await makeJpeg(64, 48));
    const store = new CaptureStore({ dir: config.storage.dir, retentionDays: 0, maxBytes: 0, logger: quietLogger() });
    await store.start();
    const service = new CaptureService({ camera, store, config, logger: quietLogger(), now: () => now });
    const fail = async () => {
      const p = service.capture('schedule');
      await until(() => camera.pending === 1);
      camera.fail(new CameraError('no_camera', 'no cameras available'));
      return p.catch((e: CaptureFailedError) => e.failure.error.code);
    };
    const refusedCode = () => service.capture('mqtt').catch((e: CaptureFailedError) => e.failure.error.code);

    assert.equal(await fail(), 'no_camera');
    assert.equal(service.healthSnapshot().paused_until, undefined, 'one failure does not pause');
    assert.equal(await fail(), 'no_camera');
    assert.equal(service.healthSnapshot().paused_until, '2026-11-23T12:00:10.000Z');
    const runs = camera.runs;
    assert.equal(await refusedCode(), 'backoff');
    assert.equal(camera.runs, runs, 'the camera is not run during the pause');

    now = new Date('2026-11-23T12:00:11Z');
    const third = await fail();
    assert.equal(third, 'no_camera');
    assert.equal(service.healthSnapshot().paused_until, '2026-11-23T12:00:31.000Z', 'the pause doubles');
    now = new Date('2026-11-23T12:00:32Z');
    await fail();
    assert.equal(service.healthSnapshot().paused_until, '2026-11-23T12:00:57.000Z', 'capped at backoff_max_s');

    now = new Date('2026-11-23T12:01:00Z');
    const ok = service.capture('web');
    await until(() => camera.pending === 1);
    camera.release();
    await ok;
    assert.deepEqual(service.healthSnapshot(), { ok: true, consecutive_failures: 0, last_success: '2026-11-23T12:01:00.000Z' });
  });

  test('stop: the capture in flight may finish within the grace time; the queued one and new ones are refused', async () => {
    const { camera, service, store } = await setup();
    const inFlight = service.capture('web');
    const queued = service.capture('mqtt').catch((e: CaptureFailedError) => e.failure.error.code);
    await until(() => camera.pending === 1);
    const stopped = service.stop(5000);
    assert.equal(await service.capture('web').catch((e: CaptureFailedError) => e.failure.error.code), 'stopped');
    camera.release();
    const record = await inFlight;
    await stopped;
    assert.equal(await queued, 'stopped');
    assert.equal(camera.runs, 1);
    assert.equal(store.latest()?.id, record.capture.id, 'the finished still is stored whole');
  });

  test('stop: a camera that does not finish within the grace time is aborted and nothing is stored', async () => {
    const { camera, service, store, failed } = await setup();
    const inFlight = service.capture('schedule').catch((e: CaptureFailedError) => e.failure.error);
    await until(() => camera.pending === 1);
    const t0 = Date.now();
    await service.stop(200);
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(camera.aborted, 1, 'the camera run got the abort signal');
    assert.deepEqual(await inFlight, { code: 'stopped', message: 'capture discarded: moncam is shutting down' });
    assert.equal(store.latest(), undefined);
    assert.equal(service.healthSnapshot().consecutive_failures, 0, 'a shutdown is not a camera failure');
    assert.equal(failed.at(-1)?.error.code, 'stopped');
  });
});

describe('capture requests', () => {
  test('a long exposure gets a timeout that fits it; normal stills keep camera.timeout_ms', async () => {
    const { stillRequest } = await import('../../src/capture/request.ts');
    const config = testConfig({ MONCAM_CAMERA_TIMEOUT_MS: '30000', MONCAM_CAMERA_SETTLE_MS: '1000' });
    assert.equal(stillRequest(config).timeoutMs, 30_000);
    assert.equal(stillRequest(config, { shutterUs: 2_000_000 }).timeoutMs, 30_000, '3 x 2 s + 11 s fits in 30 s');
    assert.equal(stillRequest(config, { shutterUs: 200_000_000 }).timeoutMs, 1000 + 600_000 + 10_000);
  });

  test('a flood during one capture: every caller gets the still, at most 1000 ids are echoed', async () => {
    const { MAX_REQUESTS_PER_CAPTURE } = await import('../../src/capture/service.ts');
    const { camera, service, captured } = await setup();
    const first = service.capture('web');
    await until(() => camera.pending === 1);
    const flood = Array.from({ length: 3000 }, (_, i) => service.capture('mqtt', { requestId: `r${i}` }));
    camera.release();
    await first;
    await until(() => camera.pending === 1);
    camera.release();
    const records = await Promise.all(flood);
    assert.equal(new Set(records.map((r) => r.capture.id)).size, 1, 'all 3000 share the queued still');
    assert.equal(captured.at(-1)!.capture.meta.requests.length, MAX_REQUESTS_PER_CAPTURE);
    assert.equal(camera.runs, 2);
  });
});
