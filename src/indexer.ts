/**
 * Fills the search index just behind the sequencer, off the append path.
 * Rows of committed entries are written in their own transaction after the
 * waiters are answered; the index never runs ahead of the log, and after a
 * restart it catches up by decoding the entries it lacks.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type Decision, decodeDecision } from './decision.js';
import { StorageError } from './errors.js';
import { leafHash } from './hash.js';
import type { IndexRow, Store } from './store/store.js';

const CATCH_UP_CHUNK = 4096;

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

/** What the ledger needs of a search indexer. */
export interface SearchIndexer {
  /** Queues the rows of a commit that made the tree `size` entries long. */
  add(rows: IndexRow[], size: number): void;
  /** Starts indexing up to `size`; resolves when the index reaches it. */
  catchUp(size: number): Promise<void>;
  /** Resolves once everything queued so far is indexed. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export class Indexer implements SearchIndexer {
  private pending: IndexRow[] = [];
  private running: Promise<void> | undefined;
  private target = 0;

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {}

  /** Queues the rows of a commit that made the tree `size` entries long. */
  add(rows: IndexRow[], size: number): void {
    for (const row of rows) this.pending.push(row);
    this.catchUp(size);
  }

  /** Starts (or extends) indexing up to `size`; resolves when the index reaches it. */
  catchUp(size: number): Promise<void> {
    this.target = Math.max(this.target, size);
    if (!this.running) {
      this.running = new Promise<void>((resolve) => setImmediate(resolve))
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

const WORKER_SCRIPT = fileURLToPath(new URL('./index-worker.js', import.meta.url));

/** Whether the compiled worker script exists (it does not when running from TypeScript sources). */
export function workerIndexerAvailable(): boolean {
  return existsSync(WORKER_SCRIPT);
}

/**
 * Runs the indexer of a SQLite database in a worker thread, so indexing uses
 * another core than the sequencer. The worker decodes committed entries
 * itself, so the rows of each commit are not sent across.
 */
export class WorkerIndexer implements SearchIndexer {
  private readonly worker: Worker;
  private indexed = 0;
  private target = 0;
  private failed = false;
  private inFlight = false;
  private waiters: { size: number; resolve: () => void }[] = [];
  private readonly exited: Promise<void>;

  constructor(
    databasePath: string,
    private readonly logger?: Logger,
  ) {
    this.worker = new Worker(WORKER_SCRIPT, { workerData: { path: databasePath } });
    this.worker.on('message', (message: { indexed?: number; error?: string }) => {
      if (message.error !== undefined) {
        this.logger?.error({ err: message.error }, 'search indexing failed; retried on the next commit');
      }
      if (message.indexed !== undefined) this.indexed = Math.max(this.indexed, message.indexed);
      this.inFlight = false;
      this.wake();
      this.send();
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('error', (err) => {
        this.logger?.error({ err }, 'search index worker failed; search stops at its indexed size');
        this.failed = true;
        this.wake();
      });
      this.worker.on('exit', () => {
        this.failed = true;
        this.wake();
        resolve();
      });
    });
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.failed || this.indexed >= w.size) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  add(_rows: IndexRow[], size: number): void {
    void this.catchUp(size);
  }

  catchUp(size: number): Promise<void> {
    this.target = Math.max(this.target, size);
    if (this.failed || this.indexed >= size) return Promise.resolve();
    this.send();
    return new Promise((resolve) => this.waiters.push({ size, resolve }));
  }

  /** Sends the target to the worker unless a request is already out: one message per round trip. */
  private send(): void {
    if (this.inFlight || this.failed || this.indexed >= this.target) return;
    this.inFlight = true;
    this.worker.postMessage({ size: this.target });
  }

  idle(): Promise<void> {
    return this.catchUp(this.target);
  }

  async close(): Promise<void> {
    if (!this.failed) this.worker.postMessage('close');
    await this.exited;
  }
}
