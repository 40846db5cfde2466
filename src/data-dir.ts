/**
 * The data folder of a ledger: the SQLite database, the log's signing key
 * (mode 0600) and its verifier key. A log on PostgreSQL (a postgres:// store
 * URL) keeps only the keys here; several servers share the log by each
 * having a copy of this folder.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, StorageError } from './errors.js';
import { readSecretFile, writeSecretFile } from './keys.js';
import { WorkerIndexer } from './indexer.js';
import { addValidator, Ledger, type LedgerOptions } from './ledger.js';
import { generateKey, newSigner, verifierKeyFromSigner } from './note.js';
import { PostgresStore } from './store/postgres.js';
import { SqliteStore, type SqliteStoreOptions } from './store/sqlite.js';
import { writerThreadAvailable } from './store/sqlite-writer.js';
import type { Store } from './store/store.js';

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

/** Returns whether a store URL names a PostgreSQL database (postgres:// or postgresql://). */
export function isPostgresUrl(url: string | undefined): boolean {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

/** Returns a store URL unchanged if it is absent or a PostgreSQL URL, else throws InputError. */
export function checkStoreUrl(url: string | undefined): string | undefined {
  if (url === undefined || isPostgresUrl(url)) return url;
  throw new InputError(
    'invalid_argument',
    `store URL with scheme ${JSON.stringify(url.split(':')[0]!.slice(0, 20))} is not a postgres:// URL; leave it out to use the SQLite file in the data folder`,
  );
}

/** Returns whether `dir` already holds a ledger. */
export function isInitialized(dir: string): boolean {
  return existsSync(join(dir, SIGNER_KEY_FILE)) || existsSync(join(dir, DATABASE_FILE));
}

/**
 * Creates a new ledger: signing key in `dir`, and database with a first
 * validator token in `dir` or, given `storeUrl`, in that PostgreSQL database,
 * which must hold no log yet.
 */
export async function initDataDir(
  dir: string,
  origin: string,
  storeUrl?: string,
): Promise<InitResult> {
  if (isInitialized(dir)) {
    throw new StorageError(
      'storage_failed',
      `${dir} already holds a ledger; choose another --data folder`,
    );
  }
  // The key is made first: an invalid origin fails here, before any file exists.
  const { signerKey, verifierKey } = generateKey(origin);
  const postgres = isPostgresUrl(checkStoreUrl(storeUrl));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const store = postgres
    ? await emptyPostgresStore(storeUrl!)
    : new SqliteStore(join(dir, DATABASE_FILE));
  try {
    writeSecretFile(join(dir, SIGNER_KEY_FILE), signerKey + '\n');
    writeFileSync(join(dir, VERIFIER_KEY_FILE), verifierKey + '\n');
    await store.setMeta('origin', origin);
    const token = await addValidator(store, FIRST_VALIDATOR);
    return { origin, verifierKey, token, validator: FIRST_VALIDATOR };
  } finally {
    await store.close();
  }
}

/** Connects to a PostgreSQL database that must not hold a log yet. */
async function emptyPostgresStore(url: string): Promise<PostgresStore> {
  const store = await PostgresStore.connect(url);
  const contents = await store.contents();
  if (contents !== undefined) {
    await store.close();
    throw new StorageError(
      'storage_failed',
      `database ${store.url} already holds a ledger (it has ${contents}); copy ${SIGNER_KEY_FILE} and ${VERIFIER_KEY_FILE} of that ledger into the data folder instead`,
    );
  }
  return store;
}

/** Opens the store of a ledger: the PostgreSQL database `storeUrl`, else the data folder's SQLite file. */
export async function openStoreAt(
  dir: string,
  storeUrl?: string,
  sqliteOptions: SqliteStoreOptions = {},
): Promise<Store> {
  if (!isPostgresUrl(checkStoreUrl(storeUrl))) return openStore(dir, sqliteOptions);
  const store = await PostgresStore.connect(storeUrl!);
  if ((await store.getMeta('origin')) === undefined) {
    await store.close();
    throw new StorageError(
      'storage_failed',
      `database ${store.url} holds no ledger: run declog init --store URL --data ${dir} first`,
    );
  }
  return store;
}

/** Opens the SQLite store of a data folder. */
export function openStore(dir: string, options: SqliteStoreOptions = {}): SqliteStore {
  const path = join(dir, DATABASE_FILE);
  if (!existsSync(path)) {
    throw new StorageError(
      'storage_failed',
      `no ledger in ${dir}: run declog init --data ${dir} first`,
    );
  }
  return new SqliteStore(path, { ...options, mustExist: true });
}

export interface DataDirOptions extends LedgerOptions {
  /**
   * Open a SQLite log read-only, following the process that sequences it
   * (default false): for the reader processes of `declog serve --readers`.
   */
  readOnly?: boolean;
}

/**
 * Opens the ledger of a data folder, checking the key file's permissions
 * first. Given a postgres:// `storeUrl`, the log is in that database and is
 * indexed on this thread (the worker indexer reads SQLite files only).
 */
export async function openDataDir(
  dir: string,
  options: DataDirOptions = {},
  storeUrl?: string,
): Promise<Ledger> {
  const signerKey = readSecretFile(join(dir, SIGNER_KEY_FILE));
  const signer = newSigner(signerKey);
  const { readOnly, ...ledgerOptions } = options;
  // Compiled code commits SQLite batches on a writer thread; TypeScript sources commit inline.
  const store = await openStoreAt(
    dir,
    storeUrl,
    readOnly ? { readonly: true, mustExist: true } : { writerThread: writerThreadAvailable() },
  );
  const origin = await store.getMeta('origin');
  if (origin === undefined) {
    // An empty or replaced database beside an existing key must never make the
    // key sign a new tree from size 0, which would fork the published log.
    await store.close();
    throw new StorageError(
      'corrupt_store',
      `the database of ${dir} holds no ledger, but ${join(dir, SIGNER_KEY_FILE)} exists: restore the database, or run declog init in a new folder`,
    );
  }
  if (origin !== signer.name) {
    await store.close();
    throw new StorageError(
      'corrupt_store',
      `the key in ${join(dir, SIGNER_KEY_FILE)} is named ${signer.name} but the log's origin is ${origin}`,
    );
  }
  // A SQLite store with worker threads indexes on its index thread; otherwise indexing runs inline.
  const thread = store instanceof SqliteStore ? store.indexThread : undefined;
  const indexer =
    options.indexer ??
    (thread
      ? (_: unknown, logger?: LedgerOptions['logger']) => new WorkerIndexer(thread, logger)
      : undefined);
  try {
    return await Ledger.open(store, signer, verifierKeyFromSigner(signerKey), {
      ...ledgerOptions,
      follow: ledgerOptions.follow || readOnly,
      indexer,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** File that marks a data folder as in use by one `declog serve`. */
export const LOCK_FILE = 'serve.lock';

/**
 * Claims a SQLite data folder for one server process and returns the
 * function that releases it. Two servers sequencing one SQLite file would
 * reject each other's batches; a lock left by a process that no longer
 * runs is taken over.
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rmSync(path, { force: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new StorageError(
          'storage_failed',
          `no ledger in ${dir}: the folder does not exist; run declog init --data ${dir} first`,
          { cause: err },
        );
      }
      if (code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && processRuns(pid)) {
      throw new StorageError(
        'storage_failed',
        `${dir} is in use by another declog serve (pid ${pid}); stop it first, or use --store postgres:// to run several servers`,
      );
    }
    rmSync(path, { force: true });
  }
  throw new StorageError(
    'storage_failed',
    `cannot claim ${path}: another process keeps creating it`,
  );
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
