// One typed Still: metadata files in today's on-disk format (no `v`) and older ones are read as version 1,
// save() writes version 2, and the MQTT attributes and API JSON derived from a still keep their shape.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { stillAttributes } from '../../src/mqtt/payloads.ts';
import { captureId } from '../../src/storage/layout.ts';
import { STILL_VERSION, parseStillMeta } from '../../src/storage/still.ts';
import { stillJson } from '../../src/web/json.ts';
import { FIXTURES } from '../helpers/setup.ts';
import { input, makeStore, recorded, tempDir } from './helpers.ts';

const V1 = path.join(FIXTURES, 'still-v1.json');
const ID = '20261205T085230.268Z';
const DAY = '2026-12-05';

/** A store holding one still whose metadata file is `meta` (written as is), its original `bytes` long. */
async function storeWith(t: { after: (fn: () => Promise<void>) => void }, meta: string, bytes = 2068) {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  await fsp.mkdir(path.join(dir, DAY));
  await fsp.writeFile(path.join(dir, DAY, `${ID}.jpg`), Buffer.alloc(bytes, 1));
  for (const kind of ['thumb', 'preview']) await fsp.writeFile(path.join(dir, DAY, `${ID}.${kind}.jpg`), 'x');
  await fsp.writeFile(path.join(dir, DAY, `${ID}.json`), meta);
  const store = makeStore(dir, { timeZone: 'Europe/Berlin' });
  await store.start();
  return store;
}

describe('Still metadata', () => {
  test('a metadata file as moncam wrote it before versions is read as version 1, every field kept', async (t) => {
    const text = await fsp.readFile(V1, 'utf8');
    const store = await storeWith(t, text);
    const still = await store.read(ID);
    assert.ok(still?.meta);
    const { v, ...rest } = still.meta;
    assert.equal(v, STILL_VERSION);
    assert.deepEqual(rest, JSON.parse(text));
    assert.deepEqual(still.meta.requests, [{ trigger: 'mqtt', requestId: 'req-1', source: 'automation' }]);
    assert.equal(store.latest()?.meta, undefined, 'latest() comes from the listing: no file opened');

    // The outputs derived from it, byte for byte as before the typed Still (plus `filed`, issue 16).
    assert.equal(
      JSON.stringify(stillAttributes(still, 777)),
      '{"captured_at":"2026-12-05T09:52:30.268+01:00","trigger":"mqtt","id":"20261205T085230.268Z","width":640,"height":480,"bytes":777,' +
        '"full_width":640,"full_height":480,"original_bytes":2068,"exposure":"normal","brightness":36.5,"change":0}',
    );
    assert.equal(
      JSON.stringify(stillJson(still)),
      '{"id":"20261205T085230.268Z","captured_at":"2026-12-05T09:52:30.268+01:00","day":"2026-12-05","hour":9,"bytes":2068,' +
        '"urls":{"full":"/images/20261205T085230.268Z/full.jpg","thumb":"/images/20261205T085230.268Z/thumb.jpg","preview":"/images/20261205T085230.268Z/preview.jpg"},' +
        '"trigger":"mqtt","width":640,"height":480,"filed":true}',
    );
  });

  test('version 1 from before the scene sensors: exposure and scene fields missing (or wrong) are left out', async (t) => {
    const old = JSON.parse(await fsp.readFile(V1, 'utf8')) as Record<string, unknown>;
    delete old.brightness;
    delete old.change;
    delete old.scene_signature;
    old.exposure = 'moonlight'; // not a profile: dropped, not passed on
    const store = await storeWith(t, JSON.stringify(old));
    const still = await store.read(ID);
    assert.ok(still?.meta);
    assert.equal(still.meta.exposure, undefined);
    assert.equal(still.meta.brightness, undefined);
    assert.equal(still.meta.trigger, 'mqtt');
    const attributes = stillAttributes(still, 1);
    assert.equal(attributes.brightness, null);
    assert.equal(attributes.change, null);
    assert.equal('exposure' in JSON.parse(JSON.stringify(attributes)), false);
  });

  test('an unknown version or a file that is not a still is read without metadata; no file: no meta', async (t) => {
    const v1 = JSON.parse(await fsp.readFile(V1, 'utf8')) as Record<string, unknown>;
    for (const meta of [JSON.stringify({ ...v1, v: 3 }), JSON.stringify({ ...v1, width: 'wide' }), '{"hello":"world"}']) {
      const store = await storeWith(t, meta);
      const still = await store.read(ID);
      assert.equal(still?.id, ID, meta);
      assert.equal(still?.meta, undefined, meta);
      // What the outputs make of a still without metadata: its files' facts only.
      assert.deepEqual(JSON.parse(JSON.stringify(stillAttributes(still!, 5))), {
        captured_at: '2026-12-05T09:52:30.268+01:00',
        id: ID,
        bytes: 5,
        original_bytes: 2068,
        brightness: null,
        change: null,
      });
    }
    const store = await storeWith(t, '[1, 2]');
    await assert.rejects(store.read(ID), (err: unknown) => (err as { code?: string }).code === 'io', 'not a JSON object: an error, as before');
    assert.equal(await store.read('20261205T085230.269Z'), undefined);
  });

  test('save() writes version 2; it parses back to what the capture recorded plus the store fields', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const store = makeStore(dir, { timeZone: 'Europe/Berlin' });
    await store.start();
    const at = new Date('2026-12-05T08:52:30.268Z');
    const mine = recorded({ trigger: 'web', manual: true, change: 12.5, scene_signature: 'AAAA' });
    const saved = await store.save(input(at, captureId(at), 4000, mine));
    const onDisk = JSON.parse(await fsp.readFile(saved.files.meta, 'utf8')) as Record<string, unknown>;
    assert.equal(onDisk.v, 2);
    assert.deepEqual(Object.keys(onDisk).slice(0, 2), ['v', 'trigger'], 'v first, then the fields as before');
    const meta = parseStillMeta(onDisk);
    assert.deepEqual(meta, {
      v: 2,
      ...mine,
      id: saved.id,
      capturedAt: '2026-12-05T08:52:30.268Z',
      capturedAtLocal: '2026-12-05T09:52:30.268+01:00',
      timeZone: 'Europe/Berlin',
      day: DAY,
      bytes: 4000,
    });
    assert.deepEqual((await store.read(saved.id))?.meta, meta);
    assert.equal(parseStillMeta({ ...onDisk, v: 2, trigger: 'burglar' }), undefined, 'version 2 is strict');
  });
});
