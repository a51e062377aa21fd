// Night awareness (`schedule.exposure: auto`): the AutoExposure state machine, its config check, and the
// real app choosing the profile of scheduled stills from the brightness of the stills it stored.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { createApp, type App } from '../../src/app.ts';
import type { Camera, Shot, StillRequest } from '../../src/camera/types.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { AutoExposure } from '../../src/schedule/exposure.ts';
import { moncam } from '../helpers/cli.ts';
import { ChildDaemon } from '../helpers/daemon.ts';
import { memoryLogger, quietLogger, tempDir, testConfig, until } from '../helpers/setup.ts';

const AUTO = { MONCAM_SCHEDULE_EXPOSURE: 'auto' };

function auto(env: Record<string, string> = {}) {
  const log = memoryLogger();
  const exposure = new AutoExposure({ config: testConfig({ ...AUTO, ...env }), logger: log.logger });
  const switches = () => log.lines().filter((l) => /^it got (dark|light)/.test(String(l.msg)));
  return { exposure, switches };
}

describe('AutoExposure', () => {
  test('starts in day mode with camera.exposure', () => {
    const { exposure } = auto({ MONCAM_CAMERA_EXPOSURE: 'sport' });
    assert.equal(exposure.mode, 'day');
    assert.equal(exposure.exposure, 'sport');
  });

  test('a day-profile still darker than night_below switches to night_exposure; at night_below it does not', () => {
    const { exposure, switches } = auto();
    exposure.observe({ exposure: 'normal', brightness: 12 });
    assert.equal(exposure.mode, 'day', 'exactly night_below is not darker');
    assert.equal(switches().length, 0);
    exposure.observe({ exposure: 'normal', brightness: 11.9 });
    assert.equal(exposure.mode, 'night');
    assert.equal(exposure.exposure, 'long', 'night_exposure defaults to long');
    const [line] = switches();
    assert.match(String(line!.msg), /^it got dark \(brightness 11\.9 %\): scheduled stills now use exposure long$/);
    assert.equal(line!.brightness, 11.9);
    assert.equal(line!.exposure, 'long');
    assert.equal(line!.level, 30, 'info');
  });

  test('stays night while a night still is up to day_above; a brighter one switches back to the day profile', () => {
    const { exposure, switches } = auto({ MONCAM_SCHEDULE_NIGHT_EXPOSURE: 'night' });
    exposure.observe({ exposure: 'normal', brightness: 3 });
    assert.equal(exposure.exposure, 'night');
    for (const brightness of [5, 12, 30, 45]) {
      exposure.observe({ exposure: 'night', brightness });
      assert.equal(exposure.mode, 'night', `a night still of ${brightness} % keeps night (hysteresis)`);
    }
    assert.equal(switches().length, 1, 'no line while the mode stays');
    exposure.observe({ exposure: 'night', brightness: 45.1 });
    assert.equal(exposure.mode, 'day');
    assert.equal(exposure.exposure, 'normal');
    assert.equal(switches().length, 2);
    assert.match(String(switches()[1]!.msg), /^it got light \(brightness 45\.1 %\): scheduled stills now use exposure normal$/);
  });

  test('custom thresholds are honoured', () => {
    const { exposure } = auto({ MONCAM_SCHEDULE_NIGHT_BELOW: '30', MONCAM_SCHEDULE_DAY_ABOVE: '60' });
    exposure.observe({ exposure: 'normal', brightness: 29 });
    assert.equal(exposure.mode, 'night');
    exposure.observe({ exposure: 'long', brightness: 59 });
    assert.equal(exposure.mode, 'night');
    exposure.observe({ exposure: 'long', brightness: 61 });
    assert.equal(exposure.mode, 'day');
  });

  test('ignores stills of other profiles, manual stills, and missing or non-numeric brightness', () => {
    const { exposure, switches } = auto();
    exposure.observe({ exposure: 'sport', brightness: 1 });
    exposure.observe({ exposure: 'short', brightness: 0 });
    exposure.observe({ exposure: 'normal', brightness: 1, manual: true });
    exposure.observe({ exposure: 'normal' });
    exposure.observe({ exposure: 'normal', brightness: Number.NaN });
    exposure.observe({ exposure: 'normal', brightness: '3' });
    exposure.observe({ exposure: undefined, brightness: 1 });
    exposure.observe({});
    assert.equal(exposure.mode, 'day');
    // Now at night: the same kinds of stills, however bright, do not switch back.
    exposure.observe({ exposure: 'normal', brightness: 2 });
    assert.equal(exposure.mode, 'night');
    exposure.observe({ exposure: 'sport', brightness: 99 });
    exposure.observe({ exposure: 'long', brightness: 99, manual: true });
    exposure.observe({ exposure: 'long', brightness: null });
    exposure.observe({ exposure: 'long', brightness: Number.POSITIVE_INFINITY });
    assert.equal(exposure.mode, 'night');
    assert.equal(switches().length, 1);
  });

  test('night_exposure equal to camera.exposure: nothing to switch', () => {
    const { exposure, switches } = auto({ MONCAM_SCHEDULE_NIGHT_EXPOSURE: 'normal' });
    exposure.observe({ exposure: 'normal', brightness: 0 });
    assert.equal(exposure.mode, 'day');
    assert.equal(switches().length, 0);
  });
});

