// Power cut / kill -9 (issue 5 item 3): the real daemon (`moncam run`, fake rpicam-still emitting a real
// 3.2 MB 8-megapixel JPEG) captures back to back and is SIGKILLed at random moments, then restarted on
// the same data dir, until at least 50 captures were attempted (`npm run test:long`; 12 in `npm test`,
// MONCAM_POWER_CUT_ATTEMPTS sets any number). Afterwards nothing partial is left, listed
// or served, the filesystem index is consistent and every capture the daemon reported stored survived.
//
// Some rounds run with the daemon's clock more than a year behind (a Pi without RTC before NTP): those
// saves land in a day folder far older than the newest ones, where start() does not sweep before it
// returns; the store has to clean up there as well.
//
// The run is seeded: MONCAM_POWER_CUT_SEED=<n> repeats one (the seed is printed as a diagnostic).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { isTempName, nodeFs, type StorageFs } from '../../src/storage/atomic.ts';
import { LocalClock } from '../../src/clock.ts';
import { isDay, parseFileName } from '../../src/storage/layout.ts';
import { CaptureStore } from '../../src/storage/store.ts';
import { ChildDaemon, PASSWORD } from '../helpers/daemon.ts';
import { longOr } from '../helpers/long.ts';
import { GARDEN_8MP, freePort, notNearMidnight, quietLogger, tempDir, until } from '../helpers/setup.ts';
import { WebClient } from '../helpers/web.ts';
import { recorded } from './helpers.ts';

const MIN_ATTEMPTS = longOr(12, 50, 'MONCAM_POWER_CUT_ATTEMPTS');
const DAY_MS = 86_400_000;
/** Stale-clock rounds run this far in the past: far older than the history below. */
const STALE_OFFSET_MS = -400 * DAY_MS;
/** Days of earlier stills before the test starts, so the stale day is not among the newest folders. */
const HISTORY_DAYS = 10;

/** Shifts the daemon's clock by TEST_CLOCK_OFFSET_MS (loaded with --import before the app). */
const CLOCK_SHIFT =
  'data:text/javascript,' +
  encodeURIComponent(`
const off = Number(process.env.TEST_CLOCK_OFFSET_MS || 0);
if (off) {
  const Real = Date;
  globalThis.Date = new Proxy(Real, {
    construct: (t, args, nt) => (args.length ? Reflect.construct(t, args, nt) : Reflect.construct(t, [Real.now() + off], nt)),
    apply: () => new Real(Real.now() + off).toString(),
    get: (t, p, r) => (p === 'now' ? () => Real.now() + off : Reflect.get(t, p, r)),
  });
}`);

/** mulberry32: small, seedable, good enough to pick kill moments. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Leftovers {
  temps: string[];
  /** Derived files whose original is missing (a commit cut between the renames). */
  orphans: string[];
  /** Originals missing a derived file (must never happen). */
  incomplete: string[];
  empty: string[];
  strangers: string[];
}

