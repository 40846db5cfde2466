/** declog migrate: applies the schema versions a store lacks and says what it did. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { checkStoreUrl, DATABASE_FILE } from '../../src/data-dir.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.js';
import { UsageError } from '../../src/errors.js';
import { out, outJson, storeUrl, usage } from '../options.js';

export interface MigrateOptions {
  data: string;
  store?: string;
  json?: boolean;
}

interface Migration {
  /** The database, with any password masked. */
  store: string;
  from: number;
  to: number;
}

async function migratePostgres(url: string): Promise<Migration> {
  const store = await PostgresStore.connect(url);
  await store.close();
  return { store: store.url, ...store.migrated };
}

/** Reads the SQLite schema version, then opens the store, which applies the missing versions. */
async function migrateSqlite(dir: string): Promise<Migration> {
  const path = join(dir, DATABASE_FILE);
  if (!existsSync(path)) throw new UsageError(`no ledger in ${dir}: ${path} does not exist`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const from = db.pragma('user_version', { simple: true }) as number;
  db.close();
  const store = new SqliteStore(path, { mustExist: true });
  await store.close();
  return { store: path, from, to: Math.max(from, SQLITE_SCHEMA_VERSION) };
}

/** Says which versions were applied, or that there was nothing to do. */
function describe(m: Migration): string {
  if (m.from === m.to) return `${m.store}: schema version ${m.to}, up to date`;
  const applied = Array.from({ length: m.to - m.from }, (_, i) => m.from + i + 1);
  return `${m.store}: schema version ${m.from} -> ${m.to} (applied ${applied.join(', ')})`;
}

/** declog migrate [--store URL | --data DIR] [--json] */
export async function migrate(opts: MigrateOptions): Promise<void> {
  const url = usage(() => checkStoreUrl(storeUrl(opts.store)));
  const m = url ? await migratePostgres(url) : await migrateSqlite(opts.data);
  if (opts.json) outJson(m);
  else out(describe(m));
}
