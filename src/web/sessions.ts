// Sessions that survive a daemon restart: express-session with a small store kept in one private JSON file.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import session from 'express-session';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../storage/write-atomic.ts';

type Stored = Record<string, { session: session.SessionData; expires: number }>;

/**
 * In memory, written through to `file` (atomic rename, mode 0600) a moment after each change.
 * A handful of sessions for one household: a JSON file is enough and needs no database.
 */
export class FileSessionStore extends session.Store {
  private readonly file: string;
  private readonly logger: Logger;
  private sessions: Stored = {};
  private saveTimer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();

  constructor(file: string, logger: Logger) {
    super();
    this.file = file;
    this.logger = logger;
  }

  async restore(): Promise<void> {
    try {
      const parsed = JSON.parse(await fs.readFile(this.file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) this.sessions = parsed as Stored;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err, file: this.file }, 'session file unreadable; starting with no sessions');
    }
    this.prune();
  }

  /** Writes pending changes now (on stop). */
  async flush(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await (this.saving = this.saving.then(() => this.write()));
  }

  override get(sid: string, cb: (err: unknown, s?: session.SessionData | null) => void): void {
    const entry = this.sessions[sid];
    if (!entry || entry.expires <= Date.now()) {
      if (entry) this.destroy(sid);
      return cb(null, null);
    }
    cb(null, structuredClone(entry.session));
  }

  override set(sid: string, s: session.SessionData, cb?: (err?: unknown) => void): void {
    const expires = s.cookie?.expires ? new Date(s.cookie.expires).getTime() : Date.now() + 86_400_000;
    this.sessions[sid] = { session: structuredClone(s), expires };
    this.scheduleSave();
    cb?.();
  }

  override touch(sid: string, s: session.SessionData, cb?: () => void): void {
    const entry = this.sessions[sid];
    if (entry && s.cookie?.expires) {
      entry.expires = new Date(s.cookie.expires).getTime();
      entry.session.cookie = s.cookie;
      this.scheduleSave();
    }
    cb?.();
  }

  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    delete this.sessions[sid];
    this.scheduleSave();
    cb?.();
  }

  get size(): number {
    return Object.keys(this.sessions).length;
  }

  private prune(): void {
    const now = Date.now();
    for (const [sid, entry] of Object.entries(this.sessions)) if (!entry || entry.expires <= now) delete this.sessions[sid];
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.write());
    }, 200);
    this.saveTimer.unref();
  }

  private async write(): Promise<void> {
    this.prune();
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.file, JSON.stringify(this.sessions), { mode: 0o600 });
    } catch (err) {
      this.logger.error({ err, file: this.file }, 'could not save sessions');
    }
  }
}

/** The cookie-signing secret: random on first start, then kept (0600) so sessions survive restarts. */
export async function sessionSecret(file: string): Promise<string> {
  try {
    const secret = (await fs.readFile(file, 'utf8')).trim();
    if (secret.length >= 32) return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = crypto.randomBytes(32).toString('base64url');
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, secret + '\n', { mode: 0o600 });
  return secret;
}
