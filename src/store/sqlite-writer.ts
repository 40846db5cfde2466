/**
 * Writes a SQLite log on a worker thread. better-sqlite3 is synchronous, so
 * a commit on the main thread would block the event loop for its fsync; on a
 * worker, requests keep arriving and queue for the next batch while the
 * previous one is made durable, which is what makes group commit pay off.
 * The same thread fills the search index between commits, so the database
 * has one writing connection and commits never wait on index locks.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StorageError } from '../errors.js';
import type { Batch } from './store.js';
import type { WriterReply } from './sqlite-writer-worker.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./sqlite-writer-worker.js', import.meta.url));

/** Returns whether the compiled worker script exists (it does not when running from TypeScript sources). */
export function writerThreadAvailable(): boolean {
  return existsSync(WORKER_SCRIPT);
}

type Waiter = { resolve: (reply: WriterReply) => void; reject: (e: unknown) => void };

export class SqliteWriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Waiter>();
  private nextId = 0;
  private failure: StorageError | undefined;
  /** Receives failures of background indexing, for the log. */
  onIndexError: ((message: string) => void) | undefined;

  constructor(path: string) {
    this.worker = new Worker(WORKER_SCRIPT, { workerData: { path } });
    this.worker.on('message', (reply: WriterReply) => {
      if (reply.indexError !== undefined) this.onIndexError?.(reply.indexError);
      if (reply.id === undefined) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error === undefined) waiter?.resolve(reply);
      else waiter?.reject(new StorageError('storage_failed', reply.error));
    });
    const fail = (why: string) => {
      this.failure = new StorageError('storage_failed', `SQLite writer thread for ${path} ${why}`);
      for (const waiter of this.pending.values()) waiter.reject(this.failure);
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(`failed: ${String(err)}`));
    this.worker.on('exit', (code) => fail(`exited with code ${code}`));
  }

  private request(
    body: { type: 'commit'; batch: Batch } | { type: 'index'; size: number } | { type: 'close' },
  ) {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<WriterReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...body });
    });
  }

  /** Commits a batch on the worker; resolves once it is durable. */
  async commit(batch: Batch): Promise<void> {
    await this.request({ type: 'commit', batch });
  }

  /** Indexes the log up to `size` entries; resolves with the size the index covers. */
  async indexTo(size: number): Promise<number> {
    return (await this.request({ type: 'index', size })).indexed ?? 0;
  }

  /** Finishes indexing and closes the worker's connection. */
  async close(): Promise<void> {
    if (this.failure) return;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    await this.request({ type: 'close' }).catch(() => undefined);
    await exited;
  }
}
