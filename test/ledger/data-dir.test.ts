import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DATABASE_FILE,
  initDataDir,
  LOCK_FILE,
  lockDataDir,
  openDataDir,
  SIGNER_KEY_FILE,
} from '../../src/data-dir.js';
import { readSecretFile } from '../../src/keys.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'declog-data-'));
  dirs.push(dir);
  return join(dir, 'data');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('data folder', () => {
  it('refuses an empty database beside a key', async () => {
    const dir = tempDir();
    await initDataDir(dir, 'test.example/log');
    rmSync(join(dir, DATABASE_FILE));
    writeFileSync(join(dir, DATABASE_FILE), '');
    await expect(openDataDir(dir)).rejects.toMatchObject({ code: 'corrupt_store' });
    await expect(openDataDir(dir)).rejects.toThrow(/holds no ledger/);
  });

  it('creates nothing for an invalid origin', async () => {
    const dir = tempDir();
    await expect(initDataDir(dir, 'bad origin')).rejects.toThrow(/invalid key name/);
    expect(existsSync(join(dir, DATABASE_FILE))).toBe(false);
    expect(existsSync(join(dir, SIGNER_KEY_FILE))).toBe(false);
    await expect(initDataDir(dir, 'test.example/log')).resolves.toMatchObject({
      origin: 'test.example/log',
    });
  });

  it('rejects a key file that is a folder', () => {
    const dir = tempDir();
    mkdirSync(join(dir, SIGNER_KEY_FILE), { recursive: true, mode: 0o700 });
    expect(() => readSecretFile(join(dir, SIGNER_KEY_FILE))).toThrow(/not a regular file/);
  });

  it('lets one server claim a folder', async () => {
    const dir = tempDir();
    await initDataDir(dir, 'test.example/log');
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(`in use by another declog serve (pid ${process.pid})`);
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir)();
  });

  it('names a missing folder when locking', () => {
    const dir = join(tempDir(), 'missing');
    expect(() => lockDataDir(dir)).toThrow(`no ledger in ${dir}: the folder does not exist`);
  });

  it('takes over a lock of a dead process', async () => {
    const dir = tempDir();
    await initDataDir(dir, 'test.example/log');
    // Linux pids stay below 2^22, so this one never runs.
    writeFileSync(join(dir, LOCK_FILE), '4194305\n');
    const release = lockDataDir(dir);
    release();
  });
});
