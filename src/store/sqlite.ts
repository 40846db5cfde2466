/**
 * The SQLite store: one local file in WAL mode with synchronous=FULL, so a
 * committed batch costs one fsync of the WAL and survives power loss.
 */
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import type {
  Batch,
  CheckpointRecord,
  IndexRow,
  SearchPage,
  SearchQuery,
  Store,
  StoredTile,
  Validator,
} from './store.js';
import { bytesEqual } from '../encoding.js';
import { leafHash } from '../hash.js';
import { applyMigrations } from './sqlite-migrate.js';
import { SqliteSearchIndex, isDamaged, searchPathOf } from './sqlite-search.js';
import { SqliteIndexThread, SqliteWriterThread } from './sqlite-writer.js';

/** Schema versions, applied in order; PRAGMA user_version is the last applied. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE entries (
    idx INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    validator TEXT NOT NULL,
    decision_id TEXT NOT NULL
  );
  CREATE UNIQUE INDEX entries_by_decision_id ON entries (validator, decision_id);
  CREATE TABLE tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    width INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (level, idx)
  ) WITHOUT ROWID;
  CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  );
  CREATE TABLE validators (
    name TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE
  ) WITHOUT ROWID;
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
  CREATE INDEX search_by_leaf_hash ON search (leaf_hash);
  `,
  // The search index moved to a database of its own (sqlite-search.ts), which the
  // index thread rebuilds from the entries.
  `
  DROP TABLE search;
  DELETE FROM meta WHERE key = 'indexed_size';
  `,
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Default page cache of a log connection, in KiB (SQLite's default is 2 MiB).
 * The unique decision ID index takes inserts at random places, and once it
 * outgrows the cache every insert reads pages back. A process has three log
 * connections (main thread, writer thread, index thread) and two search
 * connections of the same size, so their caches stay under 160 MiB.
 */
const CACHE_KIB = 32 * 1024;

