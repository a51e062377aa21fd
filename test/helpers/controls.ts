// The settings controls (switch, selects, number) round trip, shared by the aedes and the Mosquitto suites:
// set over MQTT -> retained state -> effect in the daemon -> restart on the same data dir -> same state.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Camera, Shot, StillRequest } from '../../src/camera/types.ts';
import { Recorder, startDaemon, type Daemon } from './mqtt.ts';
import { until } from './setup.ts';

export function controlTopics(cam: string) {
  const t = (name: string) => ({ state: `moncam/${cam}/${name}`, set: `moncam/${cam}/${name}/set` });
  return { schedule: t('schedule'), interval: t('interval'), night: t('night_exposure'), quality: t('quality'), event: `moncam/${cam}/event` };
}

/** A camera that hands over a fixed JPEG and keeps every request (quality, exposure). */
export function recordingCamera(jpeg: Buffer): Camera & { requests: StillRequest[] } {
  const requests: StillRequest[] = [];
  return {
    backend: 'recording',
    description: 'test camera',
    requests,
    async capture(req: StillRequest): Promise<Shot> {
      requests.push(req);
      return { jpeg };
    },
  };
}

/** Waits until the newest message on `topic` (state topics are retained) has this payload. */
export async function expectState(sub: Recorder, topic: string, payload: string, what = topic): Promise<void> {
  await until(() => sub.last(topic)?.payload.toString() === payload, 5000, `${what} = ${payload} (last: ${sub.last(topic)?.payload.toString()})`);
}

/** A late subscriber's view of the four retained states. */
export async function retainedStates(url: string, cam: string): Promise<Record<string, string>> {
  const T = controlTopics(cam);
  const topics = [T.schedule.state, T.interval.state, T.night.state, T.quality.state];
  // First until the daemon has published them (after a restart it may still be connecting), then as retained.
  const first = await Recorder.connect(url, topics);
  try {
    for (const t of topics) await first.waitFor(t, 1, 5000);
  } finally {
    await first.close();
  }
  const late = await Recorder.connect(url, topics);
  try {
    const states: Record<string, string> = {};
    for (const t of topics) states[t.slice(t.lastIndexOf('/') + 1)] = (await late.retained(t, 5000)).payload.toString();
    return states;
  } finally {
    await late.close();
  }
}

/**
 * Sets each control over MQTT and checks its state and its effect: the scheduler's pattern and next run,
 * the quality and exposure the camera is asked for, and the overrides file.
 */
export async function expectControlsRoundTrip(sub: Recorder, daemon: Daemon, cam: string, camera: { requests: StillRequest[] }): Promise<void> {
  const T = controlTopics(cam);
  const { app } = daemon;
  const file = path.join(app.config.data_dir, 'settings.json');
  const stored = () => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { overrides: Record<string, unknown> }).overrides : {});

  // The config's own values first (schedule on, hourly, exposure unset, quality 93).
  assert.deepEqual(await retainedStates(daemon.url, cam), { schedule: 'ON', interval: 'hourly', night_exposure: 'off', quality: '93' });

  // Interval: the cron job is replaced at once.
  await sub.publish(T.interval.set, '5 min');
  await expectState(sub, T.interval.state, '5 min');
  assert.equal(app.scheduler.cron, '*/5 * * * *');
  const next = app.scheduler.nextRun()!;
  assert.ok(next.getTime() - Date.now() <= 5 * 60_000 && next.getMinutes() % 5 === 0, `next run ${next.toISOString()}`);
  assert.deepEqual(stored(), { 'schedule.cron': '*/5 * * * *' });

  // Off (interval) and the switch are the same setting.
  await sub.publish(T.interval.set, 'off');
  await expectState(sub, T.schedule.state, 'OFF');
  await expectState(sub, T.interval.state, 'off');
  assert.equal(app.scheduler.nextRun(), undefined, 'no scheduled stills while off');
  await sub.publish(T.schedule.set, 'ON');
  await expectState(sub, T.schedule.state, 'ON');
  await expectState(sub, T.interval.state, '5 min', 'the pattern is kept while off');
  assert.ok(app.scheduler.nextRun());
  await sub.publish(T.interval.set, 'daily');
  await expectState(sub, T.interval.state, 'daily');
  assert.equal(app.scheduler.nextRun()!.getHours(), 12, 'daily is at noon');

  // Quality: the next still asks the camera for it.
  await sub.publish(T.quality.set, '71');
  await expectState(sub, T.quality.state, '71');
  await app.captures.capture('web');
  assert.equal(camera.requests.at(-1)!.quality, 71);

  // Night exposure: scheduled stills only.
  await sub.publish(T.night.set, 'always');
  await expectState(sub, T.night.state, 'always');
  await app.captures.capture('schedule');
  assert.equal(camera.requests.at(-1)!.exposure, app.config.schedule.night_exposure);
  await app.captures.capture('web');
  assert.equal(camera.requests.at(-1)!.exposure, app.config.camera.exposure, 'on-demand stills keep camera.exposure');
  await sub.publish(T.night.set, 'auto');
  await expectState(sub, T.night.state, 'auto');
  assert.equal(app.settings.config.schedule.exposure, 'auto');

  assert.deepEqual(stored(), { 'schedule.cron': '0 12 * * *', 'camera.quality': 71, 'schedule.exposure': 'auto' });
}

/** Restarts the daemon on the same data dir: the states and their effects are the ones set before. */
export async function restartWithSameSettings(daemon: Daemon, camera: Camera, env: Record<string, string>, cam: string): Promise<Daemon> {
  await daemon.stop();
  const again = await startDaemon(camera, { ...env, MONCAM_DATA_DIR: daemon.app.config.data_dir });
  assert.deepEqual(await retainedStates(again.url, cam), { schedule: 'ON', interval: 'daily', night_exposure: 'auto', quality: '71' });
  assert.equal(again.app.scheduler.cron, '0 12 * * *');
  assert.equal(again.app.settings.config.camera.quality, 71);
  return again;
}
