// The emulated run itself (6 min) is `npm run check:arm` in .ci/run; these are its refusals.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/setup.ts';

const SCRIPT = path.join(import.meta.dirname, '..', '..', 'scripts', 'check-arm.mjs');

describe('check-arm', () => {
  it('says what to install when qemu and the ARM libraries cannot be found', () => {
    // A PATH without qemu-*-static (node itself is started by its full path).
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { PATH: tempDir('moncam-nopath-') } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot emulate ARM here; missing:/);
    assert.match(r.stderr, /arm64: qemu-aarch64-static \(apt-get install qemu-user-static\)/);
    assert.match(r.stderr, /armv7l: qemu-arm-static \(apt-get install qemu-user-static\)/);
  });

  it('refuses an unknown --arch', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--arch', 'armv6l'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown --arch armv6l \(arm64, armv7l\)/);
  });
});
