/**
 * The PostgreSQL store, for a log whose servers run on several machines.
 * Every commit is one transaction that starts by moving the single `head`
 * row from the batch's previous size to its new one. This compare-and-swap
 * serializes writers, so a deposed sequencer cannot commit after another one
 * advanced the tree, and each checkpoint size is stored at most once.
 * connect() rejects synchronous_commit=off (PostgreSQL's default is on). With
 * it on, COMMIT returns only after the WAL is flushed to disk, so an
 * acknowledged batch is durable. Keys stay in the data folder, not here.
 */
import pg from 'pg';
import { InputError, StorageError } from '../errors.js';
import { type Migrated, migrate } from './postgres-schema.js';
import type {
  Batch,
  CheckpointRecord,
  EntryRecord,
  IndexRow,
  SearchPage,
  SearchQuery,
  Store,
  StoredTile,
  Validator,
} from './store.js';
import { SEARCH_FIELDS } from './store.js';

export interface PostgresStoreOptions {
  /** Maximum number of pooled connections (default 10). */
  maxConnections?: number;
  /** Maximum wait for a free connection, in ms (default 10000). */
  connectTimeoutMs?: number;
}

/** Returns the URL with its password masked, for error messages. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new InputError(
      'invalid_argument',
      'invalid PostgreSQL URL: expected postgres://user:password@host:port/database',
      { cause },
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InputError(
      'invalid_argument',
      `invalid PostgreSQL URL: scheme ${parsed.protocol} is not postgres: or postgresql:`,
    );
  }
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function checkOption(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InputError('invalid_argument', `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** Parses a bigint column (pg returns int8 as text) into a safe JavaScript number. */
function toNumber(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  const exact = typeof value !== 'string' || String(n) === value;
  if (!exact || !Number.isSafeInteger(n)) {
    throw new StorageError(
      'corrupt_store',
      `invalid ${what} ${String(value)} in the store: expected an integer of at most 2^53 - 1`,
    );
  }
  return n;
}

/** Wraps a bytea value (a Buffer from pg) in a Uint8Array without copying. */
function toBytes(value: Buffer): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** The lease a sequencer holds: its commits fail once another process holds a newer one. */
export interface LeaseGrant {
  holder: string;
  epoch: number;
}

/** Rows of a log copied from another store, written as they are. */
export interface ImportRows {
  entries?: EntryRecord[];
  tiles?: StoredTile[];
  checkpoints?: CheckpointRecord[];
  validators?: Validator[];
  meta?: [string, string][];
}

interface CheckpointRow {
  size: string;
  root: Buffer;
  note: string;
  created_ms: string;
}

function toCheckpoint(row: CheckpointRow): CheckpointRecord {
  return {
    size: toNumber(row.size, 'checkpoint size'),
    root: toBytes(row.root),
    note: row.note,
    createdMs: toNumber(row.created_ms, 'checkpoint time'),
  };
}

/**
 * Moves head from the batch's previous size to its new one, and only forward.
 * A store with no checkpoint yet has size NULL, which counts as 0 and so
 * accepts a first checkpoint of any size exactly once.
 */
const ADVANCE_HEAD = `
  UPDATE head SET size = $2
  WHERE coalesce(size, 0) = $1 AND (size IS NULL OR size < $2)`;

const INSERT_ENTRIES = `
  INSERT INTO entries (idx, data, validator, decision_id)
  SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[])`;

/** Tiles only grow, so an older, narrower copy does not replace a wider one. */
const UPSERT_TILES = `
  INSERT INTO tiles (level, idx, width, data)
  SELECT * FROM unnest($1::integer[], $2::bigint[], $3::integer[], $4::bytea[])
  ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data
  WHERE excluded.width > tiles.width`;

const INSERT_CHECKPOINT = `
  INSERT INTO checkpoints (size, root, note, created_ms) VALUES ($1, $2, $3, $4)`;

const INSERT_CHECKPOINTS = `
  INSERT INTO checkpoints (size, root, note, created_ms)
  SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bigint[])`;

/**
 * Reads the lease under a share lock held until COMMIT, so a takeover (an
 * UPDATE of that row) waits for this commit, and a commit that starts after
 * a takeover sees the new epoch.
 */
const LOCK_LEASE = 'SELECT holder, epoch FROM sequencer_lease FOR SHARE';

/** Skips rows that another indexer already wrote. */
const INSERT_INDEX_ROWS = `
  INSERT INTO search (idx, leaf_hash, "time", decision, iss, aud, key_domain, kid, tenant, rp)
  SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::text[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
  ON CONFLICT (idx) DO NOTHING`;

