/**
 * Worker thread of SqliteWriterThread. It owns the only connection that
 * writes to the database: it commits each batch it receives, answers, and
 * then fills the search index up to the new size between commits. One
 * writer means the sequencer's commits never wait on the indexer's locks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useNodeCrypto } from '../crypto-node.js';
import { Indexer } from '../indexer.js';
import type { Batch } from './store.js';
import { SqliteStore } from './sqlite.js';

export type WriterRequest =
  | { id: number; type: 'commit'; batch: Batch }
  | { id: number; type: 'index'; size: number }
  | { id: number; type: 'close' };

export interface WriterReply {
  id?: number;
  error?: string;
  indexed?: number;
  /** A failure of background indexing, reported for the log. */
  indexError?: string;
}

useNodeCrypto();
const port = parentPort!;
const store = new SqliteStore((workerData as { path: string }).path, { mustExist: true });
const reportTo = {
  error: (fields: { err: unknown }, msg: string) =>
    port.postMessage({ indexError: `${msg}: ${String(fields.err)}` } satisfies WriterReply),
};
const indexer = new Indexer(store, reportTo as never);

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function handle(request: WriterRequest): Promise<WriterReply> {
  switch (request.type) {
    case 'commit':
      await store.commitBatch(request.batch);
      return { id: request.id };
    case 'index':
      await indexer.catchUp(request.size);
      return { id: request.id, indexed: await store.indexedSize() };
    case 'close':
      await indexer.idle();
      await store.close();
      return { id: request.id };
  }
}

port.on('message', (request: WriterRequest) => {
  handle(request).then(
    (reply) => {
      port.postMessage(reply);
      // Index after answering, so a commit's waiters never wait for the index. The
      // batch's own rows spare decoding the entries again.
      if (request.type === 'commit') {
        const { indexRows, checkpoint } = request.batch;
        if (indexRows) indexer.add(indexRows, checkpoint.size);
        else void indexer.catchUp(checkpoint.size);
      }
      if (request.type === 'close') process.exit(0);
    },
    (err: unknown) => port.postMessage({ id: request.id, error: message(err) }),
  );
});