describe('config: schedule.exposure auto', () => {
  function problems(env: Record<string, string>): string[] {
    try {
      loadConfig({ env, cwd: tempDir() });
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems;
    }
    return [];
  }

  test('defaults: night_exposure long, night_below 12, day_above 45', () => {
    const { schedule, scene } = testConfig(AUTO);
    assert.equal(schedule.exposure, 'auto');
    assert.equal(schedule.night_exposure, 'long');
    assert.equal(schedule.night_below, 12);
    assert.equal(schedule.day_above, 45);
    assert.equal(scene.change_threshold, 5);
  });

  test('day_above must be above night_below with auto (equal or crossed is an error); without auto it is not checked', () => {
    assert.deepEqual(problems({ ...AUTO, MONCAM_SCHEDULE_NIGHT_BELOW: '20', MONCAM_SCHEDULE_DAY_ABOVE: '20' }), [
      'schedule.day_above: must be above schedule.night_below (20), got 20 (from MONCAM_SCHEDULE_DAY_ABOVE)',
    ]);
    assert.deepEqual(problems({ ...AUTO, MONCAM_SCHEDULE_DAY_ABOVE: '10' }), [
      'schedule.day_above: must be above schedule.night_below (12), got 10 (from MONCAM_SCHEDULE_DAY_ABOVE)',
    ]);
    assert.deepEqual(problems({ ...AUTO, MONCAM_SCHEDULE_DAY_ABOVE: '12.5' }), []);
    assert.deepEqual(problems({ MONCAM_SCHEDULE_EXPOSURE: 'long', MONCAM_SCHEDULE_DAY_ABOVE: '10' }), []);
    assert.deepEqual(problems({ MONCAM_SCHEDULE_DAY_ABOVE: '10' }), []);
    assert.match(problems({ MONCAM_SCHEDULE_EXPOSURE: 'dusk' })[0]!, /^schedule\.exposure: /);
    assert.match(problems({ ...AUTO, MONCAM_SCHEDULE_NIGHT_EXPOSURE: 'auto' })[0]!, /^schedule\.night_exposure: /);
    assert.match(problems({ ...AUTO, MONCAM_SCHEDULE_NIGHT_BELOW: '101' })[0]!, /^schedule\.night_below: /);
  });

  test('the CLI exits 2 with that line', async () => {
    const cwd = tempDir();
    const run = await moncam(['config'], { cwd, env: { MONCAM_SCHEDULE_EXPOSURE: 'auto', MONCAM_SCHEDULE_DAY_ABOVE: '5' } });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^moncam: bad configuration: schedule\.day_above: must be above schedule\.night_below \(12\), got 5 \(from MONCAM_SCHEDULE_DAY_ABOVE\)\n$/,
    );
  });
});

// --- the real app ---

/** Uniform grey JPEGs: brightness ≈ level / 255. */
const grey = (level: number) =>
  sharp({ create: { width: 640, height: 480, channels: 3, background: { r: level, g: level, b: level } } })
    .jpeg({ quality: 85 })
    .toBuffer();
const DARK = 20; // ≈ 8 %: below night_below (12)
const MID = 95; // ≈ 37 %: between the thresholds
const BRIGHT = 190; // ≈ 75 %: above day_above (45)

