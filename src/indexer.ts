/**
 * Fills the search index just behind the sequencer, off the append path.
 * Rows of committed entries are written in their own transaction after the
 * waiters have their receipts; the index never runs ahead of the log, and after a
 * restart it catches up by decoding the entries it lacks.
 */
import type { Logger } from 'pino';
import { type Decision, decodeLoggedDecision } from './decision.js';
import { StorageError } from './errors.js';
import { HASH_SIZE, leafHash } from './hash.js';
import type { IndexRow, Store } from './store/store.js';
import { TILE_WIDTH } from './tiles.js';

const CATCH_UP_CHUNK = 1024;

/**
 * Default pause between two index transactions, in ms, so that other work of
 * the event loop, such as the commits of a store on the same thread, runs in between.
 */
const YIELD_MS = 2;

/**
 * Default bound on the rows of committed entries held for the index. Past
 * it, rows are dropped and later decoded from the log, so an index that
 * falls behind a long burst of appends costs no more memory.
 */
const MAX_PENDING_ROWS = 50_000;

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
  /** Whether add() needs the rows, or only the new size because the indexer reads the entries. */
  readonly wantsRows: boolean;
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
  /** Maximum rows in one index transaction (default: every row at hand). */
  maxRows?: number;
  /** Maximum rows held until they are indexed (default 50,000). Later ones are decoded from the log. */
  maxPendingRows?: number;
  /**
   * Pause between two index transactions, in ms (default 2), skipped while
   * `maxRows` or more rows wait. With 0 the next one starts after the events
   * already due, such as a waiting commit.
   */
  yieldMs?: number;
}

export class Indexer implements SearchIndexer {
  readonly wantsRows = true;
  /** Rows of committed entries not yet indexed, in index order, from `head` on. */
  private pending: IndexRow[] = [];
  private head = 0;
  private running: Promise<void> | undefined;
  private target = 0;
  private readonly gatherMs: number;
  private readonly maxRows: number;
  private readonly yieldMs: number;
  private readonly maxPendingRows: number;
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
    options: IndexerOptions = {},
  ) {
    this.gatherMs = options.gatherMs ?? 0;
    this.maxRows = options.maxRows ?? Infinity;
    this.yieldMs = options.yieldMs ?? YIELD_MS;
    this.maxPendingRows = options.maxPendingRows ?? MAX_PENDING_ROWS;
  }

  /** Queues the rows of a commit that made the tree `size` entries long. */
  add(rows: IndexRow[], size: number): void {
    // Rows past the bound are decoded from the log when the index reaches them.
    if (this.pending.length - this.head + rows.length <= this.maxPendingRows) {
      for (const row of rows) this.pending.push(row);
    }
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

  /**
   * Stops indexing after the transaction in progress, as stop() does. A ledger
   * does not wait for the index when it opens, so this may come early in a
   * rebuild of the whole log, which the next start continues.
   */
  async close(): Promise<void> {
    await this.stop();
  }

  /** Stops indexing after the transaction in progress; the index catches up on the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.idle();
  }

  private async run(): Promise<void> {
    let indexed = await this.store.indexedSize();
    while (indexed < this.target && !this.stopping) {
      const rows = this.takePending(indexed);
      const batch = rows.length > 0 ? rows : await this.decodeFromLog(indexed);
      const end = indexed + batch.length;
      await this.store.addIndexRows(batch, end);
      indexed = end;
      if (indexed >= this.target) break;
      const pause = this.target - indexed >= this.maxRows ? 0 : this.yieldMs;
      await new Promise((resolve) =>
        pause > 0 ? setTimeout(resolve, pause) : setImmediate(resolve),
      );
    }
  }

  /** Takes queued rows that continue the index exactly at `indexed`; drops older ones. */
  private takePending(indexed: number): IndexRow[] {
    const pending = this.pending;
    while (this.head < pending.length && pending[this.head]!.index < indexed) this.head++;
    if (this.head === pending.length) {
      this.pending = [];
      this.head = 0;
      return [];
    }
    const start = this.head;
    if (pending[start]!.index !== indexed) return [];
    const last = Math.min(pending.length, start + this.maxRows);
    let end = start;
    while (end < last && pending[end]!.index === indexed + (end - start)) end++;
    this.head = end;
    const rows = pending.slice(start, end);
    if (this.head * 2 > pending.length) {
      this.pending = pending.slice(this.head);
      this.head = 0;
    }
    return rows;
  }

  private async decodeFromLog(indexed: number): Promise<IndexRow[]> {
    const chunk = Number.isFinite(this.maxRows) ? this.maxRows : CATCH_UP_CHUNK;
    const end = Math.min(this.target, indexed + chunk);
    const entries = await this.store.readEntries(indexed, end);
    if (entries.length === 0) {
      throw new StorageError(
        'corrupt_store',
        `entries from index ${indexed} are missing from the log`,
      );
    }
    // The entries were checked when appended, so they skip decodeDecision's checks, which cost 4 times as much.
    const hashes =
      (await storedLeafHashes(this.store, indexed, indexed + entries.length)) ??
      entries.map(leafHash);
    return entries.map((data, i) => indexRow(indexed + i, hashes[i]!, decodeLoggedDecision(data)));
  }
}

/**
 * Returns the leaf hashes of entries [start, end) as the level 0 tiles
 * hold them, which costs less than hashing the entries again, or undefined
 * if a tile is missing or narrower than the entries.
 */
async function storedLeafHashes(
  store: Store,
  start: number,
  end: number,
): Promise<Uint8Array[] | undefined> {
  const first = Math.floor(start / TILE_WIDTH);
  const keys = [];
  for (let index = first; index * TILE_WIDTH < end; index++) keys.push({ level: 0, index });
  const tiles = await store.readTiles(keys);
  const hashes: Uint8Array[] = [];
  for (let i = start; i < end; i++) {
    const tile = tiles[Math.floor(i / TILE_WIDTH) - first];
    const at = i % TILE_WIDTH;
    if (tile?.index !== Math.floor(i / TILE_WIDTH) || at >= tile.width) return undefined;
    hashes.push(tile.data.subarray(at * HASH_SIZE, (at + 1) * HASH_SIZE));
  }
  return hashes;
}

/** The part of the SQLite index thread an indexer uses: indexing up to a size on its own connection. */
export interface IndexingThread {
  /** Tells the thread that the log has `size` entries, without waiting. */
  notify(size: number): void;
  /** Resolves with the size the index covers once it reaches `size`. */
  indexTo(size: number): Promise<number>;
  onIndexError: ((message: string) => void) | undefined;
}

/**
 * Indexes on the SQLite index thread, which decodes new entries from the log
 * itself, so the ledger passes it only the new tree size after each commit.
 */
export class WorkerIndexer implements SearchIndexer {
  readonly wantsRows = false;
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
    this.thread.notify(size);
  }

  async catchUp(size: number): Promise<void> {
    this.target = Math.max(this.target, size);
    await this.thread.indexTo(size);
  }

  idle(): Promise<void> {
    return this.catchUp(this.target);
  }

  /** The index thread stops when the store closes. */
  async close(): Promise<void> {}
}
