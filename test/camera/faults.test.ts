// Camera faults seen from outside a real daemon process: every fault of the camera program becomes a
// `failed` event with the right error, shows on the page's state, leaves no process behind, and the
// next capture works. Failures in a row pause captures, and the daemon says so.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ChildDaemon, FAKE_RPICAM, PASSWORD } from '../helpers/daemon.ts';
import { Recorder } from '../helpers/mqtt.ts';
import { tempDir, until } from '../helpers/setup.ts';
import { WebClient } from '../helpers/web.ts';

const EVENT = 'moncam/childcam/event';
const MIB = 1024 * 1024;

/** A daemon whose camera program is a symlink to the fake (so it can go missing) driven by a scenario file. */
class FaultRig {
  readonly dir = tempDir('moncam-faults-');
  readonly program = path.join(this.dir, 'rpicam-still');
  readonly scenarioFile = path.join(this.dir, 'scenario');
  readonly argvLog = path.join(this.dir, 'argv.jsonl');
  daemon!: ChildDaemon;
  mqtt!: Recorder;
  web!: WebClient;
  private seq = 0;

  async start(env: Record<string, string>): Promise<void> {
    fs.symlinkSync(FAKE_RPICAM, this.program);
    this.scenario('ok');
    this.daemon = await ChildDaemon.start({
      env: {
        MONCAM_CAMERA_COMMAND: this.program,
        // The hang cases wait this out; room for the fake (a Node.js program) to start on a loaded machine.
        MONCAM_CAMERA_TIMEOUT_MS: '5000',
        FAKE_CAMERA_SCENARIO_FILE: this.scenarioFile,
        FAKE_CAMERA_ARGV_LOG: this.argvLog,
        FAKE_CAMERA_STDERR_BYTES: String(MIB),
        ...env,
      },
    });
    this.mqtt = await Recorder.connect(this.daemon.mqttUrl, [EVENT]);
    this.web = new WebClient(this.daemon.webUrl);
    await this.web.login(PASSWORD);
  }

  async stop(): Promise<void> {
    await this.mqtt?.close();
    await this.daemon?.stop();
  }

  scenario(name: string): void {
    fs.writeFileSync(this.scenarioFile, name);
  }