/** A camera whose next still the test chooses; records the profile each still was asked for. */
class LightCamera implements Camera {
  readonly backend = 'light';
  readonly description = 'test camera with controllable light';
  readonly requests: StillRequest[] = [];
  next!: Buffer;
  async capture(req: StillRequest): Promise<Shot> {
    this.requests.push(req);
    return { jpeg: this.next };
  }
  get lastExposure(): string | undefined {
    return this.requests.at(-1)?.exposure;
  }
}

async function startApp(camera: Camera, dataDir: string, env: Record<string, string> = {}): Promise<App> {
  const config = testConfig({ ...AUTO, MONCAM_SCHEDULE_ENABLED: 'false', MONCAM_BROKER_ENABLED: 'false', MONCAM_WEB_ENABLED: 'false', ...env }, dataDir);
  const app = await createApp({ config, logger: quietLogger(), camera, timelapseTiming: { catchUpDelayMs: 60_000 } });
  await app.start();
  return app;
}

describe('auto exposure in the app', () => {
  test('scheduled stills go long after a dark still and back after a bright long still; web and MQTT stills keep camera.exposure', async () => {
    const [dark, mid, bright] = await Promise.all([grey(DARK), grey(MID), grey(BRIGHT)]);
    const camera = new LightCamera();
    const app = await startApp(camera, tempDir());
    try {
      const shot = async (jpeg: Buffer, trigger: 'schedule' | 'web' | 'mqtt' | 'visit', options = {}) => {
        camera.next = jpeg;
        const record = await app.captures.capture(trigger, options);
        return { asked: camera.lastExposure, record };
      };
      assert.equal((await shot(bright, 'schedule')).asked, 'normal');
      assert.equal(app.autoExposure?.mode, 'day');

      const first = await shot(dark, 'schedule');
      assert.equal(first.asked, 'normal', 'taken before the dark was seen');
      assert.ok(first.record.scene.brightness < 12, `dark still ${first.record.scene.brightness} %`);
      assert.equal(app.autoExposure?.mode, 'night');
      const meta = await app.store.readMeta(first.record.capture.id);
      assert.equal(meta?.exposure, 'normal');
      assert.equal(meta?.brightness, first.record.scene.brightness);

      const night = await shot(mid, 'schedule');
      assert.equal(night.asked, 'long', 'the next scheduled still is long');
      assert.equal(night.record.capture.meta.exposure, 'long');
      assert.equal((await app.store.readMeta(night.record.capture.id))?.exposure, 'long');
      assert.ok(night.record.scene.brightness > 12 && night.record.scene.brightness <= 45);
      assert.equal(app.autoExposure?.mode, 'night', 'a long still between the thresholds keeps night');

      // On-demand stills use camera.exposure whatever the mode; dark ones keep it night.
      assert.equal((await shot(dark, 'web')).asked, 'normal');
      assert.equal((await shot(dark, 'mqtt')).asked, 'normal');
      assert.equal((await shot(dark, 'visit')).asked, 'normal');
      assert.equal(app.autoExposure?.mode, 'night');
      // An explicit profile wins, and says nothing about the light.
      assert.equal((await shot(bright, 'mqtt', { exposure: 'sport' })).asked, 'sport');
      assert.equal(app.autoExposure?.mode, 'night');
      // A manual shutter on the day profile is ignored too.
      const manual = await shot(bright, 'mqtt', { shutterUs: 10_000 });
      assert.equal(manual.record.capture.meta.manual, true);
      assert.equal((await app.store.readMeta(manual.record.capture.id))?.manual, true);
      assert.equal(app.autoExposure?.mode, 'night');

      assert.equal((await shot(bright, 'schedule')).asked, 'long');
      assert.equal(app.autoExposure?.mode, 'day', 'a bright long still switches back');
      assert.equal((await shot(bright, 'schedule')).asked, 'normal');
    } finally {
      await app.stop();
    }
  });

  test('a fixed schedule.exposure is used as is, whatever the light', async () => {
    const camera = new LightCamera();
    camera.next = await grey(DARK);
    const app = await startApp(camera, tempDir(), { MONCAM_SCHEDULE_EXPOSURE: 'night' });
    try {
      // AutoExposure is always there (HA may switch to auto); with a fixed profile it is not consulted.
      assert.equal(app.settings.config.schedule.exposure, 'night');
      for (let i = 0; i < 2; i++) await app.captures.capture('schedule');
      await app.captures.capture('web');
      assert.deepEqual(
        camera.requests.map((r) => r.exposure),
        ['night', 'night', 'normal'],
      );
    } finally {
      await app.stop();
    }
  });

  test('switched from Home Assistant: off -> auto follows the light at once, always -> the night profile, off -> camera.exposure', async () => {
    const [dark, bright] = await Promise.all([grey(DARK), grey(BRIGHT)]);
    const camera = new LightCamera();
    const app = await startApp(camera, tempDir(), { MONCAM_SCHEDULE_EXPOSURE: 'normal' });
    try {
      camera.next = dark;
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'normal');
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'normal', 'a fixed profile, however dark');
      await app.settings.set({ 'schedule.exposure': 'auto' });
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'long', 'auto knows it is dark from the stills taken before');
      camera.next = bright;
      await app.captures.capture('schedule'); // a bright long still...
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'normal', '...and auto follows the light back');
      await app.settings.set({ 'schedule.exposure': 'long' });
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'long', 'always: the night profile in daylight too');
      await app.settings.set({ 'schedule.exposure': null });
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'normal');
    } finally {
      await app.stop();
    }
  });

  test('after a restart the mode comes from the latest still', async () => {
    const [dark, bright] = await Promise.all([grey(DARK), grey(BRIGHT)]);
    const dataDir = tempDir();
    const camera = new LightCamera();
    let app = await startApp(camera, dataDir);
    try {
      camera.next = dark;
      await app.captures.capture('schedule');
      assert.equal(app.autoExposure?.mode, 'night');
    } finally {
      await app.stop();
    }

    app = await startApp(camera, dataDir);
    try {
      assert.equal(app.autoExposure?.mode, 'night', 'restored from the stored dark still');
      camera.next = bright;
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'long');
      assert.equal(app.autoExposure?.mode, 'day');
    } finally {
      await app.stop();
    }

    app = await startApp(camera, dataDir);
    try {
      assert.equal(app.autoExposure?.mode, 'day', 'the latest still (bright, long) says day');
      camera.next = bright;
      await app.captures.capture('schedule');
      assert.equal(camera.lastExposure, 'normal');
    } finally {
      await app.stop();
    }

    // A restart with a still whose metadata has no brightness (an older version) starts in day mode.
    const older = tempDir();
    app = await startApp(camera, older);
    camera.next = dark;
    const record = await app.captures.capture('schedule');
    await app.stop();
    const metaPath = record.capture.files.meta;
    const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
    delete meta.brightness;
    fs.writeFileSync(metaPath, JSON.stringify(meta));
    app = await startApp(camera, older);
    try {
      assert.equal(app.autoExposure?.mode, 'day');
    } finally {
      await app.stop();
    }
  });
});

