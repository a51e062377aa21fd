// Day timelapses over MQTT (embedded aedes broker, real mqtt.js clients): the command topic and its grammar,
// the retained `timelapse` record and its event, refusals as `failed` events, retained commands ignored, and
// the record republished after a restart. Also the command parser on its own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { MAX_COMMAND_BYTES, parseTimelapseCommand } from '../../src/mqtt/command.ts';
import { isCommandTopic } from '../../src/mqtt/topics.ts';
import { addDays, captureId, fileName, FILE_KINDS } from '../../src/storage/layout.ts';
import { timelapseKey } from '../../src/web/timelapse.ts';
import { instantCamera, Recorder, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { freePort, makeJpeg, memoryLogger, notNearMidnight, tempDir } from '../helpers/setup.ts';

const CAM = 'testcam';
const TL = `moncam/${CAM}/timelapse`;
const TL_SET = `moncam/${CAM}/timelapse/set`;
const EVENT = `moncam/${CAM}/event`;
const AVAILABILITY = `moncam/${CAM}/availability`;

const TODAY = '2026-05-10';
const YESTERDAY = '2026-05-09';
const parse = (payload: string | Buffer) => parseTimelapseCommand(Buffer.isBuffer(payload) ? payload : Buffer.from(payload), TODAY, YESTERDAY);

describe('parseTimelapseCommand', () => {
  test('words and days', () => {
    for (const word of ['', '  ', 'PRESS', 'press', 'ON', 'on', 'today', 'TODAY', ' Today\n'])
      assert.deepEqual(parse(word), { ok: true, day: TODAY }, JSON.stringify(word));
    for (const word of ['yesterday', 'Yesterday', ' YESTERDAY ']) assert.deepEqual(parse(word), { ok: true, day: YESTERDAY }, word);
    assert.deepEqual(parse('2026-01-31'), { ok: true, day: '2026-01-31' });
    assert.deepEqual(parse(' 2025-12-24 '), { ok: true, day: '2025-12-24' });
    // The shape is checked here, the calendar by the timelapse service (bad_day).
    assert.deepEqual(parse('2026-13-45'), { ok: true, day: '2026-13-45' });
  });

  test('JSON {day, id}', () => {
    assert.deepEqual(parse('{}'), { ok: true, day: TODAY });
    assert.deepEqual(parse('{"day":"today"}'), { ok: true, day: TODAY });
    assert.deepEqual(parse('{"day":"yesterday","id":"nightly"}'), { ok: true, day: YESTERDAY, id: 'nightly' });
    assert.deepEqual(parse('{"day":"2026-04-01","id":42}'), { ok: true, day: '2026-04-01', id: '42' });
    assert.deepEqual(parse('{"id":"x"}'), { ok: true, day: TODAY, id: 'x' });
  });

  const REFUSED: Array<[string, string | Buffer, string, string | undefined]> = [
    ['an unknown word', 'tomorrow', 'unknown_command', undefined],
    ['capture words', 'CAPTURE', 'unknown_command', undefined],
    ['a day with slashes', '2026/05/10', 'unknown_command', undefined],
    ['a JSON array', '["today"]', 'unknown_command', undefined],
    ['a JSON string', '"today"', 'unknown_command', undefined],
    ['bad JSON', '{"day":', 'bad_json', undefined],
    ['an unknown option', '{"day":"today","camera":"testcam"}', 'unknown_option', undefined],
    ['an unknown option with an id', '{"id":"u1","fps":30}', 'unknown_option', 'u1'],
    ['a day that is no day', '{"day":"nope","id":"n1"}', 'invalid_option', 'n1'],
    ['a day of the wrong type', '{"day":20260510}', 'invalid_option', undefined],
    ['an id too long', JSON.stringify({ id: 'i'.repeat(129) }), 'invalid_option', undefined],
    ['oversize', 'x'.repeat(MAX_COMMAND_BYTES + 1), 'too_large', undefined],
    ['oversize JSON', JSON.stringify({ day: 'today', id: 'y'.repeat(MAX_COMMAND_BYTES) }), 'too_large', undefined],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_encoding', undefined],
  ];
  for (const [name, payload, error, id] of REFUSED) {
    test(`refused: ${name} -> ${error}`, () => {
      const cmd = parse(payload);
      assert.equal(cmd.ok, false);
      if (cmd.ok) return;
      assert.equal(cmd.error, error);
      assert.equal(cmd.id, id);
      assert.equal(typeof cmd.message, 'string');
      assert.ok(cmd.message.length > 0 && cmd.message.length <= 240, `a short message (${cmd.message.length})`);
    });
  }

  test('exactly the size limit is still parsed', () => {
    const pad = ' '.repeat(MAX_COMMAND_BYTES - 'today'.length);
    assert.deepEqual(parse('today' + pad), { ok: true, day: TODAY });
  });

  test('a refusal message does not echo a long payload', () => {
    const cmd = parse('z'.repeat(4000));
    assert.equal(cmd.ok, false);
    assert.ok(!cmd.ok && cmd.message.length < 240);
  });

  test('the embedded broker guards the timelapse command topic of any camera, and only command topics', () => {
    assert.equal(isCommandTopic('moncam', 'moncam/testcam/timelapse/set'), true);
    assert.equal(isCommandTopic('moncam', 'moncam/other_cam/timelapse/set'), true);
    assert.equal(isCommandTopic('moncam', 'moncam/testcam/capture/set'), true);
    assert.equal(isCommandTopic('moncam', 'moncam/capture/set'), true);
    assert.equal(isCommandTopic('moncam', 'moncam/timelapse/set'), false, 'there is no all-cameras timelapse command');
    assert.equal(isCommandTopic('moncam', 'moncam/testcam/timelapse'), false, 'the retained record is state, not a command');
    assert.equal(isCommandTopic('moncam', 'moncam/a/b/timelapse/set'), false);
    assert.equal(isCommandTopic('moncam', 'other/testcam/timelapse/set'), false);
    assert.equal(isCommandTopic('home/moncam', 'home/moncam/testcam/timelapse/set'), true);
  });
});

// --- against the daemon ---

const KEY_URL = (day: string) => new RegExp(`^/timelapse/${day}\\.webp\\?key=[A-Za-z0-9_-]{22}$`);

async function start(
  dataDir: string,
  env: Record<string, string> = {},
  logger = memoryLogger(),
): Promise<{ daemon: Daemon; sub: Recorder; log: ReturnType<typeof memoryLogger> }> {
  const camera = instantCamera(await makeJpeg(640, 480));
  const daemon = await startDaemon(
    camera,
    { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_PORT: String(await freePort()), ...env },
    { logger: logger.logger, timelapseTiming: { catchUpDelayMs: 60_000 } },
  );
  const sub = await Recorder.connect(daemon.url, [`moncam/${CAM}/#`]);
  await sub.waitFor(AVAILABILITY, 1, 5000, (m) => m.payload.toString() === 'online');
  return { daemon, sub, log: logger };
}

const events = (sub: Recorder) => sub.json(EVENT);

/** Copies a stored still's files as a still taken `daysAgo` days earlier (a day the test cannot wait for). */
async function plantStill(daemon: Daemon, fromId: string, daysAgo: number): Promise<string> {
  const { store } = daemon.app;
  const from = (await store.get(fromId))!;
  const at = new Date(from.capturedAt.getTime() - daysAgo * 86_400_000);
  const id = captureId(at);
  const dir = path.join(store.dir, store.clock.day(at));
  fs.mkdirSync(dir, { recursive: true });
  for (const kind of FILE_KINDS) fs.copyFileSync(from.files[kind], path.join(dir, fileName(id, kind)));
  return id;
}

/** A still, once its captured event has been seen (so that a later sub.clear() does not miss it). */
async function still(daemon: Daemon, sub: Recorder): Promise<string> {
  const id = (await daemon.app.captures.capture('mqtt')).capture.id;
  await sub.waitFor(EVENT, 1, 5000, (m) => JSON.parse(m.payload.toString()).capture_id === id);
  return id;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('timelapse over MQTT', () => {
  beforeEach(() => notNearMidnight(30_000));

  test("a command builds today's timelapse: retained record with a key link, a timelapse event, the file on disk; bad commands build nothing; a restart republishes it", async (t) => {
    const dataDir = tempDir();
    let { daemon, sub, log } = await start(dataDir);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await still(daemon, sub));
      const today = daemon.app.clock.day(new Date());
      sub.clear();

      await sub.publish(TL_SET, '');
      const [msg] = await sub.waitFor(TL, 1, 20_000);
      const record = JSON.parse(msg!.payload.toString());
      assert.equal(record.day, today);
      assert.match(record.url, KEY_URL(today));
      const secret = fs.readFileSync(path.join(dataDir, 'private', 'session_secret'), 'utf8').trim();
      assert.equal(record.url, `/timelapse/${today}.webp?key=${timelapseKey(secret, today)}`, 'the key is the HMAC of the day with the page secret');
      assert.equal(record.frames, 3, 'one frame per still of the day');
      assert.equal(record.skipped, 0);
      assert.equal(record.last_id, ids[2]);
      assert.equal(record.trigger, 'mqtt');
      assert.equal(record.frame_ms, 250);
      assert.equal(record.duration_s, 0.75);
      assert.ok(record.bytes > 0 && record.width > 0 && record.height > 0);
      const first = await daemon.app.store.get(ids[0]!);
      assert.equal(record.first_captured_at, first!.capturedAtIso);
      assert.match(record.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/);

      const [ev] = await sub.waitFor(EVENT, 1, 5000, (m) => JSON.parse(m.payload.toString()).event_type === 'timelapse');
      assert.deepEqual(JSON.parse(ev!.payload.toString()), { event_type: 'timelapse', ...record });

      const stored = await daemon.app.timelapseFiles.get(today);
      assert.ok(stored, 'the timelapse is on disk');
      assert.equal(stored.bytes, record.bytes);
      const meta = await sharp(stored.file).metadata();
      assert.equal(meta.format, 'webp');
      assert.equal(meta.pages, 3, 'an animation of 3 frames');
      // The GIF for phone notifications: same key, same stills, described in the same record.
      assert.equal(record.gif_url, `/timelapse/${today}.gif?key=${timelapseKey(secret, today)}`);
      assert.equal(record.gif_frames, 3);
      assert.equal(record.gif_bytes, stored.gif?.bytes);
      const gif = await sharp(stored.gif!.file, { animated: true }).metadata();
      assert.equal(gif.format, 'gif');
      assert.equal(gif.pages, 3);

      // A late subscriber gets it retained.
      const late = await Recorder.connect(daemon.url, [TL]);
      assert.deepEqual(JSON.parse((await late.retained(TL)).payload.toString()), record);
      await late.close();

      // Words, days and JSON build too; a JSON command's day is honoured.
      for (const payload of ['PRESS', ' Today ', today, JSON.stringify({ day: 'today', id: 'tl-json' })]) {
        await still(daemon, sub);
        sub.clear();
        await sub.publish(TL_SET, payload);
        const [m] = await sub.waitFor(TL, 1, 20_000);
        const rebuilt = JSON.parse(m!.payload.toString());
        assert.equal(rebuilt.day, today, payload);
        assert.equal(rebuilt.frames, (await daemon.app.store.listDay(today)).length, `${payload}: every still of the day`);
        assert.equal(rebuilt.last_id, daemon.app.store.latest()!.id, `${payload}: up to the newest still`);
      }

      // `yesterday` without stills: a failed event, nothing built.
      const yesterday = addDays(today, -1);
      sub.clear();
      await sub.publish(TL_SET, 'yesterday');
      const isFailed = (m: { payload: Buffer }) => JSON.parse(m.payload.toString()).event_type === 'failed';
      const [failed] = await sub.waitFor(EVENT, 1, 5000, isFailed);
      const fail = JSON.parse(failed!.payload.toString());
      assert.equal(fail.event_type, 'failed');
      assert.equal(fail.what, 'timelapse');
      assert.equal(fail.error, 'no_stills');
      assert.equal(fail.day, yesterday);
      assert.equal(fail.trigger, 'mqtt');
      assert.equal(typeof fail.message, 'string');
      assert.equal(await daemon.app.timelapseFiles.get(yesterday), undefined);

      // Refused commands: a failed event each (with the id when there was a valid one), nothing built.
      const latestBefore = daemon.app.timelapses.latest();
      const BAD: Array<[string | Buffer, string, string?]> = [
        ['make it so', 'unknown_command'],
        ['{"day":', 'bad_json'],
        ['{"day":"2026-13-45","id":"cal"}', 'bad_day', 'cal'],
        ['2026-02-30', 'bad_day'],
        ['{"day":"nope","id":"n1"}', 'invalid_option', 'n1'],
        ['{"day":"today","fps":30}', 'unknown_option'],
        ['x'.repeat(5000), 'too_large'],
        [Buffer.from([0xc3, 0x28]), 'bad_encoding'],
        ['2001-01-01', 'no_stills'], // long gone (retention): no stills to build from
      ];
      for (const [payload, error, id] of BAD) {
        sub.clear();
        await sub.publish(TL_SET, payload);
        const [m] = await sub.waitFor(EVENT, 1, 5000, isFailed);
        const e = JSON.parse(m!.payload.toString());
        const name = Buffer.isBuffer(payload) ? 'bytes' : payload.slice(0, 30);
        assert.equal(e.event_type, 'failed', name);
        assert.equal(e.what, 'timelapse', name);
        assert.equal(e.error, error, name);
        assert.equal(e.id, id, name);
        assert.ok(JSON.stringify(e).length < 1024, 'a short event');
      }
      await sleep(300);
      assert.equal(sub.on(TL).length, 0, 'no timelapse record was published');
      assert.equal(events(sub).filter((e) => e.event_type === 'timelapse').length, 0);
      assert.equal(daemon.app.timelapses.latest(), latestBefore);
      for (const day of ['2026-13-45', '2001-01-01']) assert.ok(!fs.existsSync(path.join(daemon.app.config.storage.dir, day)), `no ${day} folder`);
      assert.ok(log.lines().some((l) => String(l.msg).startsWith('refused MQTT timelapse command')));
      t.diagnostic(`${BAD.length} refused commands answered`);
    } finally {
      await sub.close();
      await daemon.stop();
    }

    // A restart on a brand-new broker (nothing retained there): the record is found on disk and republished.
    const before = JSON.parse(fs.readFileSync(path.join(dataDir, 'captures', daemon.app.clock.day(new Date()), 'timelapse.json'), 'utf8'));
    ({ daemon, sub, log } = await start(dataDir));
    try {
      const latest = daemon.app.timelapses.latest();
      assert.ok(latest, 'latest() from disk');
      const [m] = await sub.waitFor(TL, 1, 5000);
      const republished = JSON.parse(m!.payload.toString());
      assert.deepEqual(republished, latest);
      assert.equal(republished.day, before.day);
      assert.equal(republished.frames, before.frames);
      assert.equal(republished.last_id, before.last_id);
      assert.match(republished.url, KEY_URL(before.day));
      const late = await Recorder.connect(daemon.url, [TL]);
      await late.retained(TL);
      await late.close();
      // And after a dropped connection, on the daemon's reconnect.
      sub.clear();
      (daemon.app.mqtt as unknown as { client: mqtt.MqttClient }).client.stream.destroy();
      await sub.waitFor(AVAILABILITY, 1, 10_000, (x) => x.payload.toString() === 'online');
      await sub.waitFor(TL, 1, 5000);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });

  test('retained timelapse commands are never honoured: published while moncam is connected, or found on reconnect', async () => {
    const dataDir = tempDir();
    const { daemon, sub, log } = await start(dataDir);
    const pub = await mqtt.connectAsync(daemon.url, { reconnectPeriod: 0, connectTimeout: 5000 });
    try {
      await still(daemon, sub);
      const today = daemon.app.clock.day(new Date());
      sub.clear();
      await pub.publishAsync(TL_SET, 'today', { qos: 1, retain: true });
      await pub.publishAsync(TL_SET, JSON.stringify({ day: 'today', id: 'retained' }), { qos: 1, retain: true });
      await pub.publishAsync(TL_SET, '{"day":"bad"}', { qos: 1, retain: true }); // would be answered `failed`
      await sleep(1000);
      assert.deepEqual(events(sub), [], 'no event');
      assert.equal(sub.on(TL).length, 0, 'nothing built');
      assert.equal(await daemon.app.timelapseFiles.get(today), undefined);
      assert.ok(
        log.lines().some((l) => /retained command stored but not delivered/.test(String(l.msg)) && l.topic === TL_SET),
        'the broker logs the guard',
      );

      // Kicked off (a client takes over its client id) and back: the retained command arrives flagged and is ignored.
      const takeover = await mqtt.connectAsync(daemon.url, { clientId: `moncam_${CAM}`, reconnectPeriod: 0, connectTimeout: 5000 });
      await sub.waitFor(AVAILABILITY, 1, 5000, (m) => m.payload.toString() === 'offline');
      sub.clear();
      await takeover.endAsync();
      await sub.waitFor(AVAILABILITY, 1, 10_000, (m) => m.payload.toString() === 'online');
      await sleep(1000);
      assert.deepEqual(events(sub), []);
      assert.equal(sub.on(TL).length, 0);
      assert.equal(await daemon.app.timelapseFiles.get(today), undefined);
      assert.ok(
        log.lines().some((l) => /^ignored a retained command/.test(String(l.msg)) && l.topic === TL_SET),
        'logged as ignored',
      );

      // Clearing it (an empty retained message) builds nothing either, and is no warning; a live command still works.
      const warnings = () => log.lines().filter((l) => Number(l.level) >= 40).length;
      const warned = warnings();
      await pub.publishAsync(TL_SET, '', { qos: 1, retain: true });
      await sleep(500);
      assert.equal(sub.on(TL).length, 0);
      assert.equal(warnings(), warned, 'clearing a retained command logs no warning');
      await pub.publishAsync(TL_SET, 'today', { qos: 1 });
      await sub.waitFor(TL, 1, 20_000);
    } finally {
      await pub.endAsync();
      await sub.close();
      await daemon.stop();
    }
  });

  test("building an older day: its record comes as an event; the retained record stays the newest day's", async () => {
    const { daemon, sub } = await start(tempDir());
    try {
      const id = await still(daemon, sub);
      const today = daemon.app.clock.day(new Date());
      const yesterday = addDays(today, -1);
      // A day and a day less 1 s ago: both yesterday whenever this runs (1.01 days was two days ago just after midnight).
      const planted = [await plantStill(daemon, id, 1), await plantStill(daemon, id, 1 - 1 / 86_400)].sort();
      sub.clear();
      await sub.publish(TL_SET, 'today');
      await sub.waitFor(TL, 1, 20_000);
      await sub.publish(TL_SET, JSON.stringify({ day: 'yesterday' }));
      const [ev] = await sub.waitFor(EVENT, 1, 20_000, (m) => JSON.parse(m.payload.toString()).day === yesterday);
      const older = JSON.parse(ev!.payload.toString());
      assert.equal(older.event_type, 'timelapse');
      assert.equal(older.frames, 2);
      assert.equal(older.last_id, planted[1]);
      assert.match(older.url, KEY_URL(yesterday));
      assert.ok(fs.existsSync(path.join(daemon.app.store.dir, yesterday, 'timelapse.webp')));
      await sleep(300);
      assert.equal(daemon.app.timelapses.latest()?.day, today);
      const late = await Recorder.connect(daemon.url, [TL]);
      const [kept] = await late.waitFor(TL);
      await late.close();
      assert.equal(JSON.parse(kept!.payload.toString()).day, today, 'retained: the newest day, as after a reconnect');
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });

  test('without the web page the record links the path without a key', async () => {
    const { daemon, sub } = await start(tempDir(), { MONCAM_WEB_ENABLED: 'false' });
    try {
      await daemon.app.captures.capture('mqtt');
      const today = daemon.app.clock.day(new Date());
      await sub.publish(TL_SET, 'PRESS');
      const [m] = await sub.waitFor(TL, 1, 20_000);
      assert.equal(JSON.parse(m!.payload.toString()).url, `/timelapse/${today}.webp`);
    } finally {
      await sub.close();
      await daemon.stop();
    }
  });
});
