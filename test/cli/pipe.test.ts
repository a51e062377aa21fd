// `moncam capture --out - | cat > x.jpg`: the whole still must reach the other end of a real pipe.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, TSX } from '../helpers/cli.ts';
import { FAKE_RPICAM } from '../helpers/daemon.ts';
import { CLOCK_ENV, FIXTURES, tempDir } from '../helpers/setup.ts';

test('capture --out - through a shell pipe to cat delivers the whole 8 MP still', async () => {
  const cwd = tempDir();
  const fixture = path.join(FIXTURES, 'garden-8mp.jpg');
  const out = path.join(cwd, 'x.jpg');
  // A real shell pipeline, as a user types it: node's stdout is a pipe, not a file.
  const cmd = `"${process.execPath}" --import "${TSX}" "${BIN}" capture --out - | cat > "${out}"`;
  const child = spawn('/bin/sh', ['-c', cmd], {
    cwd,
    env: {
      ...CLOCK_ENV,
      PATH: process.env.PATH,
      HOME: cwd,
      MONCAM_CAMERA_ID: 'pipetest',
      MONCAM_CAMERA_BACKEND: 'rpicam',
      MONCAM_CAMERA_COMMAND: FAKE_RPICAM,
      MONCAM_CAMERA_WIDTH: '3280',
      MONCAM_CAMERA_HEIGHT: '2464',
      MONCAM_CAMERA_SETTLE_MS: '0',
      MONCAM_CAMERA_WARM: 'false',
      FAKE_CAMERA_JPEG: fixture,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  const got = fs.readFileSync(out);
  const want = fs.readFileSync(fixture);
  assert.ok(want.length > 3_000_000, 'the fixture is a multi-MB still');
  assert.equal(got.length, want.length, `bytes through the pipe (stderr: ${stderr})`);
  assert.ok(got.equals(want), 'the original, byte for byte');
});
