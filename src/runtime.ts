// Memory settings moncam applies to itself, so `moncam run` from a shell, `npm start` and the systemd unit
// behave alike (measured by `npm run bench`, see docs/memory.md). Runs before anything else is imported.
import v8 from 'node:v8';
import vm from 'node:vm';

/** libvips worker threads: one per still is enough on a Pi, and each extra thread costs a malloc arena. */
export const SHARP_CONCURRENCY = 1;
/** libuv's pool (file reads, argon2, sharp's async entry points): the default 4 threads are not needed. */
export const UV_THREADPOOL_SIZE = '2';

/**
 * Node and libuv settings that must be in place before first use: the libuv pool reads UV_THREADPOOL_SIZE
 * when its first job is queued, and V8 resizes the young generation to the semi-space flag as it grows.
 */
export function applyEarlySettings(env: NodeJS.ProcessEnv): void {
  env.UV_THREADPOOL_SIZE ??= UV_THREADPOOL_SIZE;
  // A 2 MB semi-space (default 16 MB) keeps the young generation small; scavenges stay cheap at this size.
  // Only a fallback: V8 sizes the young generation at start, so NODE_FLAGS is what takes effect.
  v8.setFlagsFromString('--max-semi-space-size=2');
  // Until startupSettled(): V8's memory reducer hands back the heap pages that start-up freed only once the
  // allocation rate is low; with the CPU busy that came after the 10 s mark (idle 80-81 MB in 5 of 6 loaded
  // runs, 74-75 MB quiet). In this mode it shrinks the heap at once (75 MB, loaded or quiet). The heap reads
  // the flag as it runs, so it works from here and needs no room in the shebang (127 bytes before Linux 5.1).
  v8.setFlagsFromString('--optimize-for-size');
}

/** How long the daemon keeps V8's memory-saving mode after start: the reducer is done well within this. */
export const STARTUP_SETTLE_MS = 30_000;

/**
 * Back to V8's defaults once start-up memory is handed back: kept on, the memory-saving mode costs ~14 % of
 * the thumbnail requests/s for no further gain at idle (docs/memory.md).
 */
export function startupSettled(): void {
  v8.setFlagsFromString('--no-optimize-for-size');
}

/**
 * glibc reads these once, when malloc starts, so they cannot be set from inside: two arenas instead of eight
 * per core, and large buffers (decoded stills) always from mmap so that freeing them returns the memory.
 * Measured on 20 stills of 12 MP: peak RSS 165 MB with them, 235-290 MB without (docs/memory.md).
 */
export const MALLOC_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' } as const;

/**
 * V8 flags that only work on the command line: `v8.setFlagsFromString` cannot shrink a young generation that
 * is already set up (measured: 17 MB of new space at idle without the flag, 0.3 MB with it). The shebang and
 * the unit pass them; the re-run adds them unless the user gave their own value.
 * `--no-concurrent-recompilation`: V8 optimises hot functions on the main thread instead of a compiler thread,
 * whose malloc arena otherwise keeps ~6-8 MB of compiler memory for good (measured: idle 78-87 -> 72 MB, the
 * same anonymous memory as turning the optimiser off, and no loss of thumbnail requests/s; `--no-opt` or
 * `--lite-mode` save 4 MB more, for ~30 % fewer requests/s, and lite mode turns WebAssembly off).
 */
export const NODE_FLAGS = ['--max-semi-space-size=2', '--no-concurrent-recompilation'] as const;

/** Node's arguments for the re-run child: the parent's, plus each of NODE_FLAGS not already given. */
export function reexecNodeArgs(execArgv: readonly string[]): string[] {
  const missing = NODE_FLAGS.filter((f) => !execArgv.some((a) => a.split('=')[0] === f.split('=')[0]));
  return [...missing, ...execArgv];
}

/** The environment to re-run moncam with, or undefined when the allocator settings are already in place. */
export function reexecEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
  if (Object.keys(MALLOC_ENV).every((k) => env[k] !== undefined)) return undefined;
  return { ...MALLOC_ENV, ...env };
}

type GcFunction = (options: { type: 'major'; execution: 'async' }) => Promise<void>;
let gcFunction: GcFunction | undefined;

/**
 * A full garbage collection, started now and run as a task of its own (the event loop is not held up), after
 * each still. A still leaves ~15-25 MB of Buffers behind (the camera's output in 64 KB pieces, the original,
 * raw pixels); kept alive for a few ticks they reach V8's old generation, and V8 frees external memory like
 * this only after ~64 MB more of it, so without this the daemon peaked 40-50 MB higher with the page under
 * load. Costs one major GC (~20 ms here on a ~25 MB heap) per still. `--expose-gc` set from inside takes
 * effect for contexts made afterwards, hence the new context (docs/memory.md).
 */
export function releaseMemory(): Promise<void> {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as GcFunction;
  }
  return gcFunction({ type: 'major', execution: 'async' });
}
