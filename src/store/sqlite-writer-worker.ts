/**
 * Worker thread of SqliteWriterThread. It owns the only connection that
 * writes the log: it commits each batch it receives and replies. The search
 * index lives in a database of its own, filled by the index thread.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { useNodeCrypto } from '../crypto-node.js';
import { type PackedBatch, unpackBatch } from './packed-batch.js';
import { SqliteStore } from './sqlite.js';

export type WriterRequest =
  { id: number; type: 'commit'; batch: PackedBatch } | { id: number; type: 'close' };

export interface WriterReply {
  id: number;
  error?: string;
}

useNodeCrypto();
const port = parentPort!;
const store = new SqliteStore((workerData as { path: string }).path, {
  mustExist: true,
  searchIndex: false,
});

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Commits a run of commit requests in one transaction, so that batches that
 * queued while the previous fsync ran share the next one. If the run fails,
 * each batch is retried alone, so every request gets its own reply.
 */
function commitRun(run: Extract<WriterRequest, { type: 'commit' }>[]): void {
  const batches = run.map((r) => unpackBatch(r.batch));
  try {
    store.commitBatches(batches);
    for (const r of run) port.postMessage({ id: r.id } satisfies WriterReply);
    return;
  } catch (err) {
    if (run.length === 1) {
      port.postMessage({ id: run[0]!.id, error: message(err) } satisfies WriterReply);
      return;
    }
  }
  for (const [i, r] of run.entries()) {
    try {
      store.commitBatches([batches[i]!]);
      port.postMessage({ id: r.id } satisfies WriterReply);
    } catch (err) {
      port.postMessage({ id: r.id, error: message(err) } satisfies WriterReply);
    }
  }
}

async function close(id: number): Promise<void> {
  await store.close();
  port.postMessage({ id } satisfies WriterReply);
  process.exit(0);
}

port.on('message', (first: WriterRequest) => {
  if (first.type === 'close') return void close(first.id);
  // Take every request already queued behind this one.
  const run = [first];
  let closing: number | undefined;
  for (;;) {
    const next = receiveMessageOnPort(port)?.message as WriterRequest | undefined;
    if (!next) break;
    if (next.type === 'close') {
      closing = next.id;
      break;
    }
    run.push(next);
  }
  commitRun(run);
  if (closing !== undefined) void close(closing);
});
