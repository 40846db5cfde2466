/**
 * The search index of a SQLite log, in a database file of its own beside the
 * log's. Rows land at random places of the leaf hash index, so index
 * transactions write many pages. In their own file they never take the
 * log's write lock, so the log's commits never wait for them. The index is
 * rebuilt from the log's entries, so it is written with synchronous=NORMAL.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import { applyMigrations } from './sqlite-migrate.js';
import type { IndexRow, SearchPage, SearchQuery } from './store.js';
import { SEARCH_FIELDS } from './store.js';

/** Schema versions of the search database, applied in order. PRAGMA user_version is the last applied. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE search (
    idx INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    time INTEGER NOT NULL,
    decision TEXT NOT NULL,
    iss TEXT NOT NULL,
    aud TEXT NOT NULL,
    key_domain TEXT NOT NULL,
    kid TEXT NOT NULL,
    tenant TEXT,
    rp TEXT NOT NULL
  );
  -- decision and key_domain take a handful of values, so filters on them scan in idx
  -- order beside an indexed filter instead of paying for two more indexes per append.
  CREATE INDEX search_by_kid ON search (kid, idx);
  CREATE INDEX search_by_iss ON search (iss, idx);
  CREATE INDEX search_by_aud ON search (aud, idx);
  CREATE INDEX search_by_tenant ON search (tenant, idx);
  CREATE INDEX search_by_rp ON search (rp, idx);
  CREATE INDEX search_by_time ON search (time, idx);
  -- Leaf hashes land at random places in their index, so once it outgrows the
  -- page cache most inserts dirty a page of their own. An index of their first
  -- 8 bytes fits about 3 times more keys in a page: 1M rows went in 1.3 times
  -- faster than with the whole hash. Lookups compare the whole hash.
  CREATE INDEX search_by_leaf_prefix ON search (substr(leaf_hash, 1, 8));
  `,
];

/** Page cache of the connection, in KiB, for the random inserts of the leaf hash index. */
const CACHE_KIB = 32 * 1024;

/** Returns whether a database error shows that the file is not an intact SQLite database. */
export function isDamaged(err: unknown): boolean {
  const { code, cause } = err as { code?: unknown; cause?: { code?: unknown } };
  return [code, cause?.code].some((c) => c === 'SQLITE_NOTADB' || c === 'SQLITE_CORRUPT');
}

/** Returns the path of the search database of the log database at `logPath`. */
export function searchPathOf(logPath: string): string {
  return logPath.endsWith('.db') ? `${logPath.slice(0, -3)}-search.db` : `${logPath}-search.db`;
}

