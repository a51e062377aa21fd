import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isTempName } from '../../src/storage/atomic.ts';
import { parseFileName } from '../../src/storage/layout.ts';
import { expectedFiles, listTree, makeStore, tempDir } from './helpers.ts';

const script = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Resolves once the child has saved its first capture; rejects if it dies first. */
function ready(child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      // After the first save: on a loaded machine a save can take longer than the random wait below.
      if (out.includes('saved\n')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`crash child exited early (${code ?? signal}): ${stderr}`)));
  });
}

describe('crash safety', () => {
  test('SIGKILL at random moments leaves only complete captures, and start() cleans up', { timeout: 60_000 }, async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);

    for (let run = 0; run < 5; run++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(run)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = once(child, 'exit');
      await ready(child);
      await delay(20 + Math.random() * 180);
      assert.equal(child.exitCode, null, 'child still saving when killed');
      child.kill('SIGKILL');
      const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      assert.equal(signal, 'SIGKILL');
    }

    const leftovers = (await listTree(dir)).filter((f) => isTempName(path.basename(f)));
    t.diagnostic(`temp files left by the last kill: ${leftovers.length}`);

    const store = makeStore(dir);
    await store.start();

    const files = await listTree(dir);
    assert.deepEqual(
      files.filter((f) => path.basename(f).startsWith('.')),
      [],
      'no temp files after start()',
    );

    const listed = new Set<string>();
    for (const day of await store.listDays()) {
      for (const cap of await store.listDay(day)) {
        listed.add(cap.id);
        const want = expectedFiles(cap.id);
        const original = await fsp.readFile(cap.files.original);
        assert.equal(original.length, want.original.length, `${cap.id}: original complete`);
        assert.ok(original.equals(want.original), `${cap.id}: original bytes`);
        assert.ok((await fsp.readFile(cap.files.thumb)).equals(want.thumb), `${cap.id}: thumb`);
        assert.ok((await fsp.readFile(cap.files.preview)).equals(want.preview), `${cap.id}: preview`);
        const meta = JSON.parse(await fsp.readFile(cap.files.meta, 'utf8')) as Record<string, unknown>;
        assert.equal(meta.id, cap.id);
        assert.equal(cap.bytes, want.original.length);
      }
    }
    // Every file on disk belongs to a listed capture: no orphans survive start().
    for (const f of files) {
      const parsed = parseFileName(path.basename(f));
      assert.ok(parsed && listed.has(parsed.id), `stray file ${f}`);
    }
    assert.ok(listed.size >= 5, `captures committed across 5 runs: ${listed.size}`);
    assert.equal(store.latest()?.id, [...listed].sort().at(-1));
    t.diagnostic(`complete captures: ${listed.size}`);
  });
});
