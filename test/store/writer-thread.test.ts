/**
 * The SQLite writer thread commits the batches that queue behind a running
 * commit in one transaction. Each request still gets its own result: a
 * batch that does not extend the stored tree fails alone, and the batches
 * around it land. The thread's script is the compiled one in dist/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../dist/src/store/sqlite.js';
import { batchOf, checkpointOf, entryBytes } from './store-suite.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'declog-writer-'));
  dirs.push(dir);
  return join(dir, 'declog.db');
}

describe('SQLite writer thread', () => {
  it('commits queued batches with separate results', async () => {
    const store = new SqliteStore(tempDb(), { writerThread: true });
    await store.commitBatch(batchOf(0, 0));
    // A large first batch keeps the thread busy while the others queue behind it.
    const sent = [
      batchOf(0, 5000),
      batchOf(5000, 3),
      batchOf(5003, 2),
      batchOf(9999, 1),
      batchOf(5005, 4),
    ];
    const outcomes = await Promise.allSettled(sent.map((b) => store.commitBatch(b)));
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({
      code: 'storage_failed',
      message: expect.stringContaining('batch extends tree size 9999 but the store is at 5005'),
    });
    expect(await store.latestCheckpoint()).toEqual(checkpointOf(5009));
    expect(await store.checkpoint(9999 + 1)).toBeUndefined();
    expect(await store.readEntries(4998, 5009)).toEqual(
      Array.from({ length: 11 }, (_, i) => entryBytes(4998 + i)),
    );
    await store.close();
  });

  it('rolls back a run with a stale batch', async () => {
    const store = new SqliteStore(tempDb());
    store.commitBatches([batchOf(0, 0), batchOf(0, 2)]);
    expect(() => store.commitBatches([batchOf(2, 2), batchOf(3, 1)])).toThrow(
      'batch extends tree size 3 but the store is at 4',
    );
    expect((await store.latestCheckpoint())!.size).toBe(2);
    expect(await store.readEntries(0, 10)).toEqual([entryBytes(0), entryBytes(1)]);
    await store.close();
  });
});
