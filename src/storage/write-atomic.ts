// One way to replace a small file whole (password hash, sessions, session secret, TLS key and
// certificate, systemd unit): a reader sees the old file or the new one, never half of one, even after
// a power cut. npm's write-file-atomic does the temp file and rename but not the directory fsync, and
// ./atomic.ts already has the pieces the store uses.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, nodeFs, tempName } from './atomic.ts';

export interface WriteAtomicOptions {
  /** The file's mode, exactly (umask does not apply). */
  mode: number;
  /** Run as root (sudo) into someone's folder: give the file to the folder's owner, who must read it. */
  ownerOfDir?: boolean;
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteAtomicOptions): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, tempName(path.basename(file)));
  const handle = await fs.open(tmp, 'wx', opts.mode);
  try {
    await handle.chmod(opts.mode);
    if (opts.ownerOfDir && process.getuid?.() === 0) {
      const owner = await fs.stat(dir);
      await handle.chown(owner.uid, owner.gid);
    }
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined); // already closed, or the first error is the one to report
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(nodeFs, dir);
}
