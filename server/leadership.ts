/**
 * Wires a Leadership to a server whose log is in PostgreSQL: a lease on the
 * same database, named after this process, fencing the store's commits.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Leadership } from '../src/leadership.js';
import type { Ledger } from '../src/ledger.js';
import { PostgresStore } from '../src/store/postgres.js';
import { PostgresLease } from '../src/store/postgres-lease.js';

export interface LeaseTiming {
  /** How long a grant or renewal of the lease lasts, in ms (default 3000). */
  ttlMs?: number;
  /** How often the lease is renewed or sought, in ms (default 1000). */
  renewMs?: number;
}

/** A name for this process in the lease row: host, process ID and a random suffix. */
function holderName(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

/**
 * Starts seeking the sequencer lease of the ledger's PostgreSQL database.
 * `advertiseUrl` is where the other servers send appends while this one sequences.
 */
export async function startLeadership(
  ledger: Ledger,
  databaseUrl: string,
  advertiseUrl: string,
  logger: Logger,
  timing: LeaseTiming = {},
): Promise<Leadership> {
  const store = ledger.store;
  if (!(store instanceof PostgresStore)) {
    throw new TypeError(`a sequencer lease needs a PostgreSQL store, not ${store.kind}`);
  }
  const lease = new PostgresLease(databaseUrl, {
    holder: holderName(),
    url: advertiseUrl,
    ttlMs: timing.ttlMs ?? 3000,
  });
  const fence = store.setFence.bind(store);
  const leadership = new Leadership(ledger, lease, fence, { renewMs: timing.renewMs, logger });
  try {
    await leadership.start();
  } catch (err) {
    await leadership.stop();
    throw err;
  }
  return leadership;
}
