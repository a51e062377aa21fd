// The one error type storage throws for environment failures; callers act on `code`.
import { errno } from './atomic.ts';

/**
 * disk_full: ENOSPC/EDQUOT (tell the user to free space or lower retention); too_old: a day that
 * storage.retention_days already gives up; io: anything else.
 */
export type StorageErrorCode = 'disk_full' | 'too_old' | 'io';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  /** The file or folder involved. */
  readonly path: string;
  /** The underlying errno code (ENOSPC, EACCES, ...), when there is one. */
  readonly errno?: string;
  constructor(code: StorageErrorCode, message: string, path: string, extra: { errno?: string; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'StorageError';
    this.code = code;
    this.path = path;
    this.errno = extra.errno;
  }
}

const FULL: Record<string, string> = { ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded' };

/**
 * Classifies an fs error. `action` reads as "cannot <action> <path>", e.g. "write still to".
 * disk_full names the folder, since that is where the user has to make room.
 */
export function toStorageError(err: unknown, action: string, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = errno(err);
  if (code && FULL[code]) {
    return new StorageError('disk_full', `disk full: cannot ${action} ${path} (${FULL[code]})`, path, { errno: code, cause: err });
  }
  const why = err instanceof Error ? err.message : String(err);
  return new StorageError('io', `cannot ${action} ${path}: ${why}`, path, { errno: code, cause: err });
}
