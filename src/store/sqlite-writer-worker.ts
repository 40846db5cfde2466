/**
 * Worker thread of SqliteWriterThread. It owns the only connection that
 * writes to the database: it commits each batch it receives, answers, and
 * then fills the search index up to the new size between commits. One
 * writer means the sequencer's commits never wait on the indexer's locks.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
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
/** The index may lag the log by this much, so that a transaction covers the rows of several commits. */
const INDEX_GATHER_MS = 100;
/**
 * Rows per index transaction. Between two, the commits that arrived meanwhile
 * go first, so a commit waits for at most one of them.
 */
const INDEX_ROWS = 500;
const indexer = new Indexer(store, reportTo as never, {
  gatherMs: INDEX_GATHER_MS,
  maxRows: INDEX_ROWS,
  yieldMs: 0,
});

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function handle(request: WriterRequest): Promise<WriterReply> {
  switch (request.type) {
    case 'commit':
      store.commitBatches([request.batch]);
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

/** Indexes committed batches after replying, so indexing a commit's rows does not delay its reply. */
function indexAfter(batches: Batch[]): void {
  for (const { indexRows, checkpoint } of batches) {
    // The batch's own rows spare decoding the entries again.
    if (indexRows) indexer.add(indexRows, checkpoint.size);
    else void indexer.catchUp(checkpoint.size);
  }
}

/**
 * Commits a run of commit requests in one transaction, so that batches that
 * queued while the previous fsync ran share the next one. If the run fails,
 * each batch is retried alone, so every request gets its own reply.
 */
function commitRun(run: Extract<WriterRequest, { type: 'commit' }>[]): void {
  const batches = run.map((r) => r.batch);
  try {
    store.commitBatches(batches);
    for (const r of run) port.postMessage({ id: r.id } satisfies WriterReply);
    indexAfter(batches);
    return;
  } catch (err) {
    if (run.length === 1) {
      port.postMessage({ id: run[0]!.id, error: message(err) } satisfies WriterReply);
      return;
    }
  }
  for (const r of run) {
    try {
      store.commitBatches([r.batch]);
      port.postMessage({ id: r.id } satisfies WriterReply);
      indexAfter([r.batch]);
    } catch (err) {
      port.postMessage({ id: r.id, error: message(err) } satisfies WriterReply);
    }
  }
}

function serve(request: WriterRequest): void {
  handle(request).then(
    (reply) => {
      port.postMessage(reply);
      if (request.type === 'close') process.exit(0);
    },
    (err: unknown) => port.postMessage({ id: request.id, error: message(err) }),
  );
}

port.on('message', (first: WriterRequest) => {
  if (first.type !== 'commit') return serve(first);
  // Take every request already queued behind this one.
  const run = [first];
  let rest: WriterRequest | undefined;
  for (;;) {
    const next = receiveMessageOnPort(port)?.message as WriterRequest | undefined;
    if (!next) break;
    if (next.type !== 'commit') {
      rest = next;
      break;
    }
    run.push(next);
  }
  commitRun(run);
  if (rest) serve(rest);
});
