// Warm mode (camera.warm): the real WarmRpicamCamera against the fake rpicam-still in signal mode
// (`-t 0 --signal`), which models the real program's start-up window (SIGUSR1 kills it), its readiness and
// save lines, the file written in place, SIGUSR2/SIGTERM handling and the camera's exclusivity.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { probeCamera } from '../../src/camera/auto.ts';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { RpicamCamera } from '../../src/camera/rpicam.ts';
import { rpicamWarmArgs, warmDecision, WarmRpicamCamera, type WarmRpicamOptions } from '../../src/camera/warm.ts';
import { createApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { makeJpeg, memoryLogger, quietLogger, tempDir, testConfig, until } from '../helpers/setup.ts';
import { FAKE_RPICAM, fakeEnv, pidGone, rejectsWithCode, req, type FakeRun } from './fakes.ts';

const MIB = 1024 * 1024;
const cameras: WarmRpicamCamera[] = [];
const allRuns: Array<() => FakeRun[]> = [];

/** A fake environment with the camera lock on, and a warm camera that is stopped after the test. */
function rig(scenario = 'ok', extra: Record<string, string> = {}, opts: WarmRpicamOptions = {}) {
  const dir = tempDir('moncam-warm-test-');
  const scenarioFile = path.join(dir, 'scenario');
  fs.writeFileSync(scenarioFile, scenario);
  const { env, runs } = fakeEnv(scenario, { FAKE_CAMERA_LOCK: path.join(dir, 'camera.lock'), FAKE_CAMERA_SCENARIO_FILE: scenarioFile, ...extra });
  const mem = memoryLogger();
  const cam = new WarmRpicamCamera({ program: FAKE_RPICAM, env, logger: mem.logger, ...opts });
  cameras.push(cam);
  allRuns.push(runs);
  const warmRuns = () => runs().filter((r) => r.argv.includes('--signal'));
  const singleRuns = () => runs().filter((r) => !r.argv.includes('--signal'));
  const logged = (msg: RegExp) => mem.lines().filter((l) => msg.test(String(l.msg)));
  return { cam, env, runs, warmRuns, singleRuns, logged, scenario: (s: string) => fs.writeFileSync(scenarioFile, s), mem };
}

afterEach(async () => {
  const stopping = cameras.splice(0);
  await Promise.all(stopping.map((c) => c.stop()));
  for (const runs of allRuns) for (const run of runs()) await until(() => pidGone(run.pid), 3000, `camera process ${run.pid} gone`);
  allRuns.length = 0;
});

const since = (t0: number) => Math.round(performance.now() - t0);

describe('the fake in signal mode behaves like rpicam-still (so the guards are tested against something real)', () => {
  /** Runs the fake directly; resolves on the first stderr line matching `wait`. */
  function direct(file: string) {
    const child = spawn(FAKE_RPICAM, rpicamWarmArgs(file, req()), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FAKE_CAMERA_SCENARIO: 'ok' } });
    let text = '';
    child.stderr.setEncoding('utf8');
    const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
    child.stderr.on('data', (d: string) => {
      text += d;
      for (const w of waiters.slice()) {
        if (!w.re.test(text)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    const line = (re: RegExp) => new Promise<void>((resolve) => (re.test(text) ? resolve() : waiters.push({ re, resolve })));
    return { child, exited, line, stderr: () => text };
  }

  test('SIGUSR1 during start-up kills it (the default action), before any readiness line', async () => {
    const file = path.join(tempDir(), 'still.jpg');
    const p = direct(file);
    await p.line(/camera_manager\.cpp/); // it runs, but is not ready
    p.child.kill('SIGUSR1');
    const end = await p.exited;
    assert.deepEqual(end, { code: null, signal: 'SIGUSR1' });
    assert.doesNotMatch(p.stderr(), /Viewfinder frame/);
    assert.equal(fs.existsSync(file), false);
  });

  test('after "Viewfinder frame" SIGUSR1 writes the still and "Saved image"; SIGUSR2 exits 0', async () => {
    const file = path.join(tempDir(), 'still.jpg');
    const p = direct(file);
    await p.line(/^Viewfinder frame 0$/m);
    p.child.kill('SIGUSR1');
    await p.line(/^Saved image 320 x 240 to file /m);
    assert.match(p.stderr(), /Received signal 10\n[\s\S]*Still capture image received\n[\s\S]*Saved image 320 x 240 to file /);
    assert.deepEqual(validateJpeg(fs.readFileSync(file)), { width: 320, height: 240 });
    p.child.kill('SIGUSR2');
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  });
});

describe('warm rpicam-still', () => {
  test('a still asked for at once waits for readiness; the process stays warm; the next still is the same process', async () => {
    const r = rig();
    const t0 = performance.now();
    const first = await r.cam.capture(req()); // requested before the program can take signals
    const firstMs = since(t0);
    assert.deepEqual(validateJpeg(first.jpeg), { width: 320, height: 240 });
    const [run] = r.runs();
    const dir = r.cam.tmpDirectory!;
    if (fs.existsSync('/dev/shm')) assert.ok(dir.startsWith('/dev/shm/moncam-warm-'), dir);
    assert.deepEqual(run!.argv, [
      '-t',
      '0',
      '--signal',
      '-v',
      '-n',
      '-o',
      path.join(dir, 'still.jpg'),
      '--encoding',
      'jpg',
      '-q',
      '90',
      '--width',
      '320',
      '--height',
      '240',
      '--exposure',
      'normal',
    ]);
    assert.equal(r.cam.warmPid, run!.pid);
    assert.equal(pidGone(run!.pid), false, 'still running between stills');
    assert.equal(fs.existsSync(path.join(dir, 'still.jpg')), false, 'the still file is deleted once read');

    const t1 = performance.now();
    const second = await r.cam.capture(req());
    const secondMs = since(t1);
    assert.deepEqual(validateJpeg(second.jpeg), { width: 320, height: 240 });
    assert.equal(r.runs().length, 1, 'no new process');
    assert.ok(secondMs < firstMs, `warm still ${secondMs} ms, first ${firstMs} ms`);

    await r.cam.stop();
    assert.ok(pidGone(run!.pid), 'stopped and reaped');
    assert.equal(fs.existsSync(dir), false, 'tmpfs directory removed');
    assert.equal(r.cam.warmPid, undefined);
  });

  test('the file is read only after "Saved image" (it is written in place), and a stale file is never returned', async () => {
    const r = rig('ok', { FAKE_CAMERA_WARM_CAPTURE_MS: '600' });
    await r.cam.capture(req());
    // A leftover still of another size where the next one will be written.
    const file = path.join(r.cam.tmpDirectory!, 'still.jpg');
    fs.writeFileSync(file, await makeJpeg(64, 48));
    const t0 = performance.now();
    const still = await r.cam.capture(req());
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    assert.ok(since(t0) >= 550, `returned after ${since(t0)} ms, before the still was complete`);
  });

  test('equal requests at once share one still; a different one waits its turn', async () => {
    const r = rig();
    const [a, b, c] = await Promise.all([r.cam.capture(req()), r.cam.capture(req()), r.cam.capture(req())]);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.equal(r.logged(/still captured \(warm\)/).length, 1, 'one SIGUSR1, one still');
    // Equal ones join the one in flight; another request runs after it, never beside it.
    const [d, e] = await Promise.all([r.cam.capture(req()), r.cam.capture(req({ exposure: 'long' }))]);
    assert.deepEqual(validateJpeg(d.jpeg), { width: 320, height: 240 });
    assert.deepEqual(validateJpeg(e.jpeg), { width: 320, height: 240 });
    assert.ok(
      r.runs().every((x) => !x.busyWith),
      JSON.stringify(r.runs()),
    );
  });

  test('a request with other options runs single-shot with the warm process stopped first; warm starts again lazily', async () => {
    const r = rig();
    await r.cam.capture(req());
    const warm1 = r.warmRuns()[0]!;
    const single = await r.cam.capture(req({ exposure: 'long', shutterUs: 20_000, gain: 2 }));
    assert.deepEqual(validateJpeg(single.jpeg), { width: 320, height: 240 });
    const [shot] = r.singleRuns();
    assert.ok(shot, 'a single-shot run');
    assert.ok(shot.argv.includes('-o') && shot.argv[shot.argv.indexOf('-o') + 1] === '-', shot.argv.join(' '));
    assert.deepEqual(shot.argv.slice(shot.argv.indexOf('--exposure')), ['--exposure', 'long', '--shutter', '20000', '--gain', '2']);
    // The fake's camera lock: the single-shot run found nobody holding the camera.
    assert.equal(shot.busyWith, undefined, `ran while ${shot.busyWith} held the camera`);
    assert.ok(shot.t! >= warm1.t!);
    assert.ok(pidGone(warm1.pid), 'the warm process was stopped');
    assert.equal(r.cam.warmPid, undefined, 'not restarted by itself');
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.warmRuns().length, 1, 'lazily: nothing started without a request');

    await r.cam.capture(req());
    const warm2 = r.warmRuns()[1];
    assert.ok(warm2 && warm2.pid !== warm1.pid && !warm2.busyWith);
    assert.equal(r.runs().filter((x) => x.busyWith).length, 0);
  });

  test('a new profile (quality from HA): the next such still restarts the warm process with it, and it stays warm', async () => {
    const r = rig('ok', {}, { profile: req() });
    const quality = (run: FakeRun) => run.argv[run.argv.indexOf('-q') + 1];
    await r.cam.capture(req());
    const warm1 = r.warmRuns()[0]!;
    assert.equal(quality(warm1), String(req().quality));

    r.cam.setProfile(req({ quality: 71 }));
    assert.equal(r.cam.warmPid, warm1.pid, 'not stopped at once: a still may be in flight');
    await r.cam.capture(req({ quality: 71 }));
    assert.equal(r.singleRuns().length, 0, 'taken warm, not single-shot');
    const warm2 = r.warmRuns()[1];
    assert.ok(warm2 && warm2.pid !== warm1.pid, 'a new warm process');
    assert.equal(quality(warm2), '71');
    assert.ok(pidGone(warm1.pid), 'the old one was stopped');
    assert.equal(warm2.busyWith, undefined, 'it started once the old one had let go of the camera');
    assert.equal(r.logged(/stopping warm/).at(-1)?.why, 'the still options changed (a setting from Home Assistant)');

    await r.cam.capture(req({ quality: 71 }));
    assert.equal(r.warmRuns().length, 2, 'the next still uses it');
    // The old quality is now the odd one out: single-shot, as any request with other options.
    await r.cam.capture(req());
    assert.equal(r.singleRuns().length, 1);
  });

  test('the camera lock in the fake is real: a single-shot run beside the warm process fails "busy"', async () => {
    const r = rig();
    await r.cam.capture(req());
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env: r.env }).capture(req()), 'busy');
    assert.match(err.detail!, /failed to acquire camera/);
    assert.equal(r.singleRuns()[0]!.busyWith, r.cam.warmPid);
  });

  test('timeout: no still after SIGUSR1 -> timeout, the process is killed; the next still starts a fresh one', async () => {
    const r = rig('warm_no_save');
    const t0 = performance.now();
    // Long enough for the fake (a Node.js program) to start and be ready on a loaded machine.
    const err = await rejectsWithCode(r.cam.capture(req({ timeoutMs: 5000 })), 'timeout');
    const took = since(t0);
    assert.ok(took >= 4900 && took < 8000, `took ${took} ms`);
    assert.match(err.message, /no still within 5000 ms/);
    const first = r.warmRuns()[0]!;
    assert.ok(pidGone(first.pid));
    r.scenario('ok');
    const still = await r.cam.capture(req());
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    assert.equal(r.warmRuns().length, 2);
  });

  test('timeout while starting (never ready) -> timeout, process killed', async () => {
    const r = rig('warm_never_ready');
    const err = await rejectsWithCode(r.cam.capture(req({ timeoutMs: 1200 })), 'timeout');
    assert.match(err.message, /not ready within 1200 ms/);
    // Its pid from moncam's own log: the fake may be killed before it could record its run.
    const [started] = r.logged(/^starting warm/);
    await until(() => pidGone(started!.cameraPid as number), 3000, 'the process gone');
  });

  test('abort: the capture ends at once and the process is killed; an aborted signal starts nothing; one joiner giving up does not abort the other', async () => {
    const r = rig('ok', { FAKE_CAMERA_WARM_CAPTURE_MS: '3000' });
    const ac = new AbortController();
    const p = r.cam.capture(req(), ac.signal);
    await until(() => r.logged(/is ready for stills/).length > 0, 5000, 'warm ready');
    await new Promise((res) => setTimeout(res, 200)); // SIGUSR1 sent, the still under way
    const t0 = performance.now();
    ac.abort();
    const err = await rejectsWithCode(p, 'failed');
    assert.ok(since(t0) < 500, `abort took ${since(t0)} ms`);
    assert.match(err.message, /aborted/);
    await until(() => pidGone(r.warmRuns()[0]!.pid), 3000, 'the process killed');

    await rejectsWithCode(r.cam.capture(req(), AbortSignal.abort()), 'failed');
    assert.equal(r.runs().length, 1, 'nothing spawned for an aborted request');

    const quitter = new AbortController();
    const a = r.cam.capture(req(), quitter.signal);
    const b = r.cam.capture(req());
    setTimeout(() => quitter.abort(), 300);
    await rejectsWithCode(a, 'failed');
    assert.deepEqual(validateJpeg((await b).jpeg), { width: 320, height: 240 });
  });

  test('stop: SIGUSR2 is enough for a healthy process (exit 0)', async () => {
    const r = rig();
    await r.cam.capture(req());
    const t0 = performance.now();
    await r.cam.stop();
    assert.ok(since(t0) < 1000, `stop took ${since(t0)} ms`);
    const signals = r.logged(/^warm .*: SIG/).map((l) => l.signal);
    assert.deepEqual(signals, ['SIGUSR2']);
    assert.equal(r.logged(/stopped$/)[0]?.how, 'exit code 0');
    assert.ok(pidGone(r.runs()[0]!.pid));
  });

  test('stop: a process ignoring SIGUSR2 and SIGTERM gets SIGKILL, each step bounded', async () => {
    const r = rig('warm_ignore_stop', {}, { stopStepMs: 400 });
    await r.cam.capture(req());
    const pid = r.runs()[0]!.pid;
    const t0 = performance.now();
    await r.cam.stop();
    const took = since(t0);
    assert.ok(took >= 750 && took < 3000, `stop took ${took} ms`);
    assert.deepEqual(
      r.logged(/^warm .*: SIG/).map((l) => l.signal),
      ['SIGUSR2', 'SIGTERM', 'SIGKILL'],
    );
    assert.equal(r.logged(/stopped$/)[0]?.how, 'killed by SIGKILL');
    assert.ok(pidGone(pid), 'gone and reaped, no zombie');
  });

  test('stop() while a still is under way: the still fails, and nothing is started after it', async () => {
    const r = rig('ok', { FAKE_CAMERA_WARM_CAPTURE_MS: '3000' }, { stopStepMs: 500 });
    const p = r.cam.capture(req());
    await until(() => r.logged(/is ready for stills/).length > 0, 5000, 'warm ready');
    await new Promise((res) => setTimeout(res, 200));
    await r.cam.stop(); // busy with the still, it cannot act on SIGUSR2: SIGTERM follows
    const err = await rejectsWithCode(p, 'failed');
    assert.match(err.message, /stopped during the capture/);
    assert.deepEqual(
      r.logged(/^warm .*: SIG/).map((l) => l.signal),
      ['SIGUSR2', 'SIGTERM'],
    );
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.runs().length, 1, 'no single-shot or warm run after stop()');
    assert.ok(pidGone(r.runs()[0]!.pid));
    assert.equal(r.cam.fallbackReason, undefined, 'a deliberate stop is not a warm failure');
  });

  test('a build without --signal: each still is taken single-shot at once; after 3 failures warm mode is off, logged once', async () => {
    const r = rig('warm_unsupported');
    for (let i = 0; i < 5; i++) assert.deepEqual(validateJpeg((await r.cam.capture(req())).jpeg), { width: 320, height: 240 });
    assert.equal(r.warmRuns().length, 3, 'three warm attempts, then none');
    assert.equal(r.singleRuns().length, 5);
    assert.match(r.cam.fallbackReason!, /3 warm failures in a row \(last: config: .*rejected its options/);
    assert.equal(r.logged(/^warm mode off/).length, 1);
    assert.ok(r.runs().every((x) => !x.busyWith));
  });

  test('repeated warm failures after SIGUSR1 (no still) -> single-shot from then on', async () => {
    const r = rig('warm_no_save');
    for (let i = 1; i <= 3; i++) await rejectsWithCode(r.cam.capture(req({ timeoutMs: 1200 })), 'timeout');
    // Counted from moncam's own log: a fake killed at 1.2 s on a loaded machine may not have recorded its run.
    const warmStarts = () => r.logged(/^starting warm/).length;
    assert.equal(warmStarts(), 3);
    assert.match(r.cam.fallbackReason!, /3 warm failures in a row \(last: timeout/);
    assert.deepEqual(validateJpeg((await r.cam.capture(req())).jpeg), { width: 320, height: 240 });
    assert.equal(warmStarts(), 3, 'no fourth warm attempt');
    assert.equal(r.singleRuns().length, 1);
  });

  test('cut stills -> corrupt; after the third the warm process is stopped before the first single-shot run', async () => {
    const r = rig('warm_truncated', { FAKE_CAMERA_WARM_STOP_MS: '800' }); // a slow teardown after SIGUSR2
    for (let i = 1; i <= 3; i++) await rejectsWithCode(r.cam.capture(req()), 'corrupt');
    assert.equal(r.warmRuns().length, 1, 'one warm process all along (it kept running)');
    assert.match(r.cam.fallbackReason!, /last: corrupt/);
    assert.deepEqual(validateJpeg((await r.cam.capture(req())).jpeg), { width: 320, height: 240 });
    assert.equal(r.singleRuns()[0]!.busyWith, undefined, 'the single-shot run found the camera free');
    assert.ok(pidGone(r.warmRuns()[0]!.pid));
  });

  test('failures that single-shot shares (camera busy) do not turn warm mode off', async () => {
    const r = rig('busy');
    for (let i = 0; i < 4; i++) await rejectsWithCode(r.cam.capture(req()), 'busy');
    assert.equal(r.cam.fallbackReason, undefined);
    assert.equal(r.warmRuns().length, 4);
    r.scenario('ok');
    await r.cam.capture(req());
    assert.equal(r.warmRuns().length, 5);
  });

  test('a warm process that dies between stills is started again by the next still, not in a loop', async () => {
    const r = rig('warm_dies_after:1');
    await r.cam.capture(req());
    const first = r.warmRuns()[0]!;
    await until(() => pidGone(first.pid), 3000, 'the warm process to die');
    await until(() => r.logged(/exited unexpectedly/).length > 0, 2000, 'the death logged');
    assert.match(String(r.logged(/exited unexpectedly/)[0]!.msg), /killed by SIGSEGV/);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(r.runs().length, 1, 'no restart without a request');
    const still = await r.cam.capture(req());
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    const second = r.warmRuns()[1]!;
    assert.notEqual(second.pid, first.pid);
    assert.equal(r.cam.fallbackReason, undefined, 'a good still in between resets the count');
  });

  test('a missing program -> not_installed, not counted against warm mode', async () => {
    const cam = new WarmRpicamCamera({ program: path.join(tempDir(), 'rpicam-still'), logger: quietLogger() });
    cameras.push(cam);
    await rejectsWithCode(cam.capture(req()), 'not_installed');
    assert.equal(cam.fallbackReason, undefined);
  });

  test("latency with the fake's modelled costs: single-shot with a 1 s settle vs warm", async (t) => {
    const r = rig('ok', { FAKE_CAMERA_WARM_CAPTURE_MS: '200' });
    const single = new RpicamCamera({ program: FAKE_RPICAM, env: r.env });
    const time = async (f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      return since(t0);
    };
    const singleMs: number[] = [];
    for (let i = 0; i < 3; i++) singleMs.push(await time(() => single.capture(req({ settleMs: 1000 }))));
    const firstWarmMs = await time(() => r.cam.capture(req({ settleMs: 1000 })));
    const warmMs: number[] = [];
    for (let i = 0; i < 5; i++) warmMs.push(await time(() => r.cam.capture(req({ settleMs: 1000 }))));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    t.diagnostic(`single-shot (-t 1000): ${singleMs.join(', ')} ms (median ${median(singleMs)})`);
    t.diagnostic(`warm, first still (start 300 ms + readiness + 1000 ms settle + capture): ${firstWarmMs} ms`);
    t.diagnostic(`warm stills (capture modelled at 200 ms): ${warmMs.join(', ')} ms (median ${median(warmMs)})`);
    assert.ok(median(warmMs) < median(singleMs) / 2, `warm ${median(warmMs)} ms vs single-shot ${median(singleMs)} ms`);
  });
});

