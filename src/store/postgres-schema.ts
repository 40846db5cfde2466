/**
 * Schema of the PostgreSQL store and its migrations. The table
 * schema_migrations lists the versions applied. A process applies the
 * missing ones in one transaction under an advisory lock, so two processes
 * starting at once on a new database do not apply a step twice.
 */
import type { PoolClient } from 'pg';
import { StorageError } from '../errors.js';

/**
 * Schema versions, applied in order. The tables mirror the SQLite store's,
 * with bytea for bytes and bigint for indexes and sizes. The extra table
 * `head` has one row with the size of the newest checkpoint (NULL before the
 * first one), which every commit updates with a compare-and-swap.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
  CREATE TABLE head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    size bigint CHECK (size >= 0)
  );
  INSERT INTO head (singleton, size) VALUES (true, NULL);
  CREATE TABLE entries (
    idx bigint PRIMARY KEY CHECK (idx >= 0),
    data bytea NOT NULL,
    validator text NOT NULL,
    decision_id text NOT NULL,
    UNIQUE (validator, decision_id)
  );
  CREATE TABLE tiles (
    level integer NOT NULL CHECK (level >= 0),
    idx bigint NOT NULL CHECK (idx >= 0),
    width integer NOT NULL CHECK (width BETWEEN 1 AND 256),
    data bytea NOT NULL,
    PRIMARY KEY (level, idx)
  );
  CREATE TABLE checkpoints (
    size bigint PRIMARY KEY CHECK (size >= 0),
    root bytea NOT NULL,
    note text NOT NULL,
    created_ms bigint NOT NULL
  );
  CREATE TABLE validators (
    name text PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE
  );
  CREATE TABLE search (
    idx bigint PRIMARY KEY,
    leaf_hash bytea NOT NULL,
    "time" bigint NOT NULL,
    decision text NOT NULL,
    iss text NOT NULL,
    aud text NOT NULL,
    key_domain text NOT NULL,
    kid text NOT NULL,
    tenant text,
    rp text NOT NULL
  );
  CREATE INDEX search_by_kid ON search (kid, idx);
  CREATE INDEX search_by_iss ON search (iss, idx);
  CREATE INDEX search_by_aud ON search (aud, idx);
  CREATE INDEX search_by_key_domain ON search (key_domain, idx);
  CREATE INDEX search_by_tenant ON search (tenant, idx);
  CREATE INDEX search_by_rp ON search (rp, idx);
  CREATE INDEX search_by_decision ON search (decision, idx);
  CREATE INDEX search_by_time ON search ("time", idx);
  CREATE INDEX search_by_leaf_hash ON search (leaf_hash);
  `,
  // Version 2: the sequencer lease. One row names the process allowed to
  // commit (holder), until expires_at on the database's clock. Every takeover
  // adds one to epoch, and a commit checks the epoch it was granted, so a
  // deposed sequencer's commit fails once another process holds the lease.
  `
  CREATE TABLE sequencer_lease (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    holder text,
    url text,
    epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
  );
  INSERT INTO sequencer_lease (singleton) VALUES (true);
  `,
];

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Advisory lock key held while migrating: the ASCII bytes of "declog" as a number. */
const MIGRATION_LOCK = 0x6465636c6f67;

/** Returns the newest schema version applied, 0 for a new database. */
async function appliedVersion(client: PoolClient): Promise<number> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version integer PRIMARY KEY,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const { rows } = await client.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM schema_migrations',
  );
  return rows[0]?.version ?? 0;
}

/** Schema versions before and after a migration. */
export interface Migrated {
  from: number;
  to: number;
}

/**
 * Applies the migrations a database lacks, all in one transaction under the
 * advisory lock, and rejects a schema newer than this code. `where` names the
 * database in errors.
 */
export async function migrate(client: PoolClient, where: string): Promise<Migrated> {
  await client.query('BEGIN');
  try {
    // The lock is held until COMMIT or ROLLBACK. A second process waits here,
    // then finds every migration applied.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const current = await appliedVersion(client);
    if (current > MIGRATIONS.length) {
      throw new StorageError(
        'schema_too_new',
        `database ${where} has schema version ${current}, newer than ${MIGRATIONS.length} supported here: upgrade declog`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version]!);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version + 1]);
    }
    await client.query('COMMIT');
    return { from: current, to: Math.max(current, MIGRATIONS.length) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
