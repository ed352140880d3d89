import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The payload key of the embedded default: 32 random bytes, base64 (the format `openssl rand -base64 32` writes,
 * so the same file works as `temporal.payloadEncryption.keyFile` later), created once in the local state directory
 * with mode 0600 and reused by every process that reads the same configuration (worker, lender client, CLI, demo,
 * codec server). Losing it makes the encrypted history of the embedded dev server unreadable.
 */

export const LOCAL_KEY_ID = 'local';

export class LocalKeyError extends Error {
  override readonly name = 'LocalKeyError';
  readonly code = 'LOCAL_PAYLOAD_KEY';
  readonly retryable = false;
}

export interface LocalKey {
  key: Buffer;
  /** True when this call generated the file. */
  created: boolean;
}

export function loadOrCreateLocalKey(file: string): LocalKey {
  const created = createIfAbsent(file);
  const mode = statSync(file).mode & 0o777;
  // Like ssh with its private keys: a key others can read is refused rather than silently used.
  if ((mode & 0o077) !== 0) {
    throw new LocalKeyError(`${file} is readable by others (mode 0${mode.toString(8)}); run chmod 600 on it`);
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new LocalKeyError(`${file} must hold 32 random bytes, base64`);
  return { key, created };
}

/**
 * Written to a private temporary file and then hard-linked into place: the link fails if another process won
 * the race, and no reader ever sees a half-written key.
 */
function createIfAbsent(file: string): boolean {
  try {
    statSync(file);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(temporary, { force: true });
  }
}
