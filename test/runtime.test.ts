// moncam applies its own memory settings however it is started (src/runtime.ts, src/reexec.ts, bin.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MALLOC_ENV, reexecEnv, reexecNodeArgs, releaseMemory } from '../src/runtime.ts';
import { BIN, TSX } from './helpers/cli.ts';
import { setPassword } from '../src/auth/password.ts';
import { CLOCK_ENV, freePort, tempDir, until } from './helpers/setup.ts';

const environOf = (pid: number) =>
  Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const childrenOf = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

test('reexecEnv: nothing to do when both allocator settings are there; a user value is kept', () => {
  assert.equal(reexecEnv({ ...MALLOC_ENV }), undefined);
  assert.deepEqual(reexecEnv({ PATH: '/bin' }), { PATH: '/bin', ...MALLOC_ENV });
  assert.deepEqual(reexecEnv({ MALLOC_ARENA_MAX: '4' }), { MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: MALLOC_ENV.MALLOC_MMAP_THRESHOLD_ });
});

test('reexecNodeArgs: each V8 flag is added unless the user gave it; other node arguments are kept', () => {
  const all = ['--max-semi-space-size=2', '--no-concurrent-recompilation'];
  assert.deepEqual(reexecNodeArgs([]), all);
  assert.deepEqual(reexecNodeArgs(['--import', 'tsx']), [...all, '--import', 'tsx']);
  assert.deepEqual(reexecNodeArgs(['--max-semi-space-size=8']), ['--no-concurrent-recompilation', '--max-semi-space-size=8']);
});

test('releaseMemory: Buffers nobody references any more are freed without --expose-gc on the command line', async () => {
  let pieces: Buffer[] | undefined = Array.from({ length: 256 }, () => Buffer.alloc(128 * 1024, 1)); // 32 MB
  // Kept across ticks, as a still's buffers are, so they are no longer young.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pieces.length, 256);
  pieces = undefined;
  const before = process.memoryUsage().arrayBuffers;
  await releaseMemory();
  // V8 frees array buffer memory on a background thread after the collection: allow it a moment.
  const t0 = Date.now();
  while (before - process.memoryUsage().arrayBuffers < 30e6 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
  const after = process.memoryUsage().arrayBuffers;
  assert.ok(before - after >= 30e6, `arrayBuffers ${before} -> ${after}`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', "gc is not exposed to moncam's own code");
});

test('the shebang of bin.ts carries the allocator settings and the semi-space flag', () => {
  const first = fs.readFileSync(BIN, 'utf8').split('\n')[0]!;
  assert.match(first, /^#!\/usr\/bin\/env -S /);
  for (const [k, v] of Object.entries(MALLOC_ENV)) assert.ok(first.includes(`${k}=${v}`), first);
  assert.ok(first.endsWith(' node --max-semi-space-size=2 --no-concurrent-recompilation'), first);
});

function start(args: string[], env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], {
    cwd,
    env: { ...CLOCK_ENV, PATH: process.env.PATH!, HOME: cwd, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c) => (stderr += c));
  child.stdout.on('data', (c) => (stdout += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, exited, out: () => ({ stdout, stderr }) };
}

test('without the settings (node dist/bin.js): exit codes and output pass through the re-run', async () => {
  const dir = tempDir('moncam-runtime-');
  const bad = start(['no-such-command'], {}, dir);
  assert.deepEqual(await bad.exited, { code: 2, signal: null });
  assert.match(bad.out().stderr, /unknown command "no-such-command"/);
  const version = start(['--version'], {}, dir);
  assert.deepEqual(await version.exited, { code: 0, signal: null });
  assert.match(version.out().stdout, /^\d+\.\d+\.\d+/);
});

test('without the settings: the daemon runs as a child with them; SIGTERM to the parent stops it cleanly; a killed parent takes the child along', async () => {
  const dir = tempDir('moncam-runtime-');
  await setPassword(path.join(dir, 'private', 'pass_user'), 'correct horse battery staple');
  const env = {
    MONCAM_DATA_DIR: dir,
    MONCAM_CAMERA_BACKEND: 'synthetic',
    MONCAM_SCHEDULE_ENABLED: 'false',
    MONCAM_BROKER_ENABLED: 'false',
    MONCAM_WEB_HOST: '127.0.0.1',
    MONCAM_WEB_PORT: String(await freePort()),
  };
  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    const d = start(['run'], env, dir);
    // The signal handlers are in place before the banner (stdout) is written: see src/cli/run.ts.
    await until(() => d.out().stdout.includes('Change the password') || d.child.exitCode !== null, 20_000, 'moncam started');
    assert.ok(d.out().stderr.includes('"msg":"moncam started"'), d.out().stderr);
    const [child] = childrenOf(d.child.pid!);
    assert.ok(child, 'a re-run child');
    const childEnv = environOf(child);
    for (const [k, v] of Object.entries(MALLOC_ENV)) assert.equal(childEnv[k], v);
    assert.equal(environOf(d.child.pid!).MALLOC_ARENA_MAX, undefined);
    // V8 sizes the young generation at start: the flag must be on the child's command line.
    const cmdline = fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
    assert.ok(
      ['--max-semi-space-size=2', '--no-concurrent-recompilation'].every((f) => cmdline.includes(f)),
      cmdline.join(' '),
    );
    d.child.kill(how);
    const exit = await d.exited;
    if (how === 'SIGTERM') {
      assert.deepEqual(exit, { code: 0, signal: null }, d.out().stderr);
      assert.match(d.out().stderr, /"msg":"moncam stopped"/);
    } else {
      // The orphan notices within a second and stops itself.
      await until(
        () => !fs.existsSync(`/proc/${child}`) || fs.readFileSync(`/proc/${child}/stat`, 'utf8').split(' ')[2] === 'Z',
        10_000,
        'orphaned child gone',
      );
    }
  }
});
