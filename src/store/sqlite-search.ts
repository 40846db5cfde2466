/**
 * The search index of a SQLite log, in a database file of its own beside the
 * log's. In their own file, index transactions never take the log's write
 * lock, so the log's commits never wait for them. The index is rebuilt from
 * the log's entries, so it is written with synchronous=NORMAL.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import { applyMigrations } from './sqlite-migrate.js';
import type { IndexRow, SearchField, SearchPage, SearchQuery } from './store.js';
import { SEARCH_FIELDS } from './store.js';

/**
 * Entries per segment of the leaf hash index. The index is keyed by segment
 * first, so rows land in the newest segment, whose pages stay in the cache.
 * A lookup searches each segment. The index expression writes this number
 * as `idx >> 16`, so it changes only with a new schema version.
 */
const LEAF_SEGMENT_ENTRIES = 2 ** 16;

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
  CREATE INDEX search_by_kid ON search (kid, idx);
  CREATE INDEX search_by_iss ON search (iss, idx);
  CREATE INDEX search_by_aud ON search (aud, idx);
  CREATE INDEX search_by_tenant ON search (tenant, idx);
  CREATE INDEX search_by_rp ON search (rp, idx);
  CREATE INDEX search_by_time ON search (time, idx);
  CREATE INDEX search_by_leaf_prefix ON search (substr(leaf_hash, 1, 8));
  `,
  // Version 2 stores each text value once, in terms, and rows refer to term IDs,
  // so the file takes 184 bytes a row at 2.6M rows, against 400. The leaf hash
  // index is split into segments. The rows are rebuilt from the log.
  `
  DROP TABLE search;
  DELETE FROM meta WHERE key = 'indexed_size';
  CREATE TABLE terms (
    id INTEGER PRIMARY KEY,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (field, value)
  );
  CREATE TABLE search (
    idx INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    time INTEGER NOT NULL,
    decision INTEGER NOT NULL,
    iss INTEGER NOT NULL,
    aud INTEGER NOT NULL,
    key_domain INTEGER NOT NULL,
    kid INTEGER NOT NULL,
    tenant INTEGER,
    rp INTEGER NOT NULL
  );
  -- decision and key_domain take a handful of values, so filters on them scan in idx
  -- order beside an indexed filter instead of paying for two more indexes per append.
  CREATE INDEX search_by_kid ON search (kid, idx);
  CREATE INDEX search_by_iss ON search (iss, idx);
  CREATE INDEX search_by_aud ON search (aud, idx);
  CREATE INDEX search_by_tenant ON search (tenant, idx);
  CREATE INDEX search_by_rp ON search (rp, idx);
  CREATE INDEX search_by_time ON search (time, idx);
  -- Leaf hashes are random, so an index of them all takes each row at a random
  -- page, which once the index outgrows the cache is a page read and write per
  -- row. Keyed by segment of 65,536 entries, then by the first 8 bytes of the hash,
  -- rows go to the newest segment: with 2M rows, a row went in 7.6 us against 13.6 us.
  CREATE INDEX search_by_leaf_segment ON search (idx >> 16, substr(leaf_hash, 1, 8));
  `,
];

/**
 * Page cache of the connection, in KiB. Rows go to the newest leaf hash
 * segment and to the end of each value's range in the other indexes, so
 * rebuilding 1.5M rows took as long with 8 MiB as with 32 MiB.
 */
const CACHE_KIB = 8 * 1024;

/** Returns whether a database error shows that the file is not an intact SQLite database. */
export function isDamaged(err: unknown): boolean {
  const { code, cause } = err as { code?: unknown; cause?: { code?: unknown } };
  return [code, cause?.code].some((c) => c === 'SQLITE_NOTADB' || c === 'SQLITE_CORRUPT');
}

/** Returns the path of the search database of the log database at `logPath`. */
export function searchPathOf(logPath: string): string {
  return logPath.endsWith('.db') ? `${logPath.slice(0, -3)}-search.db` : `${logPath}-search.db`;
}

/** Maximum term IDs a writing connection caches for each field. A field whose cache is full starts over. */
const CACHED_TERMS = 8192;

/**
 * Term IDs of the values this connection wrote, by field, so that most rows
 * find theirs without a query. IDs are only valid in the file's generation
 * they were read in: clearing the index starts a new generation.
 */
class TermCache {
  private readonly fields = new Map<SearchField, Map<string, number>>();
  generation: string | undefined;

  get(field: SearchField, value: string): number | undefined {
    return this.fields.get(field)?.get(value);
  }

  set(field: SearchField, value: string, id: number): void {
    let ids = this.fields.get(field);
    if (!ids) this.fields.set(field, (ids = new Map()));
    if (ids.size >= CACHED_TERMS) ids.clear();
    ids.set(value, id);
  }

  clear(): void {
    this.fields.clear();
    this.generation = undefined;
  }
}

function prepare(db: Database.Database) {
  const meta = (key: string) => db.prepare(`SELECT value FROM meta WHERE key = '${key}'`).pluck();
  const setMeta = (key: string) =>
    db.prepare(
      `INSERT INTO meta (key, value) VALUES ('${key}', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  return {
    indexedSize: meta('indexed_size'),
    setIndexedSize: setMeta('indexed_size'),
    generation: meta('generation'),
    setGeneration: setMeta('generation'),
    termId: db.prepare('SELECT id FROM terms WHERE field = ? AND value = ?').pluck(),
    insertTerm: db.prepare('INSERT INTO terms (field, value) VALUES (?, ?)'),
    insertRow: db.prepare(
      `INSERT INTO search (idx, leaf_hash, time, decision, iss, aud, key_domain, kid, tenant, rp)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    leafHashAt: db.prepare('SELECT leaf_hash FROM search WHERE idx = ?').pluck(),
    indexInSegment: db
      .prepare(
        `SELECT idx FROM search
         WHERE idx >> 16 = ? AND substr(leaf_hash, 1, 8) = substr(@hash, 1, 8) AND leaf_hash = @hash
         ORDER BY idx LIMIT 1`,
      )
      .pluck(),
  };
}

type Statements = ReturnType<typeof prepare>;

/** Returns the term ID of a value, adding the term if the file lacks it. Runs in a write transaction. */
function termIdOf(s: Statements, cache: TermCache, field: SearchField, value: string): number {
  let id = cache.get(field, value);
  if (id === undefined) {
    id =
      (s.termId.get(field, value) as number | undefined) ??
      Number(s.insertTerm.run(field, value).lastInsertRowid);
    cache.set(field, value, id);
  }
  return id;
}

export interface SqliteSearchIndexOptions {
  /** Open for reading only. A missing file then reads as an empty index until it appears. */
  readonly?: boolean;
}

export class SqliteSearchIndex {
  private opened:
    { db: Database.Database; statements: Statements; inode: number; terms: TermCache } | undefined;
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
        const found = this.run('migrating', () =>
          applyMigrations(db, `search database ${this.path}`, MIGRATIONS),
        );
        // Version 2 dropped the rows of version 1: return their pages to the file system.
        if (found === 1) {
          this.run('compacting', () => {
            db.exec('VACUUM');
            db.pragma('wal_checkpoint(TRUNCATE)');
          });
        }
      }
      this.opened = {
        db,
        statements: prepare(db),
        inode: statSync(this.path).ino,
        terms: new TermCache(),
      };
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
    const { db, statements: s, terms } = this.writable();
    const write = db.transaction(() => {
      // The file may have been replaced since the caller read its size.
      const at = Number(s.indexedSize.get() ?? 0);
      if (at !== newSize - rows.length) {
        throw new StorageError(
          'storage_failed',
          `search database ${this.path} covers ${at} entries, not ${newSize - rows.length}: the rows were not added`,
        );
      }
      // Another connection may have cleared the index, and its terms, since this one cached IDs.
      const generation = s.generation.get() as string | undefined;
      if (terms.generation !== generation) {
        terms.clear();
        terms.generation = generation;
      }
      const id = (field: SearchField, value: string) => termIdOf(s, terms, field, value);
      for (const row of rows) {
        s.insertRow.run(
          row.index,
          row.leafHash,
          row.time,
          id('decision', row.decision),
          id('iss', row.iss),
          id('aud', row.aud),
          id('key_domain', row.key_domain),
          id('kid', row.kid),
          row.tenant === null ? null : id('tenant', row.tenant),
          id('rp', row.rp),
        );
      }
      s.setIndexedSize.run(String(newSize));
    });
    try {
      this.run('writing the search index', () => write.immediate());
    } catch (err) {
      // IDs of terms added in the rolled back transaction are not in the file.
      terms.clear();
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

  /** Deletes every row and term, so that the index is rebuilt from the log. */
  clear(): void {
    const { db, statements: s, terms } = this.writable();
    this.run('clearing the search index', () =>
      db.transaction(() => {
        db.exec("DELETE FROM search; DELETE FROM terms; DELETE FROM meta WHERE key = 'indexed_size';");
        s.setGeneration.run(String(Number(s.generation.get() ?? 0) + 1));
      })(),
    );
    terms.clear();
  }

  /** Returns the first index whose leaf hash is this one, among indexed entries. */
  indexOfLeafHash(leafHash: Uint8Array): number | undefined {
    const opened = this.current(false);
    if (!opened) return undefined;
    const { db, statements: s } = opened;
    return this.run('looking up a leaf hash', () => {
      const find = db.transaction(() => {
        const size = Number(s.indexedSize.get() ?? 0);
        for (let segment = 0; segment * LEAF_SEGMENT_ENTRIES < size; segment++) {
          const index = s.indexInSegment.get(segment, { hash: leafHash }) as number | undefined;
          if (index !== undefined) return index;
        }
        return undefined;
      });
      return find.deferred();
    });
  }

  search(query: SearchQuery): SearchPage {
    const opened = this.current(false);
    if (!opened) return { indexes: [], indexedSize: 0 };
    const { db, statements: s } = opened;
    return this.run('searching', () => {
      // The index size is read in the same snapshot as the rows it covers.
      const read = db.transaction((): SearchPage => {
        const indexedSize = Number(s.indexedSize.get() ?? 0);
        const where: string[] = [];
        const params: number[] = [];
        for (const field of SEARCH_FIELDS) {
          const value = query.equals[field];
          if (value === undefined) continue;
          const id = s.termId.get(field, value) as number | undefined;
          // No row contains a value that was never indexed.
          if (id === undefined) return { indexes: [], indexedSize };
          where.push(`${field} = ?`);
          params.push(id);
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
        const indexes = db
          .prepare(sql)
          .pluck()
          .all(...params, query.limit) as number[];
        return { indexes, indexedSize };
      });
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