function prepare(db: Database.Database) {
  return {
    indexedSize: db.prepare("SELECT value FROM meta WHERE key = 'indexed_size'").pluck(),
    setIndexedSize: db.prepare(
      `INSERT INTO meta (key, value) VALUES ('indexed_size', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    insertRow: db.prepare(
      `INSERT INTO search (idx, leaf_hash, time, decision, iss, aud, key_domain, kid, tenant, rp)
       VALUES (@index, @leafHash, @time, @decision, @iss, @aud, @key_domain, @kid, @tenant, @rp)`,
    ),
    leafHashAt: db.prepare('SELECT leaf_hash FROM search WHERE idx = ?').pluck(),
    indexOfLeafHash: db
      .prepare(
        `SELECT idx FROM search WHERE substr(leaf_hash, 1, 8) = substr(@hash, 1, 8) AND leaf_hash = @hash
         ORDER BY idx LIMIT 1`,
      )
      .pluck(),
  };
}

export interface SqliteSearchIndexOptions {
  /** Open for reading only. A missing file then reads as an empty index until it appears. */
  readonly?: boolean;
}

export class SqliteSearchIndex {
  private opened:
    { db: Database.Database; statements: ReturnType<typeof prepare>; inode: number } | undefined;
  private closed = false;
  /** True when the file was found damaged at open and set aside. */
  setAsideAtOpen = false;

  constructor(
    readonly path: string,
    private readonly options: SqliteSearchIndexOptions = {},
  ) {
    if (options.readonly) return;
    try {
      this.open();
    } catch (err) {
      if (!isDamaged(err)) throw err;
      this.setAside();
      this.setAsideAtOpen = true;
    }
  }

  /**
   * Renames a damaged database to `path`.damaged, kept for inspection, and
   * opens a new empty one in its place, which is rebuilt from the log.
   */
  setAside(): void {
    this.opened?.db.close();
    this.opened = undefined;
    for (const suffix of ['-wal', '-shm']) rmSync(this.path + suffix, { force: true });
    if (existsSync(this.path)) renameSync(this.path, `${this.path}.damaged`);
    this.open();
  }

  /**
   * Returns the open database, reopened if its file was replaced or removed
   * since, as when the index thread sets a damaged file aside. Without the
   * file, a reader gets undefined and a writer (`create`) makes a new one.
   */
  private current(create: boolean) {
    const inode = statSync(this.path, { throwIfNoEntry: false })?.ino;
    if (this.opened && this.opened.inode !== inode) {
      this.opened.db.close();
      this.opened = undefined;
    }
    if (this.opened) return this.opened;
    if (inode === undefined && !create) return undefined;
    return this.open();
  }

  /** Opens the database, or returns undefined for a read-only index whose file does not exist yet. */
  private open() {
    if (this.opened) return this.opened;
    if (this.closed) {
      throw new StorageError('storage_failed', `search database ${this.path} is closed`);
    }
    const readonly = this.options.readonly ?? false;
    if (readonly && !existsSync(this.path)) return undefined;
    const db = this.run('opening', () => new Database(this.path, { readonly }));
    try {
      db.pragma(`cache_size = ${-CACHE_KIB}`);
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 30000');
        this.run('migrating', () =>
          applyMigrations(db, `search database ${this.path}`, MIGRATIONS),
        );
      }
      this.opened = { db, statements: prepare(db), inode: statSync(this.path).ino };
    } catch (err) {
      db.close();
      // A read-only index may find the file before its first schema is committed.
      if (readonly && err instanceof Error && /no such table/.test(err.message)) return undefined;
      throw err;
    }
    return this.opened;
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw new StorageError(
        'storage_failed',
        `${what} failed in search database ${this.path}: ${String(cause)}`,
        { cause },
      );
    }
  }

  /** Returns the number of log entries the index covers: it contains rows [0, indexedSize). */
  indexedSize(): number {
    const opened = this.current(false);
    if (!opened) return 0;
    const value = this.run('reading the index size', () => opened.statements.indexedSize.get());
    return value === undefined ? 0 : Number(value);
  }

  /**
   * Adds rows [indexedSize, newSize) and moves indexedSize, in one
   * transaction. A file found damaged is set aside, so that the next
   * catch-up rebuilds the index from the log, and the error is thrown.
   */
  addRows(rows: IndexRow[], newSize: number): void {
    const { db, statements: s } = this.writable();
    const write = db.transaction(() => {
      // The file may have been replaced since the caller read its size.
      const at = Number(s.indexedSize.get() ?? 0);
      if (at !== newSize - rows.length) {
        throw new StorageError(
          'storage_failed',
          `search database ${this.path} covers ${at} entries, not ${newSize - rows.length}: the rows were not added`,
        );
      }
      for (const row of rows) s.insertRow.run(row);
      s.setIndexedSize.run(String(newSize));
    });
    try {
      this.run('writing the search index', () => write.immediate());
    } catch (err) {
      if (isDamaged(err)) this.setAside();
      throw err;
    }
  }

  /** Returns the leaf hash of the indexed entry `index`, or undefined if it is not indexed. */
  leafHashAt(index: number): Uint8Array | undefined {
    const opened = this.current(false);
    if (!opened) return undefined;
    const value = this.run('reading a leaf hash', () => opened.statements.leafHashAt.get(index));
    return value === undefined ? undefined : new Uint8Array(value as Buffer);
  }

  /** Deletes every row, so that the index is rebuilt from the log. */
  clear(): void {
    const { db } = this.writable();
    this.run('clearing the search index', () =>
      db.transaction(() => {
        db.exec("DELETE FROM search; DELETE FROM meta WHERE key = 'indexed_size';");
      })(),
    );
  }

  /** Returns the first index whose leaf hash is this one, among indexed entries. */
  indexOfLeafHash(leafHash: Uint8Array): number | undefined {
    const opened = this.current(false);
    if (!opened) return undefined;
    return this.run(
      'looking up a leaf hash',
      () => opened.statements.indexOfLeafHash.get({ hash: leafHash }) as number | undefined,
    );
  }

  search(query: SearchQuery): SearchPage {
    const opened = this.current(false);
    if (!opened) return { indexes: [], indexedSize: 0 };
    const { db, statements } = opened;
    const where: string[] = [];
    const params: (string | number)[] = [];
    for (const field of SEARCH_FIELDS) {
      const value = query.equals[field];
      if (value === undefined) continue;
      where.push(`${field} = ?`);
      params.push(value);
    }
    if (query.since !== undefined) {
      where.push('time >= ?');
      params.push(query.since);
    }
    if (query.until !== undefined) {
      where.push('time <= ?');
      params.push(query.until);
    }
    if (query.after !== undefined) {
      where.push('idx > ?');
      params.push(query.after);
    }
    const sql =
      'SELECT idx FROM search' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY idx LIMIT ?';
    return this.run('searching', () => {
      // The index size is read in the same snapshot as the rows it covers.
      const read = db.transaction(() => ({
        indexes: db
          .prepare(sql)
          .pluck()
          .all(...params, query.limit) as number[],
        indexedSize: Number(statements.indexedSize.get() ?? 0),
      }));
      return read.deferred();
    });
  }

  private writable() {
    if (this.options.readonly) {
      throw new StorageError('storage_failed', `search database ${this.path} is open read-only`);
    }
    return this.current(true)!;
  }

  close(): void {
    this.closed = true;
    this.opened?.db.close();
    this.opened = undefined;
  }
}
