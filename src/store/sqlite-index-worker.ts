/**
 * Worker thread of SqliteIndexThread. It fills the search database from the
 * log's committed entries, which it reads and decodes on its own connection.
 * It runs at the lowest scheduling priority, so the index may fall behind a
 * burst of appends, and catches up once the burst ends.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { useNodeCrypto } from '../crypto-node.js';
import { Indexer } from '../indexer.js';
import { SqliteStore } from './sqlite.js';

export type IndexRequest =
  | { type: 'notify'; size: number }
  | { id: number; type: 'index'; size: number }
  | { id: number; type: 'close' };

export interface IndexReply {
  id?: number;
  error?: string;
  indexed?: number;
  /** A failure of background indexing, reported for the log. */
  indexError?: string;
}

/** Nice value of this thread: the lowest priority, so appending threads run first when they compete. */
const INDEX_NICE = 19;
/** Time to gather the rows of further commits between two index transactions, in ms. */
const INDEX_GATHER_MS = 100;
/**
 * Maximum rows in one index transaction. The leaf hash index takes them at
 * random pages, so a transaction costs about one page write per row until
 * it contains many more rows than the index has pages.
 */
const INDEX_ROWS = 16_384;
/** On close, the index stops after this long and catches up on the next start. */
const CLOSE_BUDGET_MS = 1_000;

/**
 * Lowers the priority of this thread alone. On Linux, setpriority on a
 * thread ID applies to that thread; elsewhere the thread keeps its priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, INDEX_NICE);
  } catch {
    // No /proc or no permission: indexing runs at the process's priority.
  }
}

useNodeCrypto();
lowerPriority();
const port = parentPort!;
// The log connection only reads entries in order, so SQLite's default cache is enough.
const store = new SqliteStore((workerData as { path: string }).path, {
  mustExist: true,
  cacheKiB: 2048,
});
const reportTo = {
  error: (fields: { err: unknown }, msg: string) =>
    port.postMessage({ indexError: `${msg}: ${String(fields.err)}` } satisfies IndexReply),
};
const indexer = new Indexer(store, reportTo as never, {
  gatherMs: INDEX_GATHER_MS,
  yieldMs: INDEX_GATHER_MS,
  maxRows: INDEX_ROWS,
});

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function handle(request: Exclude<IndexRequest, { type: 'notify' }>): Promise<IndexReply> {
  switch (request.type) {
    case 'index':
      await indexer.catchUp(request.size);
      return { id: request.id, indexed: await store.indexedSize() };
    case 'close': {
      const budget = setTimeout(() => void indexer.stop(), CLOSE_BUDGET_MS);
      await indexer.idle();
      clearTimeout(budget);
      await store.close();
      return { id: request.id };
    }
  }
}

port.on('message', (request: IndexRequest) => {
  if (request.type === 'notify') {
    void indexer.catchUp(request.size);
    return;
  }
  handle(request).then(
    (reply) => {
      port.postMessage(reply);
      if (request.type === 'close') process.exit(0);
    },
    (err: unknown) => port.postMessage({ id: request.id, error: message(err) }),
  );
});
