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
import { SEARCH_FIELDS } from './store.js';
import { SqliteWriterThread } from './sqlite-writer.js';

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
  // Leaf hashes land at random places in their index, so once it outgrows the
  // page cache most inserts dirty a page of their own. An index of their first
  // 8 bytes fits about 3 times more keys in a page: 1M search rows went in 1.3
  // times faster. Lookups compare the whole hash.
  `
  DROP INDEX search_by_leaf_hash;
  CREATE INDEX search_by_leaf_prefix ON search (substr(leaf_hash, 1, 8));
  `,
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Page cache of each connection, in KiB (SQLite's default is 2 MiB). The
 * unique decision ID index and the leaf hash index take inserts at random
 * places, and once they outgrow the cache every insert reads pages back:
 * 500,000 search rows went in 1.5 to 2 times faster with 32 MiB. A store
 * has at most four connections, so this bounds their caches at 128 MiB.
 */
const CACHE_KIB = 32 * 1024;

/** Applies the migrations a database lacks; refuses a database newer than this code. */
function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new StorageError(
      'schema_too_new',
      `database ${path} has schema version ${current}, newer than ${MIGRATIONS.length} supported here: upgrade declog`,
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

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
  /** Commit batches on a worker thread, so the caller's event loop never waits for an fsync. */
  writerThread?: boolean;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** One connection (or the one writer thread) applies commits in the order they are made. */
  readonly orderedCommits = true;
  private readonly db: Database.Database;
  /** A second connection for the search index, which is rebuilt from the log after a crash,
   * so it runs with synchronous=NORMAL and its commits do not wait for an fsync. */
  private readonly indexDb: Database.Database;
  private readonly statements;
  private readonly writer: SqliteWriterThread | undefined;
  /** The data version at the last pollCheckpoint. */
  private seenDataVersion: number | undefined;

  /** The thread that commits batches and fills the search index, when writerThread is set. */
  get writerThread(): SqliteWriterThread | undefined {
    return this.writer;
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
    this.db.pragma(`cache_size = ${-CACHE_KIB}`);
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 30000');
      migrate(this.db, path);
    }
    this.indexDb = options.readonly ? this.db : new Database(path);
    this.indexDb.pragma('synchronous = NORMAL');
    this.indexDb.pragma(`cache_size = ${-CACHE_KIB}`);
    this.indexDb.pragma('busy_timeout = 30000');
    this.statements = this.prepare();
    if (options.writerThread) this.writer = new SqliteWriterThread(path);
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
      indexedSize: this.indexDb
        .prepare("SELECT value FROM meta WHERE key = 'indexed_size'")
        .pluck(),
      insertIndexRow: this.indexDb.prepare(
        `INSERT INTO search (idx, leaf_hash, time, decision, iss, aud, key_domain, kid, tenant, rp)
         VALUES (@index, @leafHash, @time, @decision, @iss, @aud, @key_domain, @kid, @tenant, @rp)`,
      ),
      indexByLeafHash: this.indexDb
        .prepare(
          `SELECT idx FROM search WHERE substr(leaf_hash, 1, 8) = substr(@hash, 1, 8) AND leaf_hash = @hash
           ORDER BY idx LIMIT 1`,
        )
        .pluck(),
      setIndexedSize: this.indexDb.prepare(
        `INSERT INTO meta (key, value) VALUES ('indexed_size', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
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
    const value = this.run('reading the index size', () => this.statements.indexedSize.get());
    return value === undefined ? 0 : Number(value);
  }

  async addIndexRows(rows: IndexRow[], newSize: number): Promise<void> {
    const s = this.statements;
    const write = this.indexDb.transaction(() => {
      for (const row of rows) s.insertIndexRow.run(row);
      s.setIndexedSize.run(String(newSize));
    });
    this.run('writing the search index', () => write.immediate());
  }

  async indexOfLeafHash(leafHash: Uint8Array): Promise<number | undefined> {
    return this.run(
      'looking up a leaf hash',
      () => this.statements.indexByLeafHash.get({ hash: leafHash }) as number | undefined,
    );
  }

  async search(query: SearchQuery): Promise<SearchPage> {
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
      const read = this.indexDb.transaction(() => ({
        indexes: this.indexDb
          .prepare(sql)
          .pluck()
          .all(...params, query.limit) as number[],
        indexedSize: Number(this.statements.indexedSize.get() ?? 0),
      }));
      return read.deferred();
    });
  }

  async close(): Promise<void> {
    await this.writer?.close();
    if (this.indexDb !== this.db) this.indexDb.close();
    this.db.close();
  }
}
