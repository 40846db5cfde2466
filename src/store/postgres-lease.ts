/**
 * The sequencer lease of a PostgreSQL log: one row (table sequencer_lease)
 * names the process allowed to commit, and until when. Expiry is measured
 * on the database's clock, so the servers' clocks need not agree. Each
 * takeover adds one to the epoch; PostgresStore.setFence makes every commit
 * check it, so a deposed sequencer can never commit after a new one started.
 *
 * The lease has its own small connection pool, so renewals do not queue
 * behind a busy store pool.
 */
import pg from 'pg';
import { InputError, StorageError } from '../errors.js';
import { type LeaseGrant, redactUrl } from './postgres.js';

export interface LeaseOptions {
  /** Name of this process in the lease row; unique among the servers of a log. */
  holder: string;
  /** URL where this process accepts appends, shown to the others while it sequences. */
  url?: string;
  /** How long a grant or renewal lasts, in ms (default 4000). */
  ttlMs?: number;
}

/** The lease row as another process sees it. */
export interface LeaseState {
  holder: string | undefined;
  url: string | undefined;
  epoch: number;
  /** Whether the holder's lease has not yet expired. */
  live: boolean;
}

/**
 * Takes the lease when it is free, expired, or already ours (a restart under
 * the same holder name), and moves the epoch on a takeover.
 */
const ACQUIRE = `
  UPDATE sequencer_lease
  SET holder = $1, url = $2, expires_at = now() + $3 * interval '1 millisecond',
      epoch = epoch + 1
  WHERE holder IS NULL OR expires_at < now() OR holder = $1
  RETURNING epoch`;

/** Extends the lease only if no one took it over since it was granted. */
const RENEW = `
  UPDATE sequencer_lease SET expires_at = now() + $3 * interval '1 millisecond'
  WHERE holder = $1 AND epoch = $2`;

/** Gives the lease up at once, so another process takes over without waiting for expiry. */
const RELEASE = `
  UPDATE sequencer_lease SET expires_at = '-infinity'
  WHERE holder = $1 AND epoch = $2`;

const READ = `
  SELECT holder, url, epoch, expires_at > now() AS live FROM sequencer_lease`;

export class PostgresLease {
  private readonly pool: pg.Pool;
  private readonly where: string;
  readonly holder: string;
  readonly ttlMs: number;
  private readonly url: string | null;

  constructor(databaseUrl: string, options: LeaseOptions) {
    this.where = redactUrl(databaseUrl);
    this.holder = options.holder;
    this.url = options.url ?? null;
    this.ttlMs = options.ttlMs ?? 4000;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < 100) {
      throw new InputError(
        'invalid_argument',
        `lease ttlMs must be an integer >= 100, got ${this.ttlMs}`,
      );
    }
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 2,
      connectionTimeoutMillis: this.ttlMs,
      application_name: 'declog-lease',
    });
    this.pool.on('error', () => undefined);
  }

  private async run(what: string, sql: string, params: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (cause) {
      throw new StorageError(
        'storage_failed',
        `${what} failed on ${this.where}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
  }

  /** Takes the lease if it is free or expired; returns the grant, or undefined if another holds it. */
  async acquire(): Promise<LeaseGrant | undefined> {
    const { rows } = await this.run('taking the sequencer lease', ACQUIRE, [
      this.holder,
      this.url,
      this.ttlMs,
    ]);
    const epoch = rows[0]?.epoch;
    return epoch === undefined ? undefined : { holder: this.holder, epoch: Number(epoch) };
  }

  /** Extends a grant; returns false when another process has taken the lease since. */
  async renew(grant: LeaseGrant): Promise<boolean> {
    const { rowCount } = await this.run('renewing the sequencer lease', RENEW, [
      grant.holder,
      grant.epoch,
      this.ttlMs,
    ]);
    return rowCount === 1;
  }

  /** Ends a grant now, if it is still the newest. */
  async release(grant: LeaseGrant): Promise<void> {
    await this.run('releasing the sequencer lease', RELEASE, [grant.holder, grant.epoch]);
  }

  /** Reads who holds the lease. */
  async read(): Promise<LeaseState> {
    const { rows } = await this.run('reading the sequencer lease', READ, []);
    const row = rows[0] as
      { holder: string | null; url: string | null; epoch: string; live: boolean } | undefined;
    return {
      holder: row?.holder ?? undefined,
      url: row?.url ?? undefined,
      epoch: Number(row?.epoch ?? 0),
      live: row?.live ?? false,
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
