/**
 * Key files in the data folder. A signing key file must be readable by its
 * owner only; the ledger refuses to start otherwise. Key material is never
 * logged or put in an error message.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { StorageError } from './errors.js';

/** Writes a new secret file with mode 0600, failing if it already exists. */
export function writeSecretFile(path: string, content: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (cause) {
    throw new StorageError(
      'storage_failed',
      `cannot create key file ${path}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** Reads a secret file after checking that neither group nor others can read or write it. */
export function readSecretFile(path: string): string {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new StorageError('storage_failed', `key file ${path} is not a regular file`);
    }
    mode = stat.mode;
  } catch (cause) {
    if (cause instanceof StorageError) throw cause;
    throw new StorageError(
      'storage_failed',
      `cannot read key file ${path}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0');
    throw new StorageError(
      'key_file_permissions',
      `key file ${path} has mode ${octal}, which lets group or others access it: run chmod 600 ${path}`,
    );
  }
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new StorageError('storage_failed', `cannot read key file ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
}
