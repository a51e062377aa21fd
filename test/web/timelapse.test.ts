// Day timelapses on the web page over real HTTP: the WebP behind a session or the day's link key, the build
// API (CSRF, same origin, error codes), the day view and the live `timelapse` event.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { setPassword } from '../../src/auth/password.ts';
import { addDays, captureId, fileName, FILE_KINDS } from '../../src/storage/layout.ts';
import { timelapseKey, timelapseLink } from '../../src/web/timelapse.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, notNearMidnight, tempDir, until } from '../helpers/setup.ts';
import { WebClient, openEvents } from '../helpers/web.ts';

const PASSWORD = 'garden-secret-1';
const RIFF = Buffer.from('RIFF');

interface TimelapseJson {
  day: string;
  url: string;
  frames: number;
  frame_ms: number;
  width: number;
  height: number;
  bytes: number;
  created_at: string;
  last_captured_at: string;
  frame_times?: string[];
}

/** Copies a stored still's files as a still taken `daysAgo` days earlier; returns its day. */
async function plantStill(daemon: Daemon, fromId: string, daysAgo: number): Promise<string> {
  const { store } = daemon.app;
  const from = (await store.get(fromId))!;
  const at = new Date(from.capturedAt.getTime() - daysAgo * 86_400_000);
  const day = store.clock.day(at);
  fs.mkdirSync(path.join(store.dir, day), { recursive: true });
  for (const kind of FILE_KINDS) fs.copyFileSync(from.files[kind], path.join(store.dir, day, fileName(captureId(at), kind)));
  return day;
}