const SET_INDEXED_SIZE = `
  INSERT INTO meta (key, value) VALUES ('indexed_size', $1)
  ON CONFLICT (key) DO UPDATE
  SET value = greatest(meta.value::bigint, excluded.value::bigint)::text`;

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  /** Schema versions before and after connect() migrated the database. */
  migrated: Migrated = { from: 0, to: 0 };
  /** When set, commitBatch commits only while this lease is the newest one. */
  private fence: LeaseGrant | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    /** The database URL with its password masked. */
    readonly url: string,
  ) {}

  /** Makes every later commit check that `grant` still holds the lease (undefined: no check). */
  setFence(grant: LeaseGrant | undefined): void {
    this.fence = grant;
  }

  /**
   * Connects a pool to the database at `url` (postgres://user:password@host:port/database),
   * applies missing migrations and checks that commits wait for the WAL flush.
   */
  static async connect(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const masked = redactUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      max: checkOption('maxConnections', options.maxConnections ?? 10, 1),
      connectionTimeoutMillis: checkOption(
        'connectTimeoutMs',
        options.connectTimeoutMs ?? 10_000,
        1,
      ),
      application_name: 'declog',
    });
    // Without a listener, an idle connection dropped by the server would crash
    // the process. The pool discards that connection and opens a new one on demand.
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool, masked);
    try {
      store.migrated = await store.withClient('migrating the schema', (client) =>
        migrate(client, masked),
      );
      await store.checkSynchronousCommit();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  private async checkSynchronousCommit(): Promise<void> {
    const { rows } = await this.query<{ synchronous_commit: string }>(
      'reading synchronous_commit',
      'SHOW synchronous_commit',
    );
    const setting = rows[0]?.synchronous_commit;
    if (setting === 'off') {
      throw new StorageError(
        'storage_failed',
        `database ${this.url} has synchronous_commit=off, so an acknowledged batch could be lost on a crash: set synchronous_commit=on`,
      );
    }
  }

  private fail(what: string, cause: unknown): StorageError {
    if (cause instanceof StorageError) return cause;
    return new StorageError('storage_failed', `${what} failed on ${this.url}: ${String(cause)}`, {
      cause,
    });
  }

  private async query<R extends pg.QueryResultRow>(
    what: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (cause) {
      throw this.fail(what, cause);
    }
  }

  /** Runs `fn` on one pooled connection; after a failure the connection is discarded. */
  private async withClient<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (cause) {
      throw this.fail(what, cause);
    }
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (cause) {
      client.release(true);
      throw this.fail(what, cause);
    }
  }

  /** Runs `fn` in a READ COMMITTED transaction and commits it. */
  private async transaction<T>(
    what: string,
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    return this.withClient(what, async (client) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async getMeta(key: string): Promise<string | undefined> {
    const { rows } = await this.query<{ value: string }>(
      'reading meta',
      'SELECT value FROM meta WHERE key = $1',
      [key],
    );
    return rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.query(
      'writing meta',
      `INSERT INTO meta (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, value],
    );
  }

  /**
   * Commits a batch in one transaction. If the connection drops during COMMIT,
   * the outcome is unknown and this throws. The sequencer then reloads its
   * state from the store, and retried appends are idempotent.
   */
  async commitBatch(batch: Batch): Promise<void> {
    const { prevSize, entries, tiles, checkpoint: c } = batch;
    const fence = this.fence;
    await this.transaction('committing a batch', async (client) => {
      if (fence) await this.checkFence(client, fence, c.size);
      // The row lock on head makes other writers wait until COMMIT. A writer
      // that lost the race then sees the new size and updates no row.
      const moved = await client.query(ADVANCE_HEAD, [prevSize, c.size]);
      if (moved.rowCount !== 1) await this.rejectStaleWriter(client, prevSize, c.size);
      if (entries.length > 0) {
        await client.query(INSERT_ENTRIES, [
          entries.map((e) => e.index),
          entries.map((e) => e.data),
          entries.map((e) => e.validator),
          entries.map((e) => e.id),
        ]);
      }
      if (tiles.length > 0) {
        await client.query(UPSERT_TILES, [
          tiles.map((t) => t.level),
          tiles.map((t) => t.index),
          tiles.map((t) => t.width),
          tiles.map((t) => t.data),
        ]);
      }
      await client.query(INSERT_CHECKPOINT, [c.size, c.root, c.note, c.createdMs]);
    });
    // COMMIT point: entries, tiles, checkpoint and head are now durable together,
    // because COMMIT waited for the WAL flush. A failure before it leaves the
    // previous checkpoint and head in place.
  }

  private async checkFence(client: pg.PoolClient, fence: LeaseGrant, size: number): Promise<void> {
    const { rows } = await client.query<{ holder: string | null; epoch: string }>(LOCK_LEASE);
    const lease = rows[0];
    if (lease?.holder === fence.holder && toNumber(lease.epoch, 'lease epoch') === fence.epoch) {
      return;
    }
    throw new StorageError(
      'not_sequencer',
      `checkpoint ${size} not committed: this process held the sequencer lease at epoch ${fence.epoch}, but the database is at epoch ${lease?.epoch ?? 'none'}`,
    );
  }

  private async rejectStaleWriter(
    client: pg.PoolClient,
    prevSize: number,
    newSize: number,
  ): Promise<never> {
    const { rows } = await client.query<{ size: string | null }>('SELECT size FROM head');
    const stored = rows[0]?.size;
    const at = stored === null || stored === undefined ? 'has no checkpoint' : `is at ${stored}`;
    throw new StorageError(
      'storage_failed',
      `batch moves tree size ${prevSize} to ${newSize} but the store ${at}: another sequencer wrote to this log`,
    );
  }

  async latestCheckpoint(): Promise<CheckpointRecord | undefined> {
    const { rows } = await this.query<CheckpointRow>(
      'reading the checkpoint',
      'SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1',
    );
    return rows[0] ? toCheckpoint(rows[0]) : undefined;
  }

  async checkpoint(size: number): Promise<CheckpointRecord | undefined> {
    const { rows } = await this.query<CheckpointRow>(
      'reading a checkpoint',
      'SELECT * FROM checkpoints WHERE size = $1',
      [size],
    );
    return rows[0] ? toCheckpoint(rows[0]) : undefined;
  }

  async readTiles(keys: { level: number; index: number }[]): Promise<StoredTile[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.query<{ level: number; idx: string; width: number; data: Buffer }>(
      'reading tiles',
      `SELECT level, idx, width, data FROM tiles
       WHERE (level, idx) IN (SELECT * FROM unnest($1::integer[], $2::bigint[]))`,
      [keys.map((k) => k.level), keys.map((k) => k.index)],
    );
    return rows.map((row) => ({
      level: row.level,
      index: toNumber(row.idx, 'tile index'),
      width: row.width,
      data: toBytes(row.data),
    }));
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    const { rows } = await this.query<{ data: Buffer }>(
      'reading entries',
      'SELECT data FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx',
      [start, end],
    );
    return rows.map((row) => toBytes(row.data));
  }

  async findDecisionIds(validator: string, ids: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (ids.length === 0) return found;
    const { rows } = await this.query<{ decision_id: string; idx: string }>(
      'looking up decision IDs',
      'SELECT decision_id, idx FROM entries WHERE validator = $1 AND decision_id = ANY($2::text[])',
      [validator, ids],
    );
    for (const row of rows) found.set(row.decision_id, toNumber(row.idx, 'entry index'));
    return found;
  }

  async addValidator(validator: Validator): Promise<void> {
    await this.query(
      'adding a validator',
      'INSERT INTO validators (name, token_hash) VALUES ($1, $2)',
      [validator.name, validator.tokenHash],
    );
  }

  async validatorByTokenHash(tokenHash: Uint8Array): Promise<Validator | undefined> {
    const { rows } = await this.query<{ name: string; token_hash: Buffer }>(
      'reading validators',
      'SELECT name, token_hash FROM validators WHERE token_hash = $1',
      [tokenHash],
    );
    const row = rows[0];
    return row ? { name: row.name, tokenHash: toBytes(row.token_hash) } : undefined;
  }

  async listValidators(): Promise<string[]> {
    const { rows } = await this.query<{ name: string }>(
      'listing validators',
      'SELECT name FROM validators ORDER BY name',
    );
    return rows.map((row) => row.name);
  }

  async indexedSize(): Promise<number> {
    const value = await this.getMeta('indexed_size');
    return value === undefined ? 0 : toNumber(value, 'indexed size');
  }

  /**
   * Adds index rows and moves indexed_size forward. Two servers may index the
   * same entries at once, so rows already present are kept as they are.
   */
  async addIndexRows(rows: IndexRow[], newSize: number): Promise<void> {
    await this.transaction('writing the search index', async (client) => {
      if (rows.length > 0) {
        await client.query(INSERT_INDEX_ROWS, [
          rows.map((r) => r.index),
          rows.map((r) => r.leafHash),
          rows.map((r) => r.time),
          rows.map((r) => r.decision),
          rows.map((r) => r.iss),
          rows.map((r) => r.aud),
          rows.map((r) => r.key_domain),
          rows.map((r) => r.kid),
          rows.map((r) => r.tenant),
          rows.map((r) => r.rp),
        ]);
      }
      await client.query(SET_INDEXED_SIZE, [String(newSize)]);
    });
  }

  async indexOfLeafHash(leafHash: Uint8Array): Promise<number | undefined> {
    const { rows } = await this.query<{ idx: string }>(
      'looking up a leaf hash',
      'SELECT idx FROM search WHERE leaf_hash = $1 ORDER BY idx LIMIT 1',
      [leafHash],
    );
    return rows[0] ? toNumber(rows[0].idx, 'entry index') : undefined;
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (condition: string, value: unknown) => {
      params.push(value);
      where.push(`${condition} $${params.length}`);
    };
    for (const field of SEARCH_FIELDS) {
      const value = query.equals[field];
      if (value !== undefined) add(`${field} =`, value);
    }
    if (query.since !== undefined) add('"time" >=', query.since);
    if (query.until !== undefined) add('"time" <=', query.until);
    if (query.after !== undefined) add('idx >', query.after);
    params.push(query.limit);
    // One statement reads from one snapshot, so the index size matches the rows.
    const sql = `SELECT
        (SELECT value FROM meta WHERE key = 'indexed_size') AS indexed_size,
        ARRAY(SELECT idx FROM search
              ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
              ORDER BY idx LIMIT $${params.length}) AS indexes`;
    const { rows } = await this.query<{ indexed_size: string | null; indexes: string[] }>(
      'searching',
      sql,
      params,
    );
    const row = rows[0]!;
    return {
      indexes: row.indexes.map((idx) => toNumber(idx, 'entry index')),
      indexedSize: row.indexed_size === null ? 0 : toNumber(row.indexed_size, 'indexed size'),
    };
  }

  /** Sizes of all stored checkpoints, in increasing order. */
  async checkpointSizes(): Promise<number[]> {
    const { rows } = await this.query<{ size: string }>(
      'listing checkpoints',
      'SELECT size FROM checkpoints ORDER BY size',
    );
    return rows.map((row) => toNumber(row.size, 'checkpoint size'));
  }

  /** Returns what makes the database hold a log, or undefined when it holds none. */
  async contents(): Promise<string | undefined> {
    const { rows } = await this.query<{ what: string }>(
      'checking that the database is empty',
      `SELECT 'a checkpoint' AS what FROM head WHERE size IS NOT NULL
       UNION ALL SELECT 'entries' WHERE EXISTS (SELECT 1 FROM entries)
       UNION ALL SELECT 'validators' WHERE EXISTS (SELECT 1 FROM validators)
       UNION ALL SELECT 'an origin' WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'origin')`,
    );
    return rows[0]?.what;
  }

  /**
   * Writes rows copied from another store, in one transaction, without the
   * head compare-and-swap: for declog copy into an empty database only.
   * finishImport then sets head, which makes the log servable.
   */
  async importRows(rows: ImportRows): Promise<void> {
    const { entries = [], tiles = [], checkpoints = [], validators = [], meta = [] } = rows;
    await this.transaction('importing rows', async (client) => {
      if (entries.length > 0) {
        await client.query(INSERT_ENTRIES, [
          entries.map((e) => e.index),
          entries.map((e) => e.data),
          entries.map((e) => e.validator),
          entries.map((e) => e.id),
        ]);
      }
      if (tiles.length > 0) {
        await client.query(UPSERT_TILES, [
          tiles.map((t) => t.level),
          tiles.map((t) => t.index),
          tiles.map((t) => t.width),
          tiles.map((t) => t.data),
        ]);
      }
      if (checkpoints.length > 0) {
        await client.query(INSERT_CHECKPOINTS, [
          checkpoints.map((c) => c.size),
          checkpoints.map((c) => c.root),
          checkpoints.map((c) => c.note),
          checkpoints.map((c) => c.createdMs),
        ]);
      }
      for (const v of validators) {
        await client.query('INSERT INTO validators (name, token_hash) VALUES ($1, $2)', [
          v.name,
          v.tokenHash,
        ]);
      }
      for (const [key, value] of meta) {
        await client.query('INSERT INTO meta (key, value) VALUES ($1, $2)', [key, value]);
      }
    });
  }

  /** Sets head to the copied log's size; fails if head is already set. */
  async finishImport(size: number): Promise<void> {
    const { rowCount } = await this.query(
      'setting the head of a copied log',
      'UPDATE head SET size = $1 WHERE size IS NULL',
      [size],
    );
    if (rowCount !== 1) {
      throw new StorageError(
        'storage_failed',
        `cannot set the head of ${this.url} to ${size}: another process wrote a checkpoint during the copy`,
      );
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
