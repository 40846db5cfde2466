/**
 * Worker thread that fills the SQLite search index from the log, so that
 * indexing runs on another core than the sequencer. It reads committed
 * entries through its own connections and answers each message with the
 * size the index now covers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Indexer } from './indexer.js';
import { SqliteStore } from './store/sqlite.js';

const store = new SqliteStore((workerData as { path: string }).path, { mustExist: true });
/** Sends indexing failures to the main thread, which logs them. */
const reportTo = {
  error: (fields: { err: unknown }, msg: string) =>
    parentPort!.postMessage({ error: `${msg}: ${String(fields.err)}` }),
};
const indexer = new Indexer(store, reportTo as never);

parentPort!.on('message', (message: { size: number } | 'close') => {
  if (message === 'close') {
    void indexer.idle().then(() => store.close()).then(() => process.exit(0));
    return;
  }
  void indexer
    .catchUp(message.size)
    .then(() => store.indexedSize())
    .then((indexed) => parentPort!.postMessage({ indexed }))
    .catch((err: unknown) => parentPort!.postMessage({ error: `reading the index size: ${String(err)}` }));
});
