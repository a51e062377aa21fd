// The web (and embedded broker) password: only its argon2id hash is stored, in a 0600 file in a 0700 folder.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import argon2 from 'argon2';
import { writeFileAtomic } from '../storage/write-atomic.ts';

export const MIN_PASSWORD_LENGTH = 8;

export function validatePassword(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'password must be at most 1024 characters';
  if (/[\r\n]/.test(password)) return 'password must be one line';
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

/** Writes the hash atomically: a reader never sees a half-written file. */
export async function writePasswordHash(file: string, hash: string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  await writeFileAtomic(file, hash + '\n', { mode: 0o600 });
}

export async function setPassword(file: string, password: string): Promise<void> {
  const problem = validatePassword(password);
  if (problem) throw new Error(problem);
  await writePasswordHash(file, await hashPassword(password));
}

/** The stored hash, or undefined when none is set yet. */
export async function readPasswordHash(file: string): Promise<string | undefined> {
  try {
    const hash = (await fs.readFile(file, 'utf8')).trim();
    return hash || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false; // a malformed hash file verifies nothing
  }
}

/** A strong random password (144 bits), easy to copy: no look-alike characters. */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.randomBytes(32);
  let out = '';
  for (const b of bytes) {
    if (b >= 224) continue; // 224 = 4 * 56: rejection keeps the choice uniform
    out += alphabet[b % alphabet.length];
    if (out.length === 24) break;
  }
  return out.length === 24 ? out : generatePassword();
}

/**
 * First start: when no hash exists, a generated password and its hash, not yet stored. The caller stores it
 * (storeGenerated) only once the daemon is up, so a start that fails (a port in use) leaves nothing behind
 * and the next start generates and shows one again. undefined when a password is already set.
 */
export async function generateIfUnset(file: string): Promise<{ password: string; hash: string } | undefined> {
  if (await readPasswordHash(file)) return undefined;
  const password = generatePassword();
  return { password, hash: await hashPassword(password) };
}

/** Stores a generated password's hash unless one was set meanwhile (`moncam passwd`); true if stored. */
export async function storeGenerated(file: string, generated: { hash: string }): Promise<boolean> {
  if (await readPasswordHash(file)) return false;
  await writePasswordHash(file, generated.hash);
  return true;
}
