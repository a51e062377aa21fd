// One moncam per data dir: a second daemon (or `moncam capture` beside a running one) would sweep the
// first one's temp files as crash leftovers and fight over the camera. A pid file with the boot id:
// a lock left by a kill -9 or a power cut is stale once its process is gone or the machine rebooted.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

interface LockInfo {
  pid: number;
  boot: string;
  started: string;
}

export class DataDirLockedError extends Error {
  readonly code = 'locked';
  constructor(message: string) {
    super(message);
    this.name = 'DataDirLockedError';
  }
}

async function bootId(): Promise<string> {
  try {
    return (await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return 'unknown'; // not Linux: pid liveness alone decides
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export class DataDirLock {
  private readonly file: string;
  private readonly logger: Logger;
  private held = false;

  constructor(dataDir: string, logger: Logger) {
    this.file = path.join(dataDir, 'moncam.lock');
    this.logger = logger;
  }

  async acquire(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const mine: LockInfo = { pid: process.pid, boot: await bootId(), started: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(this.file, JSON.stringify(mine) + '\n', { flag: 'wx' });
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const other = await this.read();
      if (other && other.pid !== process.pid && other.boot === mine.boot && alive(other.pid)) {
        throw new DataDirLockedError(
          `another moncam (pid ${other.pid}, started ${other.started}) is using ${path.dirname(this.file)}; ` +
            'ask it for a still (MQTT moncam/capture/set or the web page), use `moncam capture --out FILE`, or give this one its own data_dir',
        );
      }
      this.logger.info({ file: this.file, previous: other?.pid }, 'removing a stale lock (its moncam is gone)');
      await fs.rm(this.file, { force: true });
    }
    throw new DataDirLockedError(`cannot take the lock ${this.file}: another moncam took it at the same moment`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await fs.rm(this.file, { force: true });
  }

  private async read(): Promise<LockInfo | undefined> {
    try {
      const info = JSON.parse(await fs.readFile(this.file, 'utf8')) as Partial<LockInfo>;
      return typeof info.pid === 'number' && typeof info.boot === 'string' ? (info as LockInfo) : undefined;
    } catch {
      return undefined; // empty or torn by a power cut: stale
    }
  }
}
