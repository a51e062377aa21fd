// Shared scaffolding for the camera tests: paths of the fake programs, their argv log, process checks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CameraError, type CameraErrorCode, type StillRequest } from '../../src/camera/types.ts';
import { FIXTURES, tempDir } from '../helpers/setup.ts';

export const FAKE_RPICAM = path.join(FIXTURES, 'fake-rpicam-still.mjs');
export const FAKE_RASPISTILL = path.join(FIXTURES, 'fake-raspistill.mjs');
export const FAKE_FFMPEG = path.join(FIXTURES, 'fake-ffmpeg.mjs');

export interface FakeRun {
  program: string;
  argv: string[];
  pid: number;
  scenario: string;
  /** Start time (ms since the epoch). */
  t?: number;
  /** With FAKE_CAMERA_LOCK: the live process that held the camera when this run started. */
  busyWith?: number;
}

/** A temp argv log plus the environment that makes the fakes write to it. */
export function fakeEnv(scenario = 'ok', extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; runs: () => FakeRun[] } {
  const log = path.join(tempDir('moncam-fake-'), 'argv.jsonl');
  const env = { ...process.env, FAKE_CAMERA_SCENARIO: scenario, FAKE_CAMERA_ARGV_LOG: log, ...extra };
  const runs = () =>
    fs.existsSync(log)
      ? fs
          .readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as FakeRun)
      : [];
  return { env, runs };
}

export const req = (over: Partial<StillRequest> = {}): StillRequest => ({
  width: 320,
  height: 240,
  quality: 90,
  rotation: 0,
  hflip: false,
  vflip: false,
  exposure: 'normal',
  settleMs: 10,
  timeoutMs: 10_000,
  ...over,
});

/** The process is gone and reaped (a zombie would still answer signal 0). */
export function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function rejectsWithCode(p: Promise<unknown>, code: CameraErrorCode): Promise<CameraError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CameraError, `expected a CameraError, got ${String(err)}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message} [${err.detail}]`);
    return err;
  }
  assert.fail(`expected a CameraError(${code}), but it resolved`);
}
