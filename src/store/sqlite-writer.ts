/**
 * The worker threads of a SQLite log. better-sqlite3 is synchronous, so a
 * commit on the main thread would block the event loop for its fsync. With
 * the writer thread, requests keep arriving and queue for the next batch
 * while the previous one is made durable, which is what makes group commit
 * pay off. The index thread fills the search database, in a file of its own, so
 * that its many page writes never delay a commit.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StorageError } from '../errors.js';
import { packBatch } from './packed-batch.js';
import type { Batch } from './store.js';
import type { IndexReply, IndexRequest } from './sqlite-index-worker.js';
import type { WriterReply, WriterRequest } from './sqlite-writer-worker.js';

const WRITER_SCRIPT = fileURLToPath(new URL('./sqlite-writer-worker.js', import.meta.url));
const INDEX_SCRIPT = fileURLToPath(new URL('./sqlite-index-worker.js', import.meta.url));
/** Maximum time the index thread may take to stop: its close budget, plus time for one transaction. */
const INDEX_CLOSE_LIMIT_MS = 3_000;

/** Returns whether the compiled worker scripts exist (they do not when running from TypeScript sources). */
export function writerThreadAvailable(): boolean {
  return existsSync(WRITER_SCRIPT) && existsSync(INDEX_SCRIPT);
}

type Waiter<R> = { resolve: (reply: R) => void; reject: (e: unknown) => void };
type Body<T> = T extends { id: number } ? Omit<T, 'id'> : never;

/** A worker thread that replies to each request carrying an `id` with a reply of the same `id`. */
class WorkerChannel<
  Request extends { type: string },
  Reply extends { id?: number; error?: string },
> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Waiter<Reply>>();
  private nextId = 0;
  private failure: StorageError | undefined;
  private closing = false;
  /** Receives the error of a thread that fails or exits before close() was called. */
  onFailure: ((error: StorageError) => void) | undefined;

  constructor(script: string, path: string, name: string, onReply?: (reply: Reply) => void) {
    this.worker = new Worker(script, { workerData: { path } });
    this.worker.on('message', (reply: Reply) => {
      onReply?.(reply);
      if (reply.id === undefined) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error === undefined) waiter?.resolve(reply);
      else waiter?.reject(new StorageError('storage_failed', reply.error));
    });
    const fail = (why: string) => {
      this.failure = new StorageError('storage_failed', `SQLite ${name} thread for ${path} ${why}`);
      for (const waiter of this.pending.values()) waiter.reject(this.failure);
      this.pending.clear();
      if (!this.closing) this.onFailure?.(this.failure);
    };
    this.worker.on('error', (err) => fail(`failed: ${String(err)}`));
    this.worker.on('exit', (code) => fail(`exited with code ${code}`));
  }

  /** Sends a request, moving the buffers in `transfer` to the thread, and resolves with its reply. */
  request(body: Body<Request>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...body }, transfer);
    });
  }

  /** Sends a request that gets no reply; dropped once the thread has failed. */
  post(request: Request): void {
    if (!this.failure) this.worker.postMessage(request);
  }

  /**
   * Sends the close request and resolves once the thread has exited. A
   * thread still running after `limitMs` is terminated.
   */
  async close(body: Body<Request>, limitMs = Infinity): Promise<void> {
    if (this.failure) return;
    this.closing = true;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    const limit = Number.isFinite(limitMs)
      ? setTimeout(() => void this.worker.terminate(), limitMs)
      : undefined;
    await this.request(body).catch(() => undefined);
    await exited;
    clearTimeout(limit);
  }
}

/** The thread that commits batches of a SQLite log, in the order they are sent. */
export class SqliteWriterThread {
  private readonly channel: WorkerChannel<WriterRequest, WriterReply>;

  constructor(path: string) {
    this.channel = new WorkerChannel(WRITER_SCRIPT, path, 'writer');
  }

  /** Commits a batch on the worker; resolves once it is durable. */
  async commit(batch: Batch): Promise<void> {
    // The writer needs no search rows: the index thread reads the entries itself.
    const { packed, transfer } = packBatch(batch);
    await this.channel.request({ type: 'commit', batch: packed }, transfer);
  }

  close(): Promise<void> {
    return this.channel.close({ type: 'close' });
  }
}

/** The thread that fills the search database of a SQLite log from its committed entries. */
export class SqliteIndexThread {
  private readonly channel: WorkerChannel<IndexRequest, IndexReply>;
  /** Receives failures of background indexing, for the log. */
  onIndexError: ((message: string) => void) | undefined;

  constructor(path: string) {
    this.channel = new WorkerChannel(INDEX_SCRIPT, path, 'index', (reply) => {
      if (reply.indexError !== undefined) this.onIndexError?.(reply.indexError);
    });
    this.channel.onFailure = (error) => this.onIndexError?.(error.message);
  }

  /** Tells the thread that the log has `size` entries, without waiting. */
  notify(size: number): void {
    this.channel.post({ type: 'notify', size });
  }

  /** Indexes the log up to `size` entries; resolves with the size the index covers. */
  async indexTo(size: number): Promise<number> {
    return (await this.channel.request({ type: 'index', size })).indexed ?? 0;
  }

  /**
   * Stops indexing and closes the thread's connections, or terminates the
   * thread after INDEX_CLOSE_LIMIT_MS: the search database is rebuilt from the log,
   * so an unfinished index transaction is only rolled back.
   */
  close(): Promise<void> {
    return this.channel.close({ type: 'close' }, INDEX_CLOSE_LIMIT_MS);
  }
}
