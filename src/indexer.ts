/**
 * Fills the search index just behind the sequencer, off the append path.
 * Rows of committed entries are written in their own transaction after the
 * waiters have their receipts; the index never runs ahead of the log, and after a
 * restart it catches up by decoding the entries it lacks.
 */
import type { Logger } from 'pino';
import { type Decision, decodeDecision } from './decision.js';
import { StorageError } from './errors.js';
import { leafHash } from './hash.js';
import type { IndexRow, Store } from './store/store.js';

const CATCH_UP_CHUNK = 1024;

/**
 * Pause between two index transactions, in ms. SQLite's busy handler polls,
 * so a writer that re-took the lock at once could starve the sequencer's
 * commits until their busy timeout; the pause lets a waiting commit in.
 */
const YIELD_MS = 2;

/** Returns the search index row of one logged decision. */
export function indexRow(index: number, hash: Uint8Array, d: Decision): IndexRow {
  return {
    index,
    leafHash: hash,
    time: d.time,
    decision: d.decision,
    iss: d.iss,
    aud: d.aud,
    key_domain: d.key_domain,
    kid: d.kid,
    tenant: d.tenant ?? null,
    rp: d.rp,
  };
}

/** A search indexer, as the ledger uses it. */
export interface SearchIndexer {
  /** Queues the rows of a commit that made the tree `size` entries long. */
  add(rows: IndexRow[], size: number): void;
  /** Starts indexing up to `size`; resolves when the index reaches it. */
  catchUp(size: number): Promise<void>;
  /** Resolves once everything queued so far is indexed. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface IndexerOptions {
  /**
   * Time to gather the rows of further commits before indexing, in ms
   * (default 0: the next turn of the event loop). Rows of the leaf hash index
   * land at random pages, so one transaction of many rows writes far fewer
   * pages than many small ones: 5000 rows at once went in about 3 times
   * faster than 100 at a time.
   */
  gatherMs?: number;
}

export class Indexer implements SearchIndexer {
  private pending: IndexRow[] = [];
  private running: Promise<void> | undefined;
  private target = 0;
  private readonly gatherMs: number;

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
    options: IndexerOptions = {},
  ) {
    this.gatherMs = options.gatherMs ?? 0;
  }

  /** Queues the rows of a commit that made the tree `size` entries long. */
  add(rows: IndexRow[], size: number): void {
    for (const row of rows) this.pending.push(row);
    this.catchUp(size);
  }

  /** Starts (or extends) indexing up to `size`; resolves when the index reaches it. */
  catchUp(size: number): Promise<void> {
    this.target = Math.max(this.target, size);
    if (!this.running) {
      const gathered = new Promise<void>((resolve) =>
        this.gatherMs > 0 ? setTimeout(resolve, this.gatherMs) : setImmediate(resolve),
      );
      this.running = gathered
        .then(() => this.run())
        .catch((err) =>
          this.logger?.error({ err }, 'search indexing failed; retried on the next commit'),
        )
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  /** Resolves once every queued row is written. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    await this.idle();
  }

  private async run(): Promise<void> {
    let indexed = await this.store.indexedSize();
    while (indexed < this.target) {
      const rows = this.takePending(indexed);
      const batch = rows.length > 0 ? rows : await this.decodeFromLog(indexed);
      const end = indexed + batch.length;
      await this.store.addIndexRows(batch, end);
      indexed = end;
      if (indexed < this.target) await new Promise((resolve) => setTimeout(resolve, YIELD_MS));
    }
  }

  /** Takes queued rows that continue the index exactly at `indexed`; drops older ones. */
  private takePending(indexed: number): IndexRow[] {
    const start = this.pending.findIndex((row) => row.index >= indexed);
    if (start < 0) {
      this.pending = [];
      return [];
    }
    if (this.pending[start]!.index !== indexed) return [];
    let end = start;
    while (end < this.pending.length && this.pending[end]!.index === indexed + (end - start)) end++;
    const rows = this.pending.slice(start, end);
    this.pending = this.pending.slice(end);
    return rows;
  }

  private async decodeFromLog(indexed: number): Promise<IndexRow[]> {
    const end = Math.min(this.target, indexed + CATCH_UP_CHUNK);
    const entries = await this.store.readEntries(indexed, end);
    if (entries.length === 0) {
      throw new StorageError(
        'corrupt_store',
        `entries from index ${indexed} are missing from the log`,
      );
    }
    return entries.map((data, i) => indexRow(indexed + i, leafHash(data), decodeDecision(data)));
  }
}

/** The part of the SQLite writer thread an indexer uses: indexing up to a size on its own connection. */
export interface IndexingThread {
  indexTo(size: number): Promise<number>;
  onIndexError: ((message: string) => void) | undefined;
}

/**
 * Indexes on the SQLite writer thread, which fills the index between
 * commits on its own, so this only waits for it when asked.
 */
export class WorkerIndexer implements SearchIndexer {
  private target = 0;

  constructor(
    private readonly thread: IndexingThread,
    logger?: Logger,
  ) {
    thread.onIndexError = (message) =>
      logger?.error({ err: message }, 'search indexing failed; retried on the next commit');
  }

  add(_rows: IndexRow[], size: number): void {
    this.target = Math.max(this.target, size);
  }

  async catchUp(size: number): Promise<void> {
    this.target = Math.max(this.target, size);
    await this.thread.indexTo(size);
  }

  idle(): Promise<void> {
    return this.catchUp(this.target);
  }

  /** The writer thread finishes indexing when the store closes. */
  async close(): Promise<void> {}
}
