// Durable writes: temp file + fsync + rename + directory fsync, through an injectable fs so tests can fail them.
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';

/** The part of a FileHandle the store uses. */
export interface FileHandleLike {
  writeFile(data: Uint8Array): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The few `node:fs/promises` calls the store makes; tests wrap these to spy or inject ENOSPC. */
export interface StorageFs {
  open(path: string, flags: string): Promise<FileHandleLike>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  rm(path: string, opts: { recursive: true; force: true }): Promise<void>;
  mkdir(path: string, opts: { recursive: true }): Promise<string | undefined>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number }>;
  readFile(path: string): Promise<Buffer>;
  /** Free space of the file system holding `path` (min_free); `bavail` blocks of `bsize` bytes. */
  statfs(path: string): Promise<{ bavail: number; bsize: number }>;
}

export const nodeFs: StorageFs = {
  open: (p, flags) => fsp.open(p, flags),
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  rmdir: (p) => fsp.rmdir(p),
  rm: (p, o) => fsp.rm(p, o),
  mkdir: (p, o) => fsp.mkdir(p, o),
  readdir: (p) => fsp.readdir(p),
  stat: (p) => fsp.stat(p),
  readFile: (p) => fsp.readFile(p),
  statfs: (p) => fsp.statfs(p),
};

/** `.<name>.tmp-<hex>`: dot-prefixed so listings skip it, random so concurrent writers never collide. */
export function tempName(finalName: string): string {
  return `.${finalName}.tmp-${randomBytes(6).toString('hex')}`;
}

export function isTempName(name: string): boolean {
  return /^\..+\.tmp-[0-9a-f]+$/.test(name);
}

/** `.<day>.del-<hex>`: a day folder renamed out of the listing before it is removed (age retention). */
export function trashName(day: string): string {
  return `.${day}.del-${randomBytes(6).toString('hex')}`;
}

export function isTrashName(name: string): boolean {
  return /^\.\d{4}-\d{2}-\d{2}\.del-[0-9a-f]+$/.test(name);
}

/** Creates `path` (must not exist), writes all of `data` and fsyncs it; the caller renames it into place. */
export async function writeDurable(fs: StorageFs, path: string, data: Uint8Array): Promise<void> {
  const handle = await fs.open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {}); // the write error is the one worth reporting
    throw err;
  }
  await handle.close();
}

/** Makes renames and new entries in `dir` survive a power cut. */
export async function fsyncDir(fs: StorageFs, dir: string): Promise<void> {
  let handle: FileHandleLike;
  try {
    handle = await fs.open(dir, 'r');
  } catch (err) {
    if (errno(err) === 'EISDIR') return; // platforms that cannot open directories (not Linux)
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems (FUSE, network mounts) do not support fsync on directories; nothing more to do there.
    if (errno(err) !== 'EINVAL' && errno(err) !== 'ENOTSUP') throw err;
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Removes a file if it is there; other errors are returned, not thrown, for best-effort cleanup. */
export async function unlinkQuiet(fs: StorageFs, path: string): Promise<unknown> {
  try {
    await fs.unlink(path);
    return undefined;
  } catch (err) {
    return errno(err) === 'ENOENT' ? undefined : err;
  }
}

export function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
