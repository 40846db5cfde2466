/** Worker thread of SqliteWriterThread: commits each batch it receives with its own connection. */
import { parentPort, workerData } from 'node:worker_threads';
import type { Batch } from './store.js';
import { SqliteStore } from './sqlite.js';

const store = new SqliteStore((workerData as { path: string }).path, { mustExist: true });

parentPort!.on('message', (message: { id: number; batch: Batch } | 'close') => {
  if (message === 'close') {
    void store.close().then(() => process.exit(0));
    return;
  }
  store.commitBatch(message.batch).then(
    () => parentPort!.postMessage({ id: message.id }),
    (err: unknown) =>
      parentPort!.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
