// The web app over real HTTP: deny by default, auth, sessions, CSRF, images, history, live events.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setPassword } from '../../src/auth/password.ts';
import { moncam } from '../helpers/cli.ts';
import { instantCamera, startDaemon, type Daemon } from '../helpers/mqtt.ts';
import { makeJpeg, tempDir, until } from '../helpers/setup.ts';
import { WebClient, openEvents } from '../helpers/web.ts';
import { recorded } from '../storage/helpers.ts';

const PASSWORD = 'garden-secret-1';
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);

async function daemonWithPassword(env: Record<string, string> = {}, dataDir = tempDir()) {
  await setPassword(path.join(dataDir, 'private', 'pass_user'), PASSWORD);
  const camera = instantCamera(await makeJpeg(800, 600));
  const daemon = await startDaemon(camera, { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_ENABLED: 'false', ...env });
  return { daemon, camera, dataDir };
}

describe('web: deny by default', () => {
  let daemon: Daemon;
  let ids: string[];
  let today: string;
  before(async () => {
    ({ daemon } = await daemonWithPassword());
    ids = [(await daemon.app.captures.capture('web')).capture.id, (await daemon.app.captures.capture('web')).capture.id];
    today = daemon.app.store.latest()!.day;
  });
  after(() => daemon.stop());

  test('public: /login, its assets, /healthz (which reveals nothing private)', async () => {
    const anon = new WebClient(daemon.web);
    const login = await anon.get('/login');
    assert.equal(login.status, 200);
    assert.match(login.headers.get('content-type')!, /text\/html/);
    assert.match(await login.text(), /name="password"/);
    assert.equal((await anon.get('/assets/style.css')).status, 200);
    assert.equal((await anon.get('/assets/login.js')).status, 200);
    const health = await anon.get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  test('route table: every private route refuses without a session and leaks no image byte or id', async () => {
    const anon = new WebClient(daemon.web);
    const routes: Array<[string, string]> = [
      ['GET', '/'],
      ['GET', '/api/state'],
      ['GET', '/api/days'],
      ['GET', `/api/days/${today}`],
      ['GET', '/api/events'],
      ['POST', '/api/capture'],
      ['POST', '/api/visit'],
      ...['full', 'thumb', 'preview'].map((k): [string, string] => ['GET', `/images/${ids[0]}/${k}.jpg`]),
      ['GET', '/images/latest/thumb.jpg'],
      ['GET', '/index.html'],
      ['GET', '/data/private/pass_user'],
    ];
    const runs = daemon.app.captures.busy;
    for (const [method, route] of routes) {
      const res = method === 'GET' ? await anon.get(route, { accept: route === '/' ? 'text/html' : '*/*' }) : await anon.post(route, '');
      assert.ok([303, 401, 403, 404].includes(res.status), `${method} ${route} -> ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(!body.includes(JPEG_SOI), `${method} ${route} leaked JPEG bytes`);
      for (const id of ids) assert.ok(!body.toString().includes(id), `${method} ${route} leaked a capture id`);
      assert.ok(!body.toString().includes('argon2'), `${method} ${route} leaked the hash`);
    }
    assert.equal((await anon.get('/', { accept: 'text/html' })).headers.get('location'), '/login');
    assert.equal(daemon.app.captures.busy, runs, 'no capture was triggered');
  });

  test('with a session the same routes answer', async () => {
    const web = new WebClient(daemon.web);
    const login = await web.login(PASSWORD);
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/');
    assert.match(await (await web.get('/')).text(), /Take still/);
    const state = (await (await web.get('/api/state')).json()) as { latest: { id: string; urls: Record<string, string> }; csrf: string };
    assert.equal(state.latest.id, ids[1]);
    const thumb = await web.get(state.latest.urls.thumb!);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    const full = Buffer.from(await (await web.get(`/images/${ids[0]}/full.jpg`)).arrayBuffer());
    assert.deepEqual(full, fs.readFileSync((await daemon.app.store.get(ids[0]!))!.files.original), 'full resolution is the stored original');
  });

  test('path traversal and malformed names never reach the file system', async () => {
    const web = new WebClient(daemon.web);
    await web.login(PASSWORD);
    const attempts = [
      '/images/../private/pass_user',
      '/images/..%2f..%2fprivate%2fpass_user/thumb.jpg',
      '/images/%2e%2e%2f%2e%2e%2fprivate%2fpass_user/full.jpg',
      `/images/${ids[0]}/..%2f..%2f..%2fprivate%2fpass_user`,
      `/images/${ids[0]}%2f..%2f..%2fprivate/thumb.jpg`,
      `/images/${ids[0]}/thumb.jpg%00.png`,
      `/images/${ids[0]}/meta`,
      `/images/${ids[0]}/json`,
      '/images/20261323T250000.000Z/thumb.jpg',
      '/images/%252e%252e/thumb.jpg',
      '/assets/../data/private/pass_user',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/..%2f..%2fpackage.json',
      `/api/days/..%2f..%2fprivate`,
      '/api/days/2026-02-30',
    ];
    for (const url of attempts) {
      const res = await web.get(url);
      const body = await res.text();
      assert.ok(res.status >= 400 && res.status < 500, `${url} -> ${res.status}`);
      assert.ok(!body.includes('argon2') && !body.includes('"dependencies"'), `${url} leaked a file`);
    }
  });

  test('images: strong ETag, immutable caching, 304 on revalidation', async () => {
    const web = new WebClient(daemon.web);
    await web.login(PASSWORD);
    const res = await web.get(`/images/${ids[0]}/thumb.jpg`);
    const etag = res.headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/, 'a strong validator (no W/)');
    assert.match(res.headers.get('cache-control')!, /immutable/);
    const again = await web.get(`/images/${ids[0]}/thumb.jpg`, { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
    const full = await web.get(`/images/${ids[0]}/full.jpg`);
    assert.equal(full.headers.get('content-type'), 'image/jpeg');
    assert.match(full.headers.get('etag')!, /^"/);
  });

  test('history: 24 hour slots; several stills in one hour are all listed; unknown day is empty', async () => {
    const web = new WebClient(daemon.web);
    await web.login(PASSWORD);
    const day = (await (await web.get(`/api/days/${today}`)).json()) as { hours: Array<{ hour: number; captures: Array<{ id: string }> }> };
    assert.equal(day.hours.length, 24);
    const listed = day.hours.flatMap((h) => h.captures.map((c) => c.id));
    for (const id of ids) assert.ok(listed.includes(id));
    const empty = (await (await web.get('/api/days/2001-01-01')).json()) as { hours: Array<{ captures: unknown[] }> };
    assert.equal(empty.hours.filter((h) => h.captures.length).length, 0);
    assert.equal((await web.get('/api/days/yesterday')).status, 400);
  });

  test('the page arrives with the latest still in it (its image loads with the scripts)', async () => {
    const web = new WebClient(daemon.web);
    await web.login(PASSWORD);
    const html = await (await web.get('/')).text();
    const latest = daemon.app.store.latest()!;
    assert.match(
      html,
      new RegExp(
        `<img id="latest-img" alt="Latest still, taken [\\d: -]+" width="480" height="360" src="/images/${latest.id.replace('.', '\\.')}/thumb\\.jpg" srcset="`,
      ),
    );
    assert.match(html, /<figure id="latest">/);
    assert.match(
      html,
      new RegExp(
        `<a id="latest-time"[^>]*href="/images/${latest.id.replace('.', '\\.')}/full\\.jpg"[^>]*>${latest.capturedAtIso.slice(0, 19).replace('T', ' ')}</a>`,
      ),
    );
  });

  test('history: each still carries its scene change and whether it reached scene.change_threshold', async () => {
    const web = new WebClient(daemon.web);
    await web.login(PASSWORD);
    const jpeg = await makeJpeg(160, 120);
    const saved = [];
    for (const [i, change] of [undefined, 2, 5, 40].entries()) {
      saved.push(
        await daemon.app.store.save({
          capturedAt: new Date(Date.UTC(2025, 5, 1, 10, i)),
          original: jpeg,
          thumb: jpeg,
          preview: jpeg,
          meta: recorded(change === undefined ? {} : { change }),
        }),
      );
    }
    type Day = { scene_threshold: number; hours: Array<{ captures: Array<{ id: string; change: number | null; changed: boolean }> }> };
    const day = (await (await web.get(`/api/days/${saved[0]!.day}`)).json()) as Day;
    assert.equal(day.scene_threshold, 5);
    const got = day.hours.flatMap((h) => h.captures).map((c) => [c.id, c.change, c.changed]);
    assert.deepEqual(got, [
      [saved[0]!.id, null, false],
      [saved[1]!.id, 2, false],
      [saved[2]!.id, 5, true],
      [saved[3]!.id, 40, true],
    ]);
  });
});

describe('web: auth', () => {
  test('brute force: failed logins are limited per client with 429 and Retry-After', async () => {
    const { daemon } = await daemonWithPassword({ MONCAM_WEB_LOGIN_ATTEMPTS: '3' });
    try {
      const web = new WebClient(daemon.web);
      for (let i = 0; i < 3; i++) assert.equal((await web.login('wrong-password')).headers.get('location'), '/login?error=1');
      const limited = await web.login('wrong-password');
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.equal((await web.login(PASSWORD)).status, 429, 'even the right password waits');
    } finally {
      await daemon.stop();
    }
  });

  test('cookie flags: HttpOnly, SameSite=Strict; Secure behind a TLS proxy when trusted', async () => {
    const { daemon } = await daemonWithPassword({ MONCAM_WEB_TRUST_PROXY: 'true' });
    try {
      const plain = new WebClient(daemon.web);
      await plain.login(PASSWORD);
      const cookie = plain.lastSetCookie.find((c) => c.startsWith('moncam.sid='))!;
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Strict/i);
      assert.match(cookie, /Path=\//);
      assert.doesNotMatch(cookie, /Secure/i);
      const tls = new WebClient(daemon.web);
      await tls.request('/login', {
        method: 'POST',
        body: `password=${PASSWORD}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
      });
      assert.match(
        tls.lastSetCookie.find((c) => c.startsWith('moncam.sid='))!,
        /Secure/i,
      );
    } finally {
      await daemon.stop();
    }
  });

  test('cross-site requests are refused: login from another origin, API POSTs without the token', async () => {
    const { daemon, camera } = await daemonWithPassword();
    try {
      const web = new WebClient(daemon.web);
      const evil = await web.request('/login', {
        method: 'POST',
        body: `password=${PASSWORD}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      });
      assert.equal(evil.status, 403);
      await web.login(PASSWORD);
      const runs = camera.runs;
      assert.equal((await web.post('/api/capture', '', { 'content-type': 'application/json' })).status, 403, 'no token');
      assert.equal((await web.post('/api/capture', '', { 'x-csrf-token': 'forged', 'content-type': 'application/json' })).status, 403, 'wrong token');
      assert.equal((await web.post('/api/capture', '', { 'x-csrf-token': web.csrf, 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site');
      assert.equal((await web.post('/logout', '', { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site logout');
      assert.equal(camera.runs, runs, 'nothing was captured');
      const ok = await web.api('/api/capture');
      assert.equal(ok.status, 200);
      assert.equal(camera.runs, runs + 1);
    } finally {
      await daemon.stop();
    }
  });

  test('logout invalidates the session server-side', async () => {
    const { daemon } = await daemonWithPassword();
    try {
      const web = new WebClient(daemon.web);
      await web.login(PASSWORD);
      const stolen = web.cookieHeader;
      assert.equal((await web.post('/logout', '')).headers.get('location'), '/login');
      assert.equal((await web.get('/api/state', { cookie: stolen })).status, 401, 'the old cookie is dead');
    } finally {
      await daemon.stop();
    }
  });

  test('sessions survive a daemon restart; forged and garbage cookies do not work', async () => {
    const dataDir = tempDir();
    const first = await daemonWithPassword({}, dataDir);
    const web = new WebClient(first.daemon.web);
    await web.login(PASSWORD);
    const cookie = web.cookieHeader;
    await first.daemon.stop();
    const second = await startDaemon(instantCamera(await makeJpeg(320, 240)), { MONCAM_DATA_DIR: dataDir, MONCAM_BROKER_ENABLED: 'false' });
    try {
      const again = new WebClient(second.web);
      assert.equal((await again.get('/api/state', { cookie })).status, 200);
      for (const bad of ['moncam.sid=s%3Aforged.signature', 'moncam.sid=' + 'A'.repeat(4000), 'moncam.sid=%', `${cookie}x`]) {
        assert.equal((await again.get('/api/state', { cookie: bad })).status, 401, bad.slice(0, 40));
      }
    } finally {
      await second.stop();
    }
  });

  test('`moncam passwd` takes effect without a restart', async () => {
    const { daemon, dataDir } = await daemonWithPassword();
    try {
      const r = await moncam(['passwd'], { cwd: dataDir, env: { MONCAM_DATA_DIR: dataDir }, stdin: 'brand-new-password\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await new WebClient(daemon.web).login(PASSWORD)).headers.get('location'), '/login?error=1');
      assert.equal((await new WebClient(daemon.web).login('brand-new-password')).headers.get('location'), '/');
    } finally {
      await daemon.stop();
    }
  });
});

describe('web: live updates and fresh stills', () => {
  test('server-sent events: a still taken elsewhere (e.g. MQTT) reaches the page; connections are bounded', async () => {
    const { daemon } = await daemonWithPassword({ MONCAM_WEB_MAX_EVENT_CLIENTS: '2' });
    try {
      const web = new WebClient(daemon.web);
      await web.login(PASSWORD);
      const a = await openEvents(daemon.web, web.cookieHeader);
      const b = await openEvents(daemon.web, web.cookieHeader);
      const c = await openEvents(daemon.web, web.cookieHeader);
      assert.equal(a.status, 200);
      assert.equal(c.status, 503, 'the third stream is refused');
      c.close();
      const record = await daemon.app.captures.capture('mqtt');
      await until(() => a.events.some((e) => e.event === 'captured'), 5000, 'captured event');
      const data = JSON.parse(a.events.find((e) => e.event === 'captured')!.data);
      assert.equal(data.id, record.capture.id);
      assert.equal(data.trigger, 'mqtt');
      a.close();
      b.close();
      await until(() => daemon.app.web !== undefined, 100);
    } finally {
      await daemon.stop();
    }
  });

  test('a visit still is the latest (filed: false, trigger visit) but not in the day history; a web still is kept', async () => {
    const { daemon } = await daemonWithPassword({ MONCAM_WEB_FRESH_WINDOW_S: '0' });
    try {
      const web = new WebClient(daemon.web);
      await web.login(PASSWORD);
      assert.equal((await web.api('/api/visit')).status, 202);
      await until(() => daemon.app.store.latest() !== undefined, 5000, 'the visit still');
      await daemon.app.captures.idle();
      type State = { latest: { id: string; day: string; trigger: string; filed: boolean } };
      const state = (await (await web.get('/api/state')).json()) as State;
      assert.equal(state.latest.trigger, 'visit');
      assert.equal(state.latest.filed, false);
      assert.equal((await web.get(`/images/${state.latest.id}/thumb.jpg`)).status, 200, 'its images are served');
      const ids = async () => {
        const day = (await (await web.get(`/api/days/${state.latest.day}`)).json()) as { hours: Array<{ captures: Array<{ id: string }> }> };
        return day.hours.flatMap((h) => h.captures.map((c) => c.id));
      };
      assert.deepEqual(await ids(), [], 'not filed in the hourly history');
      const timelapse = await web.api('/api/timelapse', JSON.stringify({ day: state.latest.day }));
      assert.equal(timelapse.status, 409, 'nor in the timelapse');
      assert.equal(((await timelapse.json()) as { error: string }).error, 'no_stills');
      const taken = (await (await web.api('/api/capture')).json()) as { id: string; trigger: string };
      assert.equal(taken.trigger, 'web');
      assert.deepEqual(await ids(), [taken.id]);
      assert.equal(((await (await web.get('/api/state')).json()) as State).latest.filed, true);
      assert.equal((await web.get(`/images/${state.latest.id}/full.jpg`)).status, 404, 'the visit still was replaced');
    } finally {
      await daemon.stop();
    }
  });

  test('fresh on visit: one capture shared by repeated visits; none within the window; off by config', async () => {
    const { daemon, camera } = await daemonWithPassword({ MONCAM_WEB_FRESH_WINDOW_S: '60' });
    try {
      const web = new WebClient(daemon.web);
      await web.login(PASSWORD);
      const visits = await Promise.all([1, 2, 3, 4].map(() => web.api('/api/visit').then((r) => r.json() as Promise<{ fresh: boolean }>)));
      assert.ok(visits.some((v) => v.fresh));
      await until(() => daemon.app.store.latest() !== undefined, 5000, 'the fresh still');
      await daemon.app.captures.idle();
      assert.ok(camera.runs <= 2, `visits shared the capture (runs: ${camera.runs})`);
      const runs = camera.runs;
      assert.deepEqual(await (await web.api('/api/visit')).json(), { fresh: false }, 'a recent still is enough');
      assert.equal(camera.runs, runs);
    } finally {
      await daemon.stop();
    }
    const off = await daemonWithPassword({ MONCAM_WEB_FRESH_ON_VISIT: 'false' });
    try {
      const web = new WebClient(off.daemon.web);
      await web.login(PASSWORD);
      assert.deepEqual(await (await web.api('/api/visit')).json(), { fresh: false });
      assert.equal(off.camera.runs, 0);
    } finally {
      await off.daemon.stop();
    }
  });
});