/** Everything under the store that is not a complete capture. */
async function inspect(storeDir: string): Promise<Leftovers & { ids: string[] }> {
  const out: Leftovers & { ids: string[] } = { temps: [], orphans: [], incomplete: [], empty: [], strangers: [], ids: [] };
  const files = (await fsp.readdir(storeDir, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory());
  const groups = new Map<string, Set<string>>();
  for (const e of files) {
    const rel = path.relative(storeDir, path.join(e.parentPath, e.name));
    if (isTempName(e.name)) {
      out.temps.push(rel);
      continue;
    }
    const f = parseFileName(e.name);
    const dir = path.dirname(rel);
    if (!f || !isDay(dir)) {
      out.strangers.push(rel);
      continue;
    }
    if ((await fsp.stat(path.join(storeDir, rel))).size === 0) out.empty.push(rel);
    const key = `${dir}/${f.id}`;
    if (!groups.has(key)) groups.set(key, new Set());
    groups.get(key)!.add(f.kind);
  }
  for (const [key, kinds] of groups) {
    if (!kinds.has('original')) out.orphans.push(`${key} (${[...kinds].join(',')})`);
    else if (kinds.size !== 4) out.incomplete.push(`${key} (${[...kinds].join(',')})`);
    else out.ids.push(path.basename(key));
  }
  // Anything hidden in the store root (an interrupted cleanup's folder) counts as a leftover too.
  for (const name of await fsp.readdir(storeDir)) if (name.startsWith('.')) out.strangers.push(name);
  out.ids.sort();
  return out;
}

/** Camera program runs that were captures (the camera probe also runs the program). */
function attempts(argvLog: string): number {
  if (!fs.existsSync(argvLog)) return 0;
  return fs
    .readFileSync(argvLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((l) => (JSON.parse(l) as { argv: string[] }).argv.includes('-o')).length;
}

/** A full decode (shrink-on-load still reads every scan): throws on truncated or corrupt data. */
async function decodes(buf: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(buf).metadata();
  await sharp(buf, { failOn: 'truncated' }).resize(64).raw().toBuffer();
  return { width: meta.width!, height: meta.height! };
}

// The stale-clock saves are looked for in one day's folder, and the history is counted in days.
before(() => notNearMidnight(300_000));

test('power cut: SIGKILL at random moments while capturing; restart leaves only complete, served, consistent captures', { timeout: 300_000 }, async (t) => {
  const seed = process.env.MONCAM_POWER_CUT_SEED ? Number(process.env.MONCAM_POWER_CUT_SEED) : randomInt(2 ** 31);
  t.diagnostic(`seed ${seed} (repeat with MONCAM_POWER_CUT_SEED=${seed})`);
  const random = prng(seed);
  const started = Date.now();

  const work = tempDir('moncam-powercut-');
  const dataDir = path.join(work, 'data');
  const storeDir = path.join(dataDir, 'captures');
  const argvLog = path.join(work, 'argv.jsonl');
  fs.mkdirSync(dataDir);
  let daemon: ChildDaemon | undefined;
  t.after(async () => {
    await daemon?.stop('SIGKILL');
    await fsp.rm(work, { recursive: true, force: true });
  });
  const fixture = fs.readFileSync(GARDEN_8MP);

  // Earlier days, as a daemon that has run for a while has them.
  const history = new CaptureStore({ dir: storeDir, retentionDays: 0, maxBytes: 0, logger: quietLogger() });
  await history.start();
  const thumb = await sharp(fixture).resize(320).jpeg().toBuffer();
  const preview = await sharp(fixture).resize(640).jpeg().toBuffer();
  for (let d = HISTORY_DAYS; d >= 1; d--)
    await history.save({ capturedAt: new Date(Date.now() - d * DAY_MS), original: fixture, thumb, preview, meta: recorded() });
  const staleDay = new LocalClock().day(new Date(Date.now() + STALE_OFFSET_MS));

  const brokerPort = await freePort();
  const webPort = await freePort();
  const baseEnv = {
    FAKE_CAMERA_JPEG: GARDEN_8MP,
    FAKE_CAMERA_ARGV_LOG: argvLog,
    MONCAM_STORAGE_RETENTION_DAYS: '0', // keep everything: the stale day must not be pruned by age
    MONCAM_SCHEDULE_ENABLED: 'true',
    MONCAM_SCHEDULE_CRON: '* * * * * *',
  };
  const start = (env: Record<string, string>) =>
    ChildDaemon.start({ dataDir, brokerPort, webPort, nodeArgs: ['--import', CLOCK_SHIFT], env: { ...baseEnv, ...env } });

  const stored = new Set<string>(); // ids the daemons logged as stored: each must survive
  const rounds: string[] = [];
  let kills = 0;
  let midWrite = 0;
  let midCommit = 0;
  let staleRounds = 0;
  let staleLeftovers = 0;
  const seen = new Set<string>();

  while (attempts(argvLog) < MIN_ATTEMPTS || staleRounds === 0) {
    // The first stale round always waits for a write, so the stale folder surely gets leftovers once.
    const stale = kills >= 2 && (staleRounds === 0 || random() < 0.3);
    const targeted = (stale && staleRounds === 0) || random() < 0.4;
    if (stale) staleRounds++;
    daemon = await start(stale ? { TEST_CLOCK_OFFSET_MS: String(STALE_OFFSET_MS) } : {});

    // Back-to-back captures: MQTT commands on top of the every-second schedule (a busy daemon queues one).
    const client = await mqtt.connectAsync(daemon.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 });
    client.on('error', () => undefined);
    let hammering = true;
    const hammer = (async () => {
      while (hammering) {
        client.publish('moncam/childcam/capture/set', 'CAPTURE', { qos: 0 });
        await delay(100);
      }
    })();

    await delay(100 + random() * 1500);
    if (targeted) {
      // Kill the moment a temp file shows up: mid-write for sure.
      const folder = stale ? staleDay : undefined;
      await until(async () => (await inspectTemps(storeDir, folder)) > 0, 15_000, 'a save in progress').catch(() => undefined);
    }
    assert.equal(
      daemon.logs.find((l) => l.level === 60),
      undefined,
      'no fatal log before the kill',
    );
    daemon.kill('SIGKILL');
    const exit = await daemon.exited;
    assert.equal(exit.signal, 'SIGKILL', `daemon was still running when killed: ${JSON.stringify(exit)}`);
    kills++;
    hammering = false;
    await hammer;
    await client.endAsync(true);

    for (const l of daemon.logs) if (l.msg === 'still captured' && typeof l.id === 'string') stored.add(l.id);
    const left = await inspect(storeDir);
    assert.deepEqual(left.incomplete, [], 'an original is never in place before its derived files');
    assert.deepEqual(left.empty, [], 'no empty capture files, even right after a kill');
    // Leftovers not seen after an earlier kill (those in older folders wait for the background sweep).
    const fresh = [...left.temps, ...left.orphans].filter((f) => !seen.has(f));
    for (const f of fresh) seen.add(f);
    if (fresh.length > 0) midWrite++;
    if (left.orphans.some((f) => fresh.includes(f))) midCommit++;
    if (left.temps.some((f) => f.startsWith(staleDay)) || left.orphans.some((f) => f.startsWith(staleDay))) staleLeftovers++;
    rounds.push(`${stale ? 'stale' : 'now'}/${targeted ? 'targeted' : 'random'}:${left.temps.length}t${left.orphans.length}o`);
  }
  const attempted = attempts(argvLog);

  // The final restart, with the right clock and nothing capturing.
  daemon = await start({ MONCAM_SCHEDULE_ENABLED: 'false' });
  // Older day folders (the stale one among them) are swept in the background shortly after start.
  const swept = await until(() => daemon!.logged('older day folders swept'), 10_000, 'older day folders swept').then(
    () => true,
    () => false,
  );
  t.diagnostic(`background sweep of older day folders ${swept ? 'reported' : 'NOT reported'}`);

  const after = await inspect(storeDir);
  assert.deepEqual(after.temps, [], 'no temp files anywhere in the store');
  assert.deepEqual(after.orphans, [], 'no derived files without their original');
  assert.deepEqual(after.incomplete, [], 'every original has its thumb, preview and meta');
  assert.deepEqual(after.empty, [], 'no empty files');
  assert.deepEqual(after.strangers, [], 'nothing else in the store');

  const web = new WebClient(daemon.webUrl);
  assert.equal((await web.login(PASSWORD)).headers.get('location'), '/');
  const days = ((await (await web.get('/api/days')).json()) as { days: string[] }).days;
  assert.ok(days.includes(staleDay), `the stale day ${staleDay} is listed: ${days.join()}`);
  const listed: string[] = [];
  for (const day of days) {
    const res = await web.get(`/api/days/${day}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { hours: { captures: { id: string; bytes: number; urls: Record<'full' | 'thumb' | 'preview', string> }[] }[] };
    for (const c of body.hours.flatMap((h) => h.captures)) {
      listed.push(c.id);
      const full = Buffer.from(await (await web.get(c.urls.full)).arrayBuffer());
      assert.ok(full.equals(fixture), `${c.id}: the served original is the camera's JPEG byte for byte (${full.length} bytes)`);
      assert.equal(c.bytes, fixture.length);
      for (const kind of ['thumb', 'preview'] as const) {
        const res = await web.get(c.urls[kind]);
        assert.equal(res.status, 200, `${c.id} ${kind}`);
        const img = Buffer.from(await res.arrayBuffer());
        const { width } = await decodes(img).catch((err: unknown) => assert.fail(`${c.id} ${kind} does not decode: ${String(err)}`));
        assert.ok(width > 0 && width < 3280, `${c.id} ${kind} width ${width}`);
      }
      const meta = JSON.parse(await fsp.readFile(path.join(storeDir, day, `${c.id}.json`), 'utf8')) as { id: string; bytes: number };
      assert.equal(meta.id, c.id);
      assert.equal(meta.bytes, fixture.length);
    }
  }
  await decodes(fixture); // the bytes every served original matched decode
  listed.sort();
  assert.deepEqual(listed, after.ids, 'the listing is exactly the complete captures on disk');
  for (const id of stored) assert.ok(listed.includes(id), `${id} was reported stored before a kill and must survive it`);
  assert.ok(listed.length >= HISTORY_DAYS + stored.size);

  const state = (await (await web.get('/api/state')).json()) as { latest: { id: string } | null };
  assert.equal(state.latest?.id, listed.at(-1), "the daemon's latest is the newest listed");
  assert.equal((await daemon.stop()).code, 0);

  t.diagnostic(
    `attempted captures ${attempted}, kills ${kills}, kills mid-write ${midWrite} (of them between the derived renames and the original's: ${midCommit}), stale-clock rounds ${staleRounds}, kills after which the stale folder held leftovers ${staleLeftovers}`,
  );
  t.diagnostic(
    `stored and reported ${stored.size}, listed ${listed.length} (history ${HISTORY_DAYS}), days ${days.length}, runtime ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  t.diagnostic(`rounds: ${rounds.join(' ')}`);
  assert.ok(staleLeftovers > 0, 'at least one kill left leftovers in the stale day folder (else the old-folder sweep went untested)');
});

/** Temp files in one day folder (or any), for a kill aimed at a save in progress. */
async function inspectTemps(storeDir: string, day?: string): Promise<number> {
  let n = 0;
  const days = day ? [day] : (await fsp.readdir(storeDir)).filter(isDay);
  for (const d of days) {
    try {
      n += (await fsp.readdir(path.join(storeDir, d))).filter(isTempName).length;
    } catch {
      // not there yet
    }
  }
  return n;
}

test('age retention cut short halfway through a day folder: the day is never half listed, and start() finishes the job', async (t) => {
  const dir = path.join(tempDir('moncam-powercut-age-'), 'captures');
  t.after(() => fsp.rm(path.dirname(dir), { recursive: true, force: true }));
  const now = () => new Date('2026-11-23T12:00:00Z');
  const writer = new CaptureStore({ dir, timeZone: 'UTC', retentionDays: 0, maxBytes: 0, logger: quietLogger() });
  await writer.start();
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#363' } })
    .jpeg()
    .toBuffer();
  for (const iso of ['2026-10-01T10:00:00Z', '2026-10-01T11:00:00Z', '2026-11-23T10:00:00Z']) {
    await writer.save({ capturedAt: new Date(iso), original: jpeg, thumb: jpeg, preview: jpeg, meta: recorded() });
  }
  // The power goes while the old day's files are being removed: some are gone, then nothing more happens.
  const dying: StorageFs = {
    ...nodeFs,
    rm: async (p) => {
      const names = (await fsp.readdir(p)).sort();
      for (const name of names.slice(0, 3)) await fsp.unlink(path.join(p, name));
      throw Object.assign(new Error('simulated power cut'), { code: 'EIO' });
    },
  };
  const pruning = new CaptureStore({ dir, timeZone: 'UTC', retentionDays: 30, maxBytes: 0, logger: quietLogger(), now, fs: dying });
  await pruning.start();
  await pruning.prune();
  assert.deepEqual(await pruning.listDays(), ['2026-11-23'], 'the old day left the listing at once, whole');
  assert.deepEqual(await pruning.listDay('2026-10-01'), []);
  const hidden = (await fsp.readdir(dir)).filter((n) => n.startsWith('.'));
  assert.equal(hidden.length, 1, `the half-removed folder is hidden: ${hidden.join()}`);

  const restarted = new CaptureStore({ dir, timeZone: 'UTC', retentionDays: 30, maxBytes: 0, logger: quietLogger(), now });
  await restarted.start();
  assert.deepEqual(await fsp.readdir(dir), ['2026-11-23'], 'start() removed the rest');
  assert.equal(restarted.latest()?.id, '20261123T100000.000Z');
});
