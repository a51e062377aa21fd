// rpicam backend and the spawning code, run for real against test/fixtures/fake-rpicam-still.mjs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { validateJpeg } from '../../src/camera/jpeg.ts';
import { RpicamCamera, classifyRpicam, rpicamArgs } from '../../src/camera/rpicam.ts';
import { runCamera } from '../../src/camera/spawn.ts';
import { tempDir, until } from '../helpers/setup.ts';
import { FAKE_RPICAM, fakeEnv, pidGone, rejectsWithCode, req } from './fakes.ts';

describe('rpicamArgs', () => {
  test('explicit settle time, JPEG to stdout, size, quality, exposure', () => {
    assert.deepEqual(rpicamArgs(req({ settleMs: 1500 })), {
      args: ['-n', '-o', '-', '--encoding', 'jpg', '-t', '1500', '-q', '90', '--width', '320', '--height', '240', '--exposure', 'normal'],
    });
  });

  test('rotation: 180 goes to the tool, 90/270 never do and come back as Still.rotate', () => {
    assert.deepEqual(rpicamArgs(req({ rotation: 180 })).args.slice(-4), ['--rotation', '180', '--exposure', 'normal']);
    for (const rotation of [90, 270] as const) {
      const r = rpicamArgs(req({ rotation }));
      assert.equal(r.rotate, rotation);
      assert.ok(!r.args.includes('--rotation'), r.args.join(' '));
    }
    assert.equal(rpicamArgs(req({ rotation: 0 })).rotate, undefined);
  });

  test('night maps to long (libcamera has no night); flips, shutter, gain, extra args last', () => {
    const { args } = rpicamArgs(req({ exposure: 'night', hflip: true, vflip: true, shutterUs: 200_000, gain: 4, width: undefined, height: undefined }), [
      '--awb',
      'daylight',
    ]);
    assert.deepEqual(args, [
      '-n',
      '-o',
      '-',
      '--encoding',
      'jpg',
      '-t',
      '10',
      '-q',
      '90',
      '--hflip',
      '--vflip',
      '--exposure',
      'long',
      '--shutter',
      '200000',
      '--gain',
      '4',
      '--awb',
      'daylight',
    ]);
    assert.equal(rpicamArgs(req({ exposure: 'sport' })).args.at(-1), 'sport');
    assert.equal(rpicamArgs(req({ exposure: 'short' })).args.at(-1), 'short');
  });

  test('settle 0 is --immediate, never -t 0 (which runs forever)', () => {
    const { args } = rpicamArgs(req({ settleMs: 0 }));
    assert.deepEqual(args.slice(5, 8), ['-t', '1', '--immediate']);
  });

  test('classification uses the real messages', () => {
    assert.equal(classifyRpicam(['ERROR: *** no cameras available ***'])?.code, 'no_camera');
    assert.equal(classifyRpicam(['ERROR: the system appears to be configured for the legacy camera stack'])?.code, 'no_camera');
    assert.equal(classifyRpicam(['[0:00:01.1] [9]  INFO Camera camera.cpp:1008 Pipeline handler in use by another process'])?.code, 'busy');
    assert.equal(classifyRpicam(["ERROR: *** unrecognised option '--nope' ***"])?.code, 'config');
    assert.equal(classifyRpicam(['ERROR: *** Invalid exposure mode:night ***'])?.code, 'config');
    assert.equal(classifyRpicam(['[0:00:01.1] [9]  INFO Camera camera_manager.cpp:326 libcamera v0.5.0']), undefined);
  });
});

