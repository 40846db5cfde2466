/**
 * The data folder of a ledger: the SQLite database, the log's signing key
 * (mode 0600) and its verifier key.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from './errors.js';
import { readSecretFile, writeSecretFile } from './keys.js';
import { WorkerIndexer, workerIndexerAvailable } from './indexer.js';
import { addValidator, Ledger, type LedgerOptions } from './ledger.js';
import { generateKey, newSigner, verifierKeyFromSigner } from './note.js';
import { SqliteStore } from './store/sqlite.js';

export const DATABASE_FILE = 'declog.db';
export const SIGNER_KEY_FILE = 'log.key';
export const VERIFIER_KEY_FILE = 'log.pub';
export const FIRST_VALIDATOR = 'default';

export interface InitResult {
  origin: string;
  verifierKey: string;
  /** Bearer token of the first validator, shown once. */
  token: string;
  validator: string;
}

/** Returns whether `dir` already holds a ledger. */
export function isInitialized(dir: string): boolean {
  return existsSync(join(dir, SIGNER_KEY_FILE)) || existsSync(join(dir, DATABASE_FILE));
}

/** Creates a new ledger in `dir`: signing key, database and a first validator token. */
export async function initDataDir(dir: string, origin: string): Promise<InitResult> {
  if (isInitialized(dir)) {
    throw new StorageError(
      'storage_failed',
      `${dir} already holds a ledger; choose another --data folder`,
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { signerKey, verifierKey } = generateKey(origin);
  writeSecretFile(join(dir, SIGNER_KEY_FILE), signerKey + '\n');
  writeFileSync(join(dir, VERIFIER_KEY_FILE), verifierKey + '\n');
  const store = new SqliteStore(join(dir, DATABASE_FILE));
  try {
    await store.setMeta('origin', origin);
    const token = await addValidator(store, FIRST_VALIDATOR);
    return { origin, verifierKey, token, validator: FIRST_VALIDATOR };
  } finally {
    await store.close();
  }
}

/** Opens the SQLite store of a data folder. */
export function openStore(dir: string): SqliteStore {
  const path = join(dir, DATABASE_FILE);
  if (!existsSync(path)) {
    throw new StorageError(
      'storage_failed',
      `no ledger in ${dir}: run declog init --data ${dir} first`,
    );
  }
  return new SqliteStore(path, { mustExist: true });
}

/** Opens the ledger of a data folder, checking the key file's permissions first. */
export async function openDataDir(dir: string, options: LedgerOptions = {}): Promise<Ledger> {
  const signerKey = readSecretFile(join(dir, SIGNER_KEY_FILE));
  const signer = newSigner(signerKey);
  const store = openStore(dir);
  const origin = await store.getMeta('origin');
  if (origin !== undefined && origin !== signer.name) {
    await store.close();
    throw new StorageError(
      'corrupt_store',
      `the key in ${join(dir, SIGNER_KEY_FILE)} is named ${signer.name} but the log's origin is ${origin}`,
    );
  }
  // Compiled code indexes in a worker thread; TypeScript sources under test index inline.
  const indexer =
    options.indexer ??
    (workerIndexerAvailable()
      ? (_: unknown, logger?: LedgerOptions['logger']) => new WorkerIndexer(store.path, logger)
      : undefined);
  try {
    return await Ledger.open(store, signer, verifierKeyFromSigner(signerKey), { ...options, indexer });
  } catch (err) {
    await store.close();
    throw err;
  }
}