describe('auto exposure in `moncam run` with the fake rpicam-still', () => {
  test('a dark scheduled still makes the next one `--exposure long`; a bright long still brings back `normal`', async () => {
    const dir = tempDir();
    const jpegFile = path.join(dir, 'scene.jpg');
    const argvLog = path.join(dir, 'argv.log');
    fs.writeFileSync(jpegFile, await grey(DARK));
    const daemon = await ChildDaemon.start({
      env: {
        ...AUTO,
        MONCAM_SCHEDULE_ENABLED: 'true',
        MONCAM_SCHEDULE_CRON: '* * * * * *',
        MONCAM_BROKER_ENABLED: 'false',
        FAKE_CAMERA_JPEG: jpegFile,
        FAKE_CAMERA_ARGV_LOG: argvLog,
      },
    });
    const exposures = () =>
      (fs.existsSync(argvLog) ? fs.readFileSync(argvLog, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { argv: string[] })
        .filter((r) => r.argv.includes('-o'))
        .map((r) => r.argv[r.argv.indexOf('--exposure') + 1]);
    try {
      await until(() => exposures().includes('long'), 20_000, 'a run with --exposure long');
      const seen = exposures();
      assert.equal(seen[0], 'normal', 'the first scheduled still uses the day profile');
      assert.ok(daemon.logged(/^it got dark/), 'the switch is logged');
      // Morning: the scene is bright; the first bright long still switches back.
      fs.writeFileSync(jpegFile, await grey(BRIGHT));
      const n = exposures().length;
      await until(() => exposures().slice(n).includes('normal'), 20_000, 'a run with --exposure normal again');
      assert.ok(daemon.logged(/^it got light/));
      const after = exposures().slice(n);
      assert.equal(after.at(-1), 'normal');
    } finally {
      const exit = await daemon.stop();
      assert.equal(exit.code, 0);
    }
  });
});