describe('rpicam-still against the fake', () => {
  test('ok: a valid JPEG of the requested size, the exact argv, the process reaped', async () => {
    const { env, runs } = fakeEnv('ok');
    const cam = new RpicamCamera({ program: FAKE_RPICAM, env, extraArgs: ['--awb', 'daylight'] });
    const still = await cam.capture(req());
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    assert.equal(still.rotate, undefined);
    const [run] = runs();
    assert.deepEqual(run!.argv, [
      '-n',
      '-o',
      '-',
      '--encoding',
      'jpg',
      '-t',
      '10',
      '-q',
      '90',
      '--width',
      '320',
      '--height',
      '240',
      '--exposure',
      'normal',
      '--awb',
      'daylight',
    ]);
    assert.ok(pidGone(run!.pid));
  });

  test('no camera -> no_camera with the proving stderr line and exit code 255', async () => {
    const { env } = fakeEnv('no_camera');
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req()), 'no_camera');
    assert.equal(err.detail, 'ERROR: *** no cameras available ***');
    assert.equal(err.exitCode, 255);
    assert.match(err.message, /fake-rpicam-still\.mjs: no camera found .*exit code 255/);
  });

  test('camera held by another process -> busy', async () => {
    const { env } = fakeEnv('busy');
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req()), 'busy');
    assert.match(err.detail!, /failed to acquire camera \/base\/soc/);
  });

  test('legacy camera stack enabled -> no_camera', async () => {
    const { env } = fakeEnv('legacy');
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req()), 'no_camera');
    assert.match(err.detail!, /legacy camera stack/);
  });

  test('hang -> timeout after timeoutMs; SIGTERM is enough; the process is really gone', async () => {
    const { env, runs } = fakeEnv('hang');
    const started = Date.now();
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req({ timeoutMs: 1500 })), 'timeout');
    const took = Date.now() - started;
    assert.ok(took >= 1450 && took < 4000, `took ${took} ms`);
    assert.match(err.message, /no still within 1500 ms; stopped with SIGTERM/);
    assert.equal(err.signal, 'SIGTERM');
    assert.ok(pidGone(runs()[0]!.pid));
  });

  test('hang ignoring SIGTERM -> SIGKILL after the grace time', async () => {
    const { env, runs } = fakeEnv('hang_ignore_term');
    const started = Date.now();
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env, killGraceMs: 300 }).capture(req({ timeoutMs: 1500 })), 'timeout');
    const took = Date.now() - started;
    assert.ok(took >= 1750 && took < 5000, `took ${took} ms`);
    assert.match(err.message, /stopped with SIGKILL/);
    assert.equal(err.signal, 'SIGKILL');
    assert.ok(pidGone(runs()[0]!.pid));
  });

  test('exit 0 with a cut JPEG -> corrupt', async () => {
    const { env } = fakeEnv('truncated');
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req()), 'corrupt');
    assert.match(err.message, /exited 0 but .*truncated/);
  });

  test('100 KB+ of stderr is not a failure; only a bounded tail is kept', async () => {
    const { env } = fakeEnv('huge_stderr');
    const { args } = rpicamArgs(req());
    const run = await runCamera({ program: FAKE_RPICAM, args, timeoutMs: 10_000, env, classify: classifyRpicam });
    assert.deepEqual(run.info, { width: 320, height: 240 });
    const kept = run.stderr.join('\n').length;
    assert.ok(kept <= 16 * 1024, `kept ${kept} bytes of stderr`);
    assert.equal(run.stderr.at(-1), 'Still capture image received');
  });

  test('crash by signal mid-write -> failed, signal reported, partial output discarded', async () => {
    const { env, runs } = fakeEnv('crash');
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req()), 'failed');
    assert.equal(err.signal, 'SIGSEGV');
    assert.match(err.message, /killed by SIGSEGV, \d+ bytes of output discarded/);
    assert.ok(pidGone(runs()[0]!.pid));
  });

  test('rotation 90 is never passed to the tool (it would reject it): Still.rotate is 90', async () => {
    const { env, runs } = fakeEnv('ok');
    const cam = new RpicamCamera({ program: FAKE_RPICAM, env });
    const still = await cam.capture(req({ rotation: 90 }));
    assert.equal(still.rotate, 90);
    assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    assert.equal((await cam.capture(req({ rotation: 270 }))).rotate, 270);
    for (const run of runs()) assert.ok(!run.argv.includes('--rotation'), run.argv.join(' '));
  });

  test('the fake really rejects --rotation 90 like rpicam-still (so the guard above is real)', async () => {
    const direct = spawnSync(FAKE_RPICAM, ['-n', '-o', '-', '--rotation', '90'], { encoding: 'utf8' });
    assert.equal(direct.status, 255);
    assert.equal(direct.stderr.trim().split('\n').at(-1), 'ERROR: *** illegal rotation value ***');
    const { env } = fakeEnv('ok');
    const err = await rejectsWithCode(
      runCamera({ program: FAKE_RPICAM, args: ['-n', '-o', '-', '-t', '1', '--rotation', '90'], timeoutMs: 10_000, env, classify: classifyRpicam }),
      'config',
    );
    assert.equal(err.detail, 'ERROR: *** illegal rotation value ***');
  });

  test('an option the tool does not know (extra_args) -> config', async () => {
    const { env } = fakeEnv('ok');
    const err = await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env, extraArgs: ['--colour-me-pink'] }).capture(req()), 'config');
    assert.equal(err.detail, "ERROR: *** unrecognised option '--colour-me-pink' ***");
  });

  test('missing or non-executable program -> not_installed naming it', async () => {
    const missing = path.join(tempDir(), 'rpicam-still');
    const err = await rejectsWithCode(new RpicamCamera({ program: missing }).capture(req()), 'not_installed');
    assert.match(err.message, /rpicam-still: program not found/);
    fs.writeFileSync(missing, '#!/bin/sh\n', { mode: 0o644 });
    await rejectsWithCode(new RpicamCamera({ program: missing }).capture(req()), 'not_installed');
    await rejectsWithCode(new RpicamCamera({ program: 'no-such-camera-program-xyz' }).capture(req()), 'not_installed');
  });

  test('an argument the OS cannot pass (NUL byte) -> config, not a crash', async () => {
    await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, extraArgs: ['a\u0000b'] }).capture(req()), 'config');
  });

  test('abort: the running program is killed and reaped; an aborted signal spawns nothing', async () => {
    const { env, runs } = fakeEnv('hang');
    const ac = new AbortController();
    const capture = new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req(), ac.signal);
    await until(() => runs().length === 1, 10_000, 'the program running'); // then aborted
    ac.abort();
    const err = await rejectsWithCode(capture, 'failed');
    assert.match(err.message, /aborted/);
    assert.ok(pidGone(runs()[0]!.pid));
    await rejectsWithCode(new RpicamCamera({ program: FAKE_RPICAM, env }).capture(req(), AbortSignal.abort()), 'failed');
    assert.equal(runs().length, 1);
  });

  test('output larger than maxBytes -> corrupt, program stopped', async () => {
    const { env } = fakeEnv('ok');
    const err = await rejectsWithCode(runCamera({ program: FAKE_RPICAM, args: rpicamArgs(req()).args, timeoutMs: 10_000, env, maxBytes: 100 }), 'corrupt');
    assert.match(err.message, /exceeded 100 bytes/);
  });
});