describe('camera.warm: config, decision, wiring', () => {
  test('config: auto by default; true/false/auto from YAML and the environment; anything else is an error', () => {
    const cwd = tempDir();
    assert.equal(loadConfig({ env: {}, cwd }).config.camera.warm, 'auto');
    for (const [raw, want] of [
      ['false', false],
      ['true', true],
      ['auto', 'auto'],
      ['off', false],
      ['1', true],
    ] as const) {
      assert.equal(loadConfig({ env: { MONCAM_CAMERA_WARM: raw }, cwd }).config.camera.warm, want, raw);
    }
    fs.writeFileSync(path.join(cwd, 'moncam.yaml'), 'camera:\n  warm: false\n');
    assert.equal(loadConfig({ env: {}, cwd }).config.camera.warm, false);
    assert.throws(
      () => loadConfig({ env: { MONCAM_CAMERA_WARM: 'maybe' }, cwd }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((l) => l.startsWith('camera.warm: expected auto, true or false, got "maybe"')),
    );
  });

  test('auto: on with more than 512 MB of RAM and rpicam; off on 512 MB boards and other backends', () => {
    assert.equal(warmDecision('auto', 'rpicam', 1024 * MIB).on, true);
    assert.equal(warmDecision('auto', 'rpicam', 427 * MIB).on, false); // a Pi Zero 2 W reports about this
    assert.equal(warmDecision('auto', 'rpicam', 512 * MIB).on, false);
    assert.equal(warmDecision('auto', 'ffmpeg', 8192 * MIB).on, false);
    assert.equal(warmDecision(true, 'rpicam', 427 * MIB).on, true);
    assert.equal(warmDecision(false, 'rpicam', 8192 * MIB).on, false);
    assert.match(warmDecision('auto', 'rpicam', 427 * MIB).reason, /only 427 MiB/);
  });

  test('probeCamera: warm only for a daemon (warmProfile) and as camera.warm decides', async () => {
    const { env } = fakeEnv('ok');
    const base = { backend: 'rpicam' as const, command: FAKE_RPICAM, device: '/dev/video0', extra_args: [] };
    const deps = { logger: quietLogger(), env, searchPath: '' };
    const profile = req();
    const big = { ...deps, warmProfile: profile, totalMemBytes: 4096 * MIB };
    assert.ok((await probeCamera({ ...base, warm: 'auto' }, big)).camera instanceof WarmRpicamCamera);
    assert.ok((await probeCamera({ ...base, warm: 'auto' }, { ...big, totalMemBytes: 427 * MIB })).camera instanceof RpicamCamera);
    assert.ok((await probeCamera({ ...base, warm: false }, big)).camera instanceof RpicamCamera);
    assert.ok((await probeCamera({ ...base, warm: true }, { ...big, totalMemBytes: 427 * MIB })).camera instanceof WarmRpicamCamera);
    assert.ok((await probeCamera({ ...base, warm: true }, deps)).camera instanceof RpicamCamera, 'one-shot commands never go warm');
  });

  test('the app: the first still starts the warm program; a quality set from HA restarts it with that quality; app.stop() ends it and removes its file', async () => {
    const log = path.join(tempDir(), 'argv.jsonl');
    const saved = { log: process.env.FAKE_CAMERA_ARGV_LOG, scenario: process.env.FAKE_CAMERA_SCENARIO };
    process.env.FAKE_CAMERA_ARGV_LOG = log;
    process.env.FAKE_CAMERA_SCENARIO = 'ok';
    try {
      const config = testConfig({
        MONCAM_CAMERA_BACKEND: 'rpicam',
        MONCAM_CAMERA_COMMAND: FAKE_RPICAM,
        MONCAM_CAMERA_WARM: 'true',
        MONCAM_CAMERA_WIDTH: '320',
        MONCAM_CAMERA_HEIGHT: '240',
        MONCAM_CAMERA_SETTLE_MS: '0',
        MONCAM_SCHEDULE_ENABLED: 'false',
        MONCAM_BROKER_ENABLED: 'false',
        MONCAM_WEB_ENABLED: 'false',
      });
      const app = await createApp({ config, logger: quietLogger(), mqtt: false, web: false });
      assert.ok(app.camera instanceof WarmRpicamCamera);
      await app.start();
      try {
        assert.equal(fs.existsSync(log), false, 'start() starts no camera program');
        const first = await app.captures.capture('web');
        const second = await app.captures.capture('web');
        assert.ok(second.cameraMs < first.cameraMs, `first ${Math.round(first.cameraMs)} ms, second ${Math.round(second.cameraMs)} ms`);
        await app.settings.set({ 'camera.quality': 71 });
        await app.captures.capture('web');
        await app.captures.capture('web');
      } finally {
        const dir = (app.camera as WarmRpicamCamera).tmpDirectory;
        await app.stop();
        if (dir) assert.equal(fs.existsSync(dir), false);
      }
      const lines = fs
        .readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as FakeRun);
      const quality = (run: FakeRun) => run.argv[run.argv.indexOf('-q') + 1];
      assert.deepEqual(
        lines.map((l) => [l.argv.includes('--signal'), quality(l)]),
        [
          [true, '93'],
          [true, '71'],
        ],
        'two warm runs, one per quality; no single-shot run',
      );
      assert.ok(
        lines.every((l) => pidGone(l.pid)),
        'app.stop() stopped the warm program',
      );
    } finally {
      for (const [k, v] of [
        ['FAKE_CAMERA_ARGV_LOG', saved.log],
        ['FAKE_CAMERA_SCENARIO', saved.scenario],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