describe('web: day timelapses', () => {
  let daemon: Daemon;
  let dataDir: string;
  let web: WebClient;
  let today: string;
  let yesterday: string;
  let secret: string;
  let built: TimelapseJson;

  before(async () => {
    await notNearMidnight(60_000); // stills of today and of earlier days, by the wall clock
    dataDir = tempDir();
    await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
    const cam = instantCamera(await makeJpeg(800, 600));
    daemon = await startDaemon(
      cam,
      { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_ENABLED: 'false', MONCAM_WEB_FRESH_ON_VISIT: 'false', MONCAM_STORAGE_RETENTION_DAYS: '3' },
      { timelapseTiming: { catchUpDelayMs: 60_000 } },
    );
    for (let i = 0; i < 3; i++) await daemon.app.captures.capture('web');
    today = daemon.app.clock.day(new Date());
    yesterday = addDays(today, -1);
    secret = fs.readFileSync(path.join(dataDir, 'private', 'session_secret'), 'utf8').trim();
    web = new WebClient(daemon.web);
    assert.equal((await web.login(PASSWORD)).status, 303);
    assert.ok(web.csrf, 'a CSRF token from /api/state');
  });
  after(() => daemon?.stop());

  test("POST /api/timelapse builds today's: 200 with the record; /api/days/<day> shows it", async () => {
    const empty = (await (await web.get(`/api/days/${today}`)).json()) as { timelapse: unknown };
    assert.equal(empty.timelapse, null, 'none before it is built');

    const res = await web.api('/api/timelapse', JSON.stringify({ day: today }));
    assert.equal(res.status, 200);
    built = (await res.json()) as TimelapseJson;
    const latest = daemon.app.store.latest()!;
    assert.equal(built.day, today);
    assert.equal(built.url, `/timelapse/${today}.webp?v=${encodeURIComponent(latest.id)}`, 'the session URL, versioned by the newest still');
    assert.equal(built.frames, 3);
    assert.equal(built.frame_ms, 250);
    assert.equal(built.last_captured_at, latest.capturedAtIso);
    assert.ok(built.bytes > 0 && built.width > 0 && built.height > 0);
    const stills = await daemon.app.store.listDay(today);
    assert.deepEqual(
      built.frame_times,
      stills.map((s) => s.capturedAtIso),
      'the capture time of each frame, for the player',
    );

    const day = (await (await web.get(`/api/days/${today}`)).json()) as { timelapse: TimelapseJson; hours: unknown[] };
    assert.equal(day.hours.length, 24);
    assert.deepEqual(day.timelapse, built);
    const other = (await (await web.get(`/api/days/${yesterday}`)).json()) as { timelapse: unknown };
    assert.equal(other.timelapse, null);
  });

  test('GET /timelapse/<day>.webp with a session: an animated WebP, ETag, no-cache; 304 on revalidation', async () => {
    const res = await web.get(built.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/webp');
    assert.equal(res.headers.get('cache-control'), 'private, no-cache');
    // The browser's image viewer styles itself inline: the page's style-src 'self' would leave it unstyled.
    assert.match(res.headers.get('content-security-policy')!, /^default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'/);
    const etag = res.headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/, 'a strong validator');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, built.bytes);
    assert.deepEqual(body, fs.readFileSync(path.join(daemon.app.config.storage.dir, today, 'timelapse.webp')));
    const meta = await sharp(body).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(meta.pages, 3, 'animated: one frame per still');
    assert.equal(meta.width, built.width);
    assert.deepEqual(meta.delay, [250, 250, 250]);
    const frame = await sharp(body, { page: 2 }).raw().toBuffer();
    assert.ok(frame.length > 0, 'the last frame decodes');

    const again = await web.get(`/timelapse/${today}.webp`, { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
    const listed = await web.get(`/timelapse/${today}.webp`, { 'if-none-match': `"other", ${etag}` });
    assert.equal(listed.status, 304, 'one of several validators');
    const stale = await web.get(`/timelapse/${today}.webp`, { 'if-none-match': '"tl-stale"' });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();
  });

  test("without a session: 401 and no image byte; with the day's key: 200 without a cookie", async () => {
    const anon = new WebClient(daemon.web);
    const refused = await anon.get(`/timelapse/${today}.webp`);
    assert.equal(refused.status, 401);
    assert.ok(!Buffer.from(await refused.arrayBuffer()).includes(RIFF), 'no WebP bytes');

    const key = timelapseKey(secret, today);
    assert.match(key, /^[A-Za-z0-9_-]{22}$/);
    const link = daemon.app.timelapses.latest()!.url;
    assert.equal(link, `/timelapse/${today}.webp?key=${key}`, 'the link published over MQTT');
    assert.equal(link, timelapseLink(secret, today));
    const res = await anon.get(link);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/webp');
    assert.equal(res.headers.getSetCookie().length, 0, 'no session is created');
    assert.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).pages, 3);
    const etag = res.headers.get('etag')!;
    assert.equal((await anon.get(link, { 'if-none-match': etag })).status, 304);
  });

  test("the GIF: with a session or the day's key, image/gif with every frame; 401 without, not one GIF byte", async () => {
    const session = (await (await web.get(`/api/days/${today}`)).json()) as { timelapse: TimelapseJson & { gif_url: string; gif_bytes: number } };
    const latest = daemon.app.store.latest()!;
    assert.equal(session.timelapse.gif_url, `/timelapse/${today}.gif?v=${encodeURIComponent(latest.id)}`);
    const own = await web.get(session.timelapse.gif_url);
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('content-type'), 'image/gif');
    const body = Buffer.from(await own.arrayBuffer());
    assert.equal(body.length, session.timelapse.gif_bytes);
    assert.deepEqual(body, fs.readFileSync(path.join(daemon.app.config.storage.dir, today, 'timelapse.gif')));
    const meta = await sharp(body, { animated: true }).metadata();
    assert.equal(meta.format, 'gif');
    assert.equal(meta.pages, 3);
    assert.deepEqual(meta.delay, [250, 250, 250]);
    assert.ok(body.length < 10_000_000);
    const etag = own.headers.get('etag')!;
    assert.notEqual(etag, (await web.get(`/timelapse/${today}.webp`)).headers.get('etag'), 'its own validator');
    assert.equal((await web.get(`/timelapse/${today}.gif`, { 'if-none-match': etag })).status, 304);

    const anon = new WebClient(daemon.web);
    const refused = await anon.get(`/timelapse/${today}.gif`);
    assert.equal(refused.status, 401);
    assert.ok(!Buffer.from(await refused.arrayBuffer()).includes(Buffer.from('GIF8')), 'no GIF bytes');
    const record = daemon.app.timelapses.latest()!;
    assert.equal(record.gif_url, timelapseLink(secret, today, 'gif'), 'the link published over MQTT');
    assert.equal(record.gif_url, `/timelapse/${today}.gif?key=${timelapseKey(secret, today)}`);
    assert.equal(record.gif_bytes, body.length);
    const keyed = await anon.get(record.gif_url!);
    assert.equal(keyed.status, 200);
    assert.equal(keyed.headers.get('content-type'), 'image/gif');
    assert.deepEqual(Buffer.from(await keyed.arrayBuffer()), body);
    assert.equal((await anon.get(`/timelapse/${yesterday}.gif?key=${timelapseKey(secret, today)}`)).status, 401, "today's key does not open another day");
    assert.equal((await anon.get(`/timelapse/${today}.png?key=${timelapseKey(secret, today)}`)).status, 401, 'no other format');
  });

  test("a wrong key, another day's key, a key on another path: 401", async () => {
    const anon = new WebClient(daemon.web);
    const key = timelapseKey(secret, today);
    const flipped = (key[0] === 'A' ? 'B' : 'A') + key.slice(1);
    const attempts = [
      `/timelapse/${today}.webp?key=${flipped}`,
      `/timelapse/${today}.webp?key=${key.slice(0, 21)}`,
      `/timelapse/${today}.webp?key=${key}x`,
      `/timelapse/${today}.webp?key=`,
      `/timelapse/${today}.webp?key=${key}&key=${key}`,
      `/timelapse/${today}.webp?key=${timelapseKey(secret, yesterday)}`,
      `/timelapse/${today}.webp?key=${timelapseKey('another secret of at least 32 characters!', today)}`,
      `/timelapse/${yesterday}.webp?key=${key}`,
      `/timelapse/${today}.webp?KEY=${key}`,
      `/timelapse/${today}.jpg?key=${key}`,
      `/images/latest/thumb.jpg?key=${key}`,
      `/api/days/${today}?key=${key}`,
    ];
    for (const url of attempts) {
      const res = await anon.get(url);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(res.status === 401 || (res.status === 303 && !url.startsWith('/timelapse/')), `${url} -> ${res.status}`);
      if (url.startsWith('/timelapse/')) assert.equal(res.status, 401, url);
      assert.ok(!body.includes(RIFF) && !body.includes(Buffer.from([0xff, 0xd8, 0xff])), `${url} leaked image bytes`);
    }
  });

  test('unknown or malformed days: 404 with a session (or a valid key), 401 without', async () => {
    for (const url of [
      `/timelapse/${yesterday}.webp`,
      '/timelapse/2001-01-01.webp',
      '/timelapse/2026-02-30.webp',
      '/timelapse/today.webp',
      '/timelapse/x',
      `/timelapse/${today}.webp.bak`,
    ]) {
      assert.equal((await web.get(url)).status, 404, url);
      assert.equal((await new WebClient(daemon.web).get(url)).status, 401, `${url} without a session`);
    }
    // A valid key for a day that has no timelapse opens nothing either.
    assert.equal((await new WebClient(daemon.web).get(timelapseLink(secret, yesterday))).status, 404);
  });

  test('POST /api/timelapse: bad day 400, day without stills 409 no_stills, a day due for removal 409 too_old; no token, cross-site or no session 403/401; nothing built', async () => {
    const cases: Array<[string, number, string]> = [
      [JSON.stringify({ day: 'nope' }), 400, 'bad_day'],
      [JSON.stringify({ day: '2026-02-30' }), 400, 'bad_day'],
      [JSON.stringify({ day: 20260101 }), 400, 'bad_day'],
      [JSON.stringify({ day: yesterday }), 409, 'no_stills'],
    ];
    for (const [body, status, error] of cases) {
      const res = await web.api('/api/timelapse', body);
      assert.equal(res.status, status, body);
      const json = (await res.json()) as { error: string; message: string };
      assert.equal(json.error, error, body);
      assert.equal(typeof json.message, 'string');
    }
    assert.equal(await daemon.app.timelapseFiles.get(yesterday), undefined);

    // Stills left on a day that retention (3 days) is about to remove: 409 too_old, nothing written.
    const old = await plantStill(daemon, daemon.app.store.latest()!.id, 6);
    assert.equal((await daemon.app.store.listDay(old)).length, 1);
    const tooOld = await web.api('/api/timelapse', JSON.stringify({ day: old }));
    assert.equal(tooOld.status, 409);
    assert.equal(((await tooOld.json()) as { error: string }).error, 'too_old');
    assert.equal(await daemon.app.timelapseFiles.get(old), undefined);
    assert.deepEqual(
      fs.readdirSync(path.join(daemon.app.store.dir, old)).filter((f) => f.includes('timelapse')),
      [],
      'no temp file left',
    );

    const before = await daemon.app.timelapseFiles.get(today);
    const body = JSON.stringify({ day: today });
    assert.equal((await web.post('/api/timelapse', body, { 'content-type': 'application/json' })).status, 403, 'no token');
    assert.equal((await web.post('/api/timelapse', body, { 'content-type': 'application/json', 'x-csrf-token': 'forged' })).status, 403, 'wrong token');
    assert.equal(
      (await web.post('/api/timelapse', body, { 'content-type': 'application/json', 'x-csrf-token': web.csrf, 'sec-fetch-site': 'cross-site' })).status,
      403,
      'cross-site',
    );
    const evil = await web.request('/api/timelapse', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-csrf-token': web.csrf, origin: 'http://evil.example' },
    });
    assert.equal(evil.status, 403, 'another origin');
    const anon = new WebClient(daemon.web);
    const noSession = await anon.post('/api/timelapse', body, { 'content-type': 'application/json' });
    assert.ok([401, 403].includes(noSession.status), `no session -> ${noSession.status}`);
    const after = await daemon.app.timelapseFiles.get(today);
    assert.deepEqual(after?.meta.created_at, before?.meta.created_at, 'none of these rebuilt it');
  });

  test('SSE: a `timelapse` event on a build; `captured` carries brightness, change and changed; a rebuild changes the ETag', async () => {
    const stream = await openEvents(daemon.web, web.cookieHeader);
    try {
      assert.equal(stream.status, 200);
      const oldEtag = (await web.get(`/timelapse/${today}.webp`)).headers.get('etag')!;

      const record = await daemon.app.captures.capture('web');
      await until(() => stream.events.some((e) => e.event === 'captured'), 5000, 'captured event');
      const captured = JSON.parse(stream.events.find((e) => e.event === 'captured')!.data);
      assert.equal(captured.id, record.capture.id);
      assert.equal(captured.brightness, record.scene.brightness);
      assert.equal(typeof captured.brightness, 'number');
      assert.equal(typeof captured.change, 'number', 'compared with the still before');
      assert.equal(captured.change, record.scene.change);
      assert.equal(captured.changed, false, 'the same picture again');

      // Empty body: today.
      const res = await web.api('/api/timelapse', '');
      assert.equal(res.status, 200);
      const rebuilt = (await res.json()) as TimelapseJson;
      assert.equal(rebuilt.day, today);
      assert.equal(rebuilt.frames, 4);
      assert.equal(rebuilt.frame_times?.length, 4);
      assert.equal(rebuilt.frame_times?.at(-1), record.capture.capturedAtIso);
      assert.equal(rebuilt.url, `/timelapse/${today}.webp?v=${encodeURIComponent(record.capture.id)}`);
      assert.notEqual(rebuilt.url, built.url);
      await until(() => stream.events.some((e) => e.event === 'timelapse'), 5000, 'timelapse event');
      const ev = JSON.parse(stream.events.find((e) => e.event === 'timelapse')!.data);
      assert.deepEqual(ev, rebuilt);

      const fresh = await web.get(`/timelapse/${today}.webp`, { 'if-none-match': oldEtag });
      assert.equal(fresh.status, 200, 'the old ETag no longer matches');
      assert.notEqual(fresh.headers.get('etag'), oldEtag);
      assert.equal((await sharp(Buffer.from(await fresh.arrayBuffer())).metadata()).pages, 4);
    } finally {
      stream.close();
    }
  });

  test('a timelapse.json written before frame times were recorded: the day view leaves them out, the rest stands', async () => {
    const file = path.join(daemon.app.store.dir, today, 'timelapse.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.equal((meta.frame_times as string[]).length, meta.frames, 'recorded in the meta file');
    delete meta.frame_times;
    fs.writeFileSync(file, JSON.stringify(meta));
    const old = ((await (await web.get(`/api/days/${today}`)).json()) as { timelapse: TimelapseJson }).timelapse;
    assert.equal(old.frame_times, undefined);
    assert.equal(old.frames, meta.frames);
    fs.writeFileSync(file, JSON.stringify({ ...meta, frame_times: ['2026-01-01T00:00:00.000+00:00'] }));
    const short = ((await (await web.get(`/api/days/${today}`)).json()) as { timelapse: TimelapseJson }).timelapse;
    assert.equal(short.frame_times, undefined, 'a list that does not match the frames is not passed on');
  });

  test('a restart keeps the secret: the same key still opens the timelapse', async () => {
    const link = timelapseLink(secret, today);
    await daemon.stop();
    const cam = instantCamera(await makeJpeg(800, 600));
    daemon = await startDaemon(cam, { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_ENABLED: 'false' }, { timelapseTiming: { catchUpDelayMs: 60_000 } });
    const res = await new WebClient(daemon.web).get(link);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/webp');
    await res.arrayBuffer();
    assert.equal(daemon.app.timelapses.latest()?.url, link);
  });
});
