/**
 * Commits SQLite batches on a worker thread. better-sqlite3 is synchronous,
 * so a commit on the main thread would block the event loop for its fsync;
 * on a worker, requests keep arriving and queue for the next batch while the
 * previous one is made durable, which is what makes group commit pay off.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StorageError } from '../errors.js';
import type { Batch } from './store.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./sqlite-writer-worker.js', import.meta.url));

/** Whether the compiled worker script exists (it does not when running from TypeScript sources). */
export function writerThreadAvailable(): boolean {
  return existsSync(WORKER_SCRIPT);
}

interface Reply {
  id: number;
  error?: string;
}

export class SqliteWriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private nextId = 0;
  private failure: StorageError | undefined;

  constructor(private readonly path: string) {
    this.worker = new Worker(WORKER_SCRIPT, { workerData: { path } });
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error === undefined) waiter?.resolve();
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

  /** Commits a batch on the worker; resolves once it is durable. */
  commit(batch: Batch): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch });
    });
  }

  async close(): Promise<void> {
    if (this.failure) return;
    this.worker.postMessage('close');
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}
