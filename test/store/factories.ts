/**
 * The stores that the store and ledger suites run against. Each factory
 * creates empty logs (a SQLite file, a PostgreSQL database) and opens any
 * number of stores on one of them, as separate processes would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PostgresStore } from '../../src/store/postgres.js';
import { searchPathOf } from '../../src/store/sqlite-search.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { TEST_PG_URL, createTestDatabase, execSql } from '../support/postgres.js';

/** One empty log's database. */
export interface TestLog {
  /** Opens a new store (connection or pool) on this database. */
  open(): Promise<Store>;
  /** Runs SQL that SQLite and PostgreSQL both accept. */
  exec(sql: string): Promise<void>;
  /** Runs SQL on the search index's tables, which SQLite keeps in a database of their own. */
  execSearch(sql: string): Promise<void>;
  /** Records a schema version newer than this code supports. */
  markSchemaNewer(): Promise<void>;
}

export interface StoreFactory {
  kind: string;
  /** False when the database server is not available; its tests are skipped. */
  enabled: boolean;
  create(): Promise<TestLog>;
  /** Closes every store opened since the last cleanup and deletes their databases. */
  cleanup(): Promise<void>;
}

/** Tracks opened stores so that cleanup can close the ones a failed test left open. */
class Opened {
  private stores: Store[] = [];

  track(store: Store): Store {
    const close = store.close.bind(store);
    let closed = false;
    store.close = async () => {
      if (closed) return;
      closed = true;
      await close();
    };
    this.stores.push(store);
    return store;
  }

  async closeAll(): Promise<void> {
    const stores = this.stores.splice(0);
    await Promise.all(stores.map((s) => s.close()));
  }
}

function sqliteFactory(): StoreFactory {
  const opened = new Opened();
  const dirs: string[] = [];
  return {
    kind: 'sqlite',
    enabled: true,
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'declog-store-'));
      dirs.push(dir);
      const path = join(dir, 'declog.db');
      const withDb = (fn: (db: Database.Database) => void, file = path) => {
        const db = new Database(file);
        try {
          fn(db);
        } finally {
          db.close();
        }
      };
      return {
        open: async () => opened.track(new SqliteStore(path)),
        exec: async (sql) => withDb((db) => db.exec(sql)),
        execSearch: async (sql) => withDb((db) => db.exec(sql), searchPathOf(path)),
        markSchemaNewer: async () => withDb((db) => db.pragma('user_version = 99')),
      };
    },
    async cleanup() {
      await opened.closeAll();
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresFactory(): StoreFactory {
  const opened = new Opened();
  const drops: (() => Promise<void>)[] = [];
  return {
    kind: 'postgres',
    enabled: TEST_PG_URL !== undefined,
    async create() {
      const db = await createTestDatabase();
      drops.push(db.drop);
      return {
        open: async () => opened.track(await PostgresStore.connect(db.url)),
        exec: async (sql) => void (await execSql(db.url, sql)),
        execSearch: async (sql) => void (await execSql(db.url, sql)),
        markSchemaNewer: async () =>
          void (await execSql(db.url, 'INSERT INTO schema_migrations (version) VALUES (99)')),
      };
    },
    async cleanup() {
      await opened.closeAll();
      for (const drop of drops.splice(0)) await drop();
    },
  };
}

export const STORE_FACTORIES: StoreFactory[] = [sqliteFactory(), postgresFactory()];