describe('Camera Module 3 options: autofocus and HDR', () => {
  test('argv: --autofocus-mode, --autofocus-on-capture, --lens-position, --hdr=MODE (implicit value: never a separate word)', () => {
    const { args } = rpicamArgs(req({ autofocusMode: 'continuous', hdr: 'sensor' }));
    assert.deepEqual(args.slice(args.indexOf('--exposure')), ['--exposure', 'normal', '--autofocus-mode', 'continuous', '--hdr=sensor']);
    const manual = rpicamArgs(req({ autofocusMode: 'manual', lensPosition: 0.5 })).args;
    assert.deepEqual(manual.slice(-4), ['--autofocus-mode', 'manual', '--lens-position', '0.5']);
    assert.deepEqual(rpicamArgs(req({ autofocusOnCapture: true, lensPosition: 0 })).args.slice(-3), ['--autofocus-on-capture', '--lens-position', '0']);
    const plain = rpicamArgs(req({ autofocusMode: 'default', hdr: 'off', autofocusOnCapture: false })).args;
    assert.ok(!plain.some((a) => a.startsWith('--autofocus') || a.startsWith('--hdr') || a === '--lens-position'), plain.join(' '));
  });

  test('the fake accepts exactly what moncam passes, on a Camera Module 3', async () => {
    const { env, runs } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx708' });
    const cam = new RpicamCamera({ program: FAKE_RPICAM, env });
    for (const over of [
      { autofocusMode: 'auto' as const, autofocusOnCapture: true },
      { autofocusMode: 'manual' as const, lensPosition: 2.5 },
      { hdr: 'auto' as const },
      { hdr: 'single-exp' as const },
    ]) {
      const still = await cam.capture(req(over));
      assert.deepEqual(validateJpeg(still.jpeg), { width: 320, height: 240 });
    }
    assert.deepEqual(
      runs().map((r) => r.argv.slice(r.argv.indexOf('normal') + 1)),
      [['--autofocus-mode', 'auto', '--autofocus-on-capture'], ['--autofocus-mode', 'manual', '--lens-position', '2.5'], ['--hdr=auto'], ['--hdr=single-exp']],
    );
  });

  test('the fake rejects what rpicam-still rejects: bad values, and `--hdr sensor` as two words', async () => {
    const { env } = fakeEnv('ok', { FAKE_CAMERA_SENSOR: 'imx708' });
    const cam = (extraArgs: string[]) => new RpicamCamera({ program: FAKE_RPICAM, env, extraArgs });
    for (const [extra, message] of [
      [['--autofocus-mode', 'sometimes'], /Invalid AfMode:sometimes/],
      [['--lens-position', 'near'], /Invalid lens position: near/],
      [['--hdr=bright'], /Invalid HDR option provided: bright/],
      [['--hdr', 'sensor'], /too many positional options/],
    ] as const) {
      const err = await rejectsWithCode(cam([...extra]).capture(req()), 'config');
      assert.match(err.detail ?? err.message, message);
    }
  });
});
