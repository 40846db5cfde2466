/**
 * The SQLite writer thread commits the batches that queue behind a running
 * commit in one transaction. Each request still gets its own result: a
 * batch that does not extend the stored tree fails alone, and the batches
 * around it land. The index thread fills the search database from the
 * committed entries at the lowest priority. The threads' scripts are the
 * compiled ones in dist/.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../dist/src/store/sqlite.js';
import { EntryBuffer, encodeDecision } from '../../src/decision.js';
import { leafHash } from '../../src/hash.js';
import { decisions } from '../support/decisions.js';
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

  it('index thread indexes committed entries', async () => {
    const store = new SqliteStore(tempDb(), { writerThread: true });
    const logged = decisions(0, 300);
    const data = logged.map(encodeDecision);
    await store.commitBatch({
      prevSize: 0,
      entries: logged.map((d, i) => ({ index: i, data: data[i]!, validator: 'v1', id: d.id })),
      tiles: [],
      checkpoint: checkpointOf(300),
    });
    const thread = store.indexThread!;
    thread.notify(300);
    expect(await thread.indexTo(300)).toBe(300);

    const kid = logged[7]!.kid;
    const want = logged.flatMap((d, i) => (d.kid === kid ? [i] : []));
    expect(await store.search({ equals: { kid }, limit: 1000 })).toEqual({
      indexes: want,
      indexedSize: 300,
    });
    expect(await store.indexOfLeafHash(leafHash(data[299]!))).toBe(299);
    await store.close();
  });

  it('commits entries that share one buffer', async () => {
    for (const writerThread of [true, false]) {
      const store = new SqliteStore(tempDb(), { writerThread });
      // Entries as views at offsets into shared chunks, as an append request makes them.
      const shared = new EntryBuffer(64);
      const data = Array.from({ length: 12 }, (_, i) => shared.copy(entryBytes(i)));
      expect(data[5]!.byteOffset).toBeGreaterThan(0);
      await store.commitBatch({
        prevSize: 0,
        entries: data.map((d, i) => ({ index: i, data: d, validator: 'v1', id: `id-${i}` })),
        tiles: [],
        checkpoint: checkpointOf(12),
      });
      expect(await store.readEntries(0, 12)).toEqual(data.map((d) => new Uint8Array(d)));
      await store.close();
    }
  });

  it.runIf(existsSync('/proc/thread-self'))('index thread runs at nice 19', async () => {
    const niceOf = () =>
      readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        // Field 19 of stat, counted after the command name in parentheses.
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    expect(niceOf()).not.toContain(19);
    const store = new SqliteStore(tempDb(), { writerThread: true });
    await store.indexThread!.indexTo(0);
    expect(niceOf()).toContain(19);
    await store.close();
  });
});
