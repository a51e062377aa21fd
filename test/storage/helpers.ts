// Shared by the storage tests and the crash child: temp dirs, a silent logger, deterministic capture bytes.
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { nodeFs, type StorageFs } from '../../src/storage/atomic.ts';
import { CaptureStore, type CaptureStoreOptions, type RecordedMeta, type SaveInput } from '../../src/storage/store.ts';
import { tempDir as makeTempDir } from '../helpers/setup.ts';

export const silentLogger = () => pino({ level: 'silent' });

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = makeTempDir('moncam-storage-'); // also removed when the test file's process exits
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

export function makeStore(dir: string, opts: Partial<CaptureStoreOptions> = {}): CaptureStore {
  return new CaptureStore({ dir, timeZone: 'UTC', retentionDays: 0, maxBytes: 0, logger: silentLogger(), ...opts });
}

/** Content that depends only on the id, so a reader can check every byte without knowing the writer's state. */
export function expectedFiles(id: string, originalSize?: number): { original: Buffer; thumb: Buffer; preview: Buffer } {
  const h = createHash('sha256').update(id).digest();
  const size = originalSize ?? 1_000_000 + (h.readUInt32BE(0) % 2_000_000);
  const original = Buffer.alloc(size, `orig:${id}|`);
  // A JPEG-looking frame so nothing downstream mistakes it for something else.
  original[0] = 0xff;
  original[1] = 0xd8;
  original[size - 2] = 0xff;
  original[size - 1] = 0xd9;
  return {
    original,
    thumb: Buffer.alloc(2000 + (h.readUInt16BE(4) % 3000), `thumb:${id}|`),
    preview: Buffer.alloc(8000 + (h.readUInt16BE(6) % 8000), `preview:${id}|`),
  };
}

/** What a capture records with a still (the caller's part of a save), with `over` changed. */
export function recorded(over: Partial<RecordedMeta> = {}): RecordedMeta {
  return {
    trigger: 'schedule',
    requests: [{ trigger: over.trigger ?? 'schedule' }],
    camera: 'synthetic',
    width: 1280,
    height: 960,
    full_width: 3280,
    full_height: 2464,
    thumb_width: 480,
    thumb_height: 360,
    exposure: 'normal',
    brightness: 42,
    ...over,
  };
}

/** A save input whose bytes are `expectedFiles(captureId(at))`. */
export function input(at: Date, id: string, originalSize?: number, meta: RecordedMeta = recorded()): SaveInput {
  return { capturedAt: at, ...expectedFiles(id, originalSize), meta };
}

/** Records every path the store reads a directory or stats, for "only this folder" assertions. */
export function spyFs(base: StorageFs = nodeFs): { fs: StorageFs; readdirs: string[]; stats: string[]; reset: () => void } {
  const readdirs: string[] = [];
  const stats: string[] = [];
  const fs: StorageFs = {
    ...base,
    readdir: (p) => {
      readdirs.push(p);
      return base.readdir(p);
    },
    stat: (p) => {
      stats.push(p);
      return base.stat(p);
    },
  };
  return { fs, readdirs, stats, reset: () => void ((readdirs.length = 0), (stats.length = 0)) };
}

/** Every file under `dir`, relative, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

export async function treeBytes(dir: string): Promise<number> {
  let sum = 0;
  for (const f of await listTree(dir)) sum += (await fsp.stat(path.join(dir, f))).size;
  return sum;
}

/** Distinct solid colours, so that frames and stills can be told apart by a pixel. */
export type Rgb = [number, number, number];
export const PALETTE: Rgb[] = [
  [220, 30, 30],
  [30, 200, 30],
  [30, 30, 220],
  [230, 230, 40],
  [220, 40, 220],
  [40, 220, 220],
];

/** A JPEG of one colour. */
export function solidJpeg(width: number, height: number, [r, g, b]: Rgb): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .jpeg({ quality: 90 })
    .toBuffer();
}