  /** Camera program runs so far. */
  runs(): { pid: number; scenario: string }[] {
    return fs.existsSync(this.argvLog)
      ? fs
          .readFileSync(this.argvLog, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  }

  /** Sends one MQTT command with a fresh id and returns the event that answers it. */
  async command(): Promise<Record<string, unknown>> {
    const id = `req-${++this.seq}`;
    await this.mqtt.publish('moncam/capture/set', JSON.stringify({ id }));
    const [msg] = await this.mqtt.waitFor(EVENT, 1, 15_000, (m) => (JSON.parse(m.payload.toString()) as { id?: string }).id === id);
    return JSON.parse(msg!.payload.toString()) as Record<string, unknown>;
  }

  async health(): Promise<Record<string, unknown>> {
    const res = await this.web.get('/api/state');
    assert.equal(res.status, 200);
    return ((await res.json()) as { health: Record<string, unknown> }).health;
  }

  /** No child of the daemon is left: neither a running camera program nor a zombie of any kind. */
  async assertNoChildren(): Promise<void> {
    // tsx (which runs the daemon from source in tests) keeps an esbuild service child; it is not ours.
    const leftovers = () => this.daemon.children().filter((c) => c.state === 'Z' || c.cmd.includes('rpicam-still'));
    // 'close' is awaited before a capture settles, so this should hold at once; allow the kernel a moment.
    await until(() => leftovers().length === 0, 2000, 'no camera process left').catch(() => undefined);
    assert.deepEqual(leftovers(), [], 'processes left behind by the camera program');
  }
}

const FAULTS: { scenario: string; error: string; detail?: RegExp; setup?: (rig: FaultRig) => void; teardown?: (rig: FaultRig) => void }[] = [
  {
    scenario: 'program missing',
    error: 'not_installed',
    setup: (rig) => fs.unlinkSync(rig.program),
    teardown: (rig) => fs.symlinkSync(FAKE_RPICAM, rig.program),
  },
  { scenario: 'no_camera', error: 'no_camera', detail: /no cameras available/ },
  { scenario: 'busy', error: 'busy', detail: /failed to acquire camera/ },
  { scenario: 'hang', error: 'timeout' },
  { scenario: 'hang_ignore_term', error: 'timeout' },
  { scenario: 'crash', error: 'failed' },
  { scenario: 'truncated', error: 'corrupt' },
  // 1 MiB of libcamera DEBUG text before the real error: it must neither fill memory nor hide the cause.
  { scenario: 'noisy_busy', error: 'busy', detail: /failed to acquire camera/ },
];

describe('camera faults in a running daemon', () => {
  const rig = new FaultRig();
  before(() => rig.start({ MONCAM_CAMERA_BACKOFF_AFTER: '0' }));
  after(() => rig.stop());

  for (const fault of FAULTS) {
    test(`${fault.scenario} -> failed event "${fault.error}", error on the page, no process left, next capture works`, async (t) => {
      if (fault.setup) fault.setup(rig);
      else rig.scenario(fault.scenario);
      let restored = false;
      const restore = () => {
        if (!restored) fault.teardown?.(rig);
        restored = true;
        rig.scenario('ok');
      };
      t.after(restore); // healthy again for the next case even when this one failed
      const before = rig.runs().length;
      const failed = await rig.command();
      assert.equal(failed.event_type, 'failed');
      assert.equal(failed.error, fault.error, `event: ${JSON.stringify(failed)}`);
      assert.equal(typeof failed.message, 'string');
      if (fault.detail) assert.match(String(failed.detail), fault.detail);
      assert.ok(JSON.stringify(failed).length < 4096, 'the event carries a bounded stderr excerpt, not the 1 MiB');
      if (fault.error !== 'not_installed') assert.equal(rig.runs().length, before + 1, 'the camera program ran once');

      const health = await rig.health();
      assert.equal(health.ok, false);
      assert.equal((health.last_failure as { code: string }).code, fault.error, 'the page state shows the error');
      await rig.assertNoChildren();

      restore();
      const ok = await rig.command();
      assert.equal(ok.event_type, 'captured', `after ${fault.scenario}: ${JSON.stringify(ok)}`);
      assert.equal((await rig.health()).ok, true, 'a good still clears the error');
      await rig.assertNoChildren();
    });
  }

  test('1 MiB of stderr with a good still is not an error', async () => {
    rig.scenario('huge_stderr');
    const ok = await rig.command();
    assert.equal(ok.event_type, 'captured', JSON.stringify(ok));
    assert.ok(rig.daemon.rss() < 300 * MIB, `rss ${rig.daemon.rss()}`);
  });
});

describe('failures in a row pause captures', () => {
  const rig = new FaultRig();
  before(() => rig.start({ MONCAM_CAMERA_BACKOFF_AFTER: '3', MONCAM_CAMERA_BACKOFF_S: '2', MONCAM_CAMERA_BACKOFF_MAX_S: '4' }));
  after(() => rig.stop());

  test('after 3 failures the camera is left alone for the pause, the daemon says so, then tries again', async () => {
    rig.scenario('no_camera');
    for (let i = 1; i <= 3; i++) assert.equal((await rig.command()).error, 'no_camera', `failure ${i}`);
    const runs = rig.runs().length;
    assert.ok(rig.daemon.logged('3 captures failed in a row: pausing captures for 2 s'), 'the pause is logged');

    const refused = await rig.command();
    assert.equal(refused.error, 'backoff');
    assert.match(String(refused.message), /paused after 3 failures in a row \(last: no_camera: .*\); next attempt after \d{4}-/);
    assert.equal(rig.runs().length, runs, 'no camera run during the pause');
    const health = await rig.health();
    assert.equal(health.consecutive_failures, 3);
    assert.ok(Date.parse(String(health.paused_until)) > Date.now(), `paused_until ${health.paused_until}`);

    // Still broken after the pause: one attempt, then a longer pause (doubling, capped).
    await until(async () => !(await rig.health()).paused_until, 5000, 'the pause to end');
    assert.equal((await rig.command()).error, 'no_camera');
    assert.equal(rig.runs().length, runs + 1);
    assert.ok(rig.daemon.logged('4 captures failed in a row: pausing captures for 4 s'));

    // The ribbon is back: after the pause the next capture works and clears the state.
    rig.scenario('ok');
    await until(async () => !(await rig.health()).paused_until, 6000, 'the second pause to end');
    assert.equal((await rig.command()).event_type, 'captured');
    const healed = await rig.health();
    assert.equal(healed.ok, true);
    assert.equal(healed.consecutive_failures, 0);
    assert.ok(rig.daemon.logged('captures work again after 4 failure(s) in a row'));
  });
});