function toBytes(value: unknown): Uint8Array {
  const buf = value as Buffer;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function toCheckpoint(row: any): CheckpointRecord {
  return { size: row.size, root: toBytes(row.root), note: row.note, createdMs: row.created_ms };
}

export interface SqliteStoreOptions {
  /** Open an existing database only (the default creates one). */
  mustExist?: boolean;
  readonly?: boolean;
  /**
   * Commit batches on a worker thread, so the caller's event loop never waits
   * for an fsync, and fill the search index on another.
   */
  writerThread?: boolean;
  /** Open the search database beside the log's (default true). */
  searchIndex?: boolean;
  /** Page cache of the log connection, in KiB (default 32 MiB). */
  cacheKiB?: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** One connection (or the one writer thread) applies commits in the order they are made. */
  readonly orderedCommits = true;
  private readonly db: Database.Database;
  private readonly statements;
  private readonly searchIndex: SqliteSearchIndex | undefined;
  private readonly readonly: boolean;
  /** Notices for the caller's log: each change that opening the store made to its search database. */
  readonly searchNotices: string[] = [];
  private readonly writer: SqliteWriterThread | undefined;
  private readonly indexer: SqliteIndexThread | undefined;
  /** The data version at the last pollCheckpoint. */
  private seenDataVersion: number | undefined;

  /** The thread that fills the search index, when writerThread is set. */
  get indexThread(): SqliteIndexThread | undefined {
    return this.indexer;
  }

  constructor(
    readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    try {
      this.db = new Database(path, {
        fileMustExist: options.mustExist ?? false,
        readonly: options.readonly ?? false,
      });
    } catch (cause) {
      throw new StorageError('storage_failed', `cannot open database ${path}: ${String(cause)}`, {
        cause,
      });
    }
    this.readonly = options.readonly ?? false;
    this.db.pragma(`cache_size = ${-(options.cacheKiB ?? CACHE_KIB)}`);
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 30000');
      applyMigrations(this.db, `database ${path}`, MIGRATIONS);
    }
    this.statements = this.prepare();
    if (options.searchIndex ?? true) {
      this.searchIndex = new SqliteSearchIndex(searchPathOf(path), { readonly: options.readonly });
      if (this.searchIndex.setAsideAtOpen) this.noteSetAside();
      if (!options.readonly) this.checkSearchIndex();
    }
    if (options.writerThread) {
      this.writer = new SqliteWriterThread(path);
      this.indexer = new SqliteIndexThread(path);
    }
  }

  /**
   * Clears a search index that does not match this log, such as one left
   * beside a database restored from a backup: the index is rebuilt from the
   * entries. The last indexed row must exist in the log with the same leaf hash.
   */
  private checkSearchIndex(): void {
    const search = this.searchIndex!;
    const size = this.setAsideIfDamaged(() => search.indexedSize());
    if (!size) return;
    const data = this.run('reading entries', () => this.statements.entries.all(size - 1, size));
    const logged = data.length === 1 ? leafHash(toBytes(data[0])) : undefined;
    this.setAsideIfDamaged(() => {
      const indexed = search.leafHashAt(size - 1);
      if (logged && indexed && bytesEqual(logged, indexed)) return;
      search.clear();
      this.searchNotices.push(
        `search database ${search.path} covered ${size} entries that do not match the log: cleared, and rebuilt from the entries`,
      );
    });
  }

  /**
   * Runs `fn` on the search database. A damaged file does not always fail to
   * open, so damage found by `fn` also sets the file aside, and this returns undefined.
   */
  private setAsideIfDamaged<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (!isDamaged(err)) throw err;
      this.searchIndex!.setAside();
      this.noteSetAside();
      return undefined;
    }
  }

  private noteSetAside(): void {
    const path = this.searchIndex!.path;
    this.searchNotices.push(
      `search database ${path} is damaged: moved to ${path}.damaged, and rebuilt from the entries`,
    );
  }

  private searchDb(): SqliteSearchIndex {
    if (!this.searchIndex) {
      throw new StorageError('storage_failed', `${this.path} was opened without its search index`);
    }
    return this.searchIndex;
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      latestSize: db.prepare('SELECT max(size) FROM checkpoints').pluck(),
      insertEntry: db.prepare(
        'INSERT INTO entries (idx, data, validator, decision_id) VALUES (?, ?, ?, ?)',
      ),
      upsertTile: db.prepare(
        `INSERT INTO tiles (level, idx, width, data) VALUES (?, ?, ?, ?)
         ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data
         WHERE excluded.width > tiles.width`,
      ),
      insertCheckpoint: db.prepare(
        'INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?, ?, ?, ?)',
      ),
      latestCheckpoint: db.prepare('SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1'),
      // Changes whenever another connection commits to the database.
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      checkpoint: db.prepare('SELECT * FROM checkpoints WHERE size = ?'),
      tile: db.prepare('SELECT level, idx, width, data FROM tiles WHERE level = ? AND idx = ?'),
      entries: db
        .prepare('SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx')
        .pluck(),
      decisionIds: db.prepare(
        `SELECT decision_id, idx FROM entries
         WHERE validator = ? AND decision_id IN (SELECT value FROM json_each(?))`,
      ),
      addValidator: db.prepare('INSERT INTO validators (name, token_hash) VALUES (?, ?)'),
      validatorByHash: db.prepare('SELECT name, token_hash FROM validators WHERE token_hash = ?'),
      listValidators: db.prepare('SELECT name FROM validators ORDER BY name').pluck(),
    };
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw new StorageError('storage_failed', `${what} failed in ${this.path}: ${String(cause)}`, {
        cause,
      });
    }
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.run('reading meta', () => this.statements.getMeta.get(key) as string | undefined);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.run('writing meta', () => this.statements.setMeta.run(key, value));
  }

  async commitBatch(batch: Batch): Promise<void> {
    if (this.writer) return this.writer.commit(batch);
    this.commitBatches([batch]);
  }

  /**
   * Commits consecutive batches in one transaction, so they cost one fsync
   * together. Each must extend the tree size the previous one leaves; if one
   * does not, none is written.
   */
  commitBatches(batches: Batch[]): void {
    const s = this.statements;
    const write = this.db.transaction(() => {
      let stored = (s.latestSize.get() as number | null) ?? 0;
      for (const batch of batches) {
        if (stored !== batch.prevSize) {
          throw new StorageError(
            'storage_failed',
            `batch extends tree size ${batch.prevSize} but the store is at ${stored}: another sequencer wrote to this log`,
          );
        }
        for (const e of batch.entries) s.insertEntry.run(e.index, e.data, e.validator, e.id);
        for (const t of batch.tiles) s.upsertTile.run(t.level, t.index, t.width, t.data);
        const c = batch.checkpoint;
        s.insertCheckpoint.run(c.size, c.root, c.note, c.createdMs);
        stored = c.size;
      }
    });
    // COMMIT point: once this returns, the entries, tiles and signed checkpoints
    // are durable together. A crash before it leaves the previous checkpoint.
    this.run('committing a batch', () => write.immediate());
  }

  async latestCheckpoint(): Promise<CheckpointRecord | undefined> {
    const row = this.run('reading the checkpoint', () => this.statements.latestCheckpoint.get());
    return row ? toCheckpoint(row) : undefined;
  }

  pollCheckpoint(): CheckpointRecord | undefined {
    const version = this.run('reading the data version', () =>
      this.statements.dataVersion.get(),
    ) as number;
    if (version === this.seenDataVersion) return undefined;
    this.seenDataVersion = version;
    const row = this.run('reading the checkpoint', () => this.statements.latestCheckpoint.get());
    return row ? toCheckpoint(row) : undefined;
  }

  async checkpoint(size: number): Promise<CheckpointRecord | undefined> {
    const row = this.run('reading a checkpoint', () => this.statements.checkpoint.get(size));
    return row ? toCheckpoint(row) : undefined;
  }

  async readTiles(keys: { level: number; index: number }[]): Promise<StoredTile[]> {
    return this.run('reading tiles', () => {
      const out: StoredTile[] = [];
      for (const k of keys) {
        const row = this.statements.tile.get(k.level, k.index) as any;
        if (row)
          out.push({ level: row.level, index: row.idx, width: row.width, data: toBytes(row.data) });
      }
      return out;
    });
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    return this.run('reading entries', () =>
      (this.statements.entries.all(start, end) as Buffer[]).map(toBytes),
    );
  }

  async findDecisionIds(validator: string, ids: string[]): Promise<Map<string, number>> {
    return this.run('looking up decision IDs', () => {
      const rows = this.statements.decisionIds.all(validator, JSON.stringify(ids)) as {
        decision_id: string;
        idx: number;
      }[];
      return new Map(rows.map((row) => [row.decision_id, row.idx]));
    });
  }

  async addValidator(validator: Validator): Promise<void> {
    this.run('adding a validator', () => {
      this.statements.addValidator.run(validator.name, validator.tokenHash);
    });
  }

  async validatorByTokenHash(tokenHash: Uint8Array): Promise<Validator | undefined> {
    const row = this.run('reading validators', () =>
      this.statements.validatorByHash.get(tokenHash),
    ) as any;
    return row ? { name: row.name, tokenHash: toBytes(row.token_hash) } : undefined;
  }

  async listValidators(): Promise<string[]> {
    return this.run('listing validators', () => this.statements.listValidators.all() as string[]);
  }

  async indexedSize(): Promise<number> {
    return this.searchDb().indexedSize();
  }

  async addIndexRows(rows: IndexRow[], newSize: number): Promise<void> {
    this.searchDb().addRows(rows, newSize);
  }

  async indexOfLeafHash(leafHash: Uint8Array): Promise<number | undefined> {
    return this.readSearch((search) => search.indexOfLeafHash(leafHash));
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    return this.readSearch((search) => search.search(query));
  }

  /**
   * Runs a read of the search database. Opening reads only the pages of the
   * size and the last row, and the index writes only its newest pages, so a
   * damaged page that a read finds would fail that read after every restart.
   * A writable store therefore sets the file aside and throws. The index
   * thread starts the rebuild from the log at once, and an indexer on this
   * thread starts it at the next commit.
   */
  private readSearch<T>(read: (search: SqliteSearchIndex) => T): T {
    const search = this.searchDb();
    try {
      return read(search);
    } catch (err) {
      if (this.readonly || !isDamaged(err)) throw err;
      search.setAside();
      const size = (this.statements.latestSize.get() as number | null) ?? 0;
      this.indexer?.notify(size);
      throw new StorageError(
        'storage_failed',
        `search database ${search.path} is damaged: moved to ${search.path}.damaged, and rebuilt from the entries`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    await this.writer?.close();
    await this.indexer?.close();
    this.searchIndex?.close();
    this.db.close();
  }
}
