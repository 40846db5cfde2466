/**
 * The search indexer gathers the rows of several commits into one index
 * transaction when given a gathering time, splits them at a row bound,
 * keeps a bounded number of rows, and still reaches every size it is asked for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { leafHash } from '../../src/hash.js';
import { Indexer, indexRow } from '../../src/indexer.js';
import { encodeDecision } from '../../src/decision.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { IndexRow, Store } from '../../src/store/store.js';
import { decisions, firstBatchOf } from '../support/decisions.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Opens a real SQLite store that records the size of each index transaction. */
function countingStore(): { store: Store; real: SqliteStore; transactions: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'declog-indexer-'));
  dirs.push(dir);
  const real = new SqliteStore(join(dir, 'declog.db'));
  const transactions: number[] = [];
  const store = Object.create(real) as Store;
  store.addIndexRows = async (rows: IndexRow[], newSize: number) => {
    transactions.push(rows.length);
    await real.addIndexRows(rows, newSize);
  };
  return { store, real, transactions };
}

function rowsOf(from: number, count: number): IndexRow[] {
  return decisions(from, count).map((d, i) => indexRow(from + i, leafHash(encodeDecision(d)), d));
}

describe('indexer', () => {
  it('indexes each commit at once by default', async () => {
    const { store, transactions } = countingStore();
    const indexer = new Indexer(store);
    indexer.add(rowsOf(0, 3), 3);
    await indexer.idle();
    indexer.add(rowsOf(3, 2), 5);
    await indexer.idle();
    expect(transactions).toEqual([3, 2]);
    expect(await store.indexedSize()).toBe(5);
    await store.close();
  });

  it('gathers commits into one transaction', async () => {
    const { store, transactions } = countingStore();
    const indexer = new Indexer(store, undefined, { gatherMs: 50 });
    indexer.add(rowsOf(0, 3), 3);
    await new Promise((resolve) => setTimeout(resolve, 10));
    indexer.add(rowsOf(3, 2), 5);
    indexer.add(rowsOf(5, 4), 9);
    await indexer.idle();
    expect(transactions).toEqual([9]);
    expect(await store.indexedSize()).toBe(9);
    const page = await store.search({ equals: {}, limit: 100 });
    expect(page.indexes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    await store.close();
  });

  it('splits gathered rows into transactions of at most maxRows', async () => {
    const { store, transactions } = countingStore();
    const indexer = new Indexer(store, undefined, { gatherMs: 50, maxRows: 4, yieldMs: 0 });
    indexer.add(rowsOf(0, 3), 3);
    indexer.add(rowsOf(3, 2), 5);
    indexer.add(rowsOf(5, 4), 9);
    await indexer.idle();
    expect(transactions).toEqual([4, 4, 1]);
    const page = await store.search({ equals: {}, limit: 100 });
    expect(page.indexes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    await store.close();
  });

  it('decodes from the log the rows it could not hold', async () => {
    const { store, real, transactions } = countingStore();
    const logged = decisions(0, 9);
    await real.commitBatch(firstBatchOf(logged));
    const indexer = new Indexer(store, undefined, { gatherMs: 50, maxPendingRows: 4 });
    indexer.add(rowsOf(0, 3), 3);
    indexer.add(rowsOf(3, 2), 5);
    indexer.add(rowsOf(5, 4), 9);
    await indexer.idle();
    // Rows 0 to 2 were held; 3 to 8 came from the entries.
    expect(transactions).toEqual([3, 6]);
    for (const [i, d] of logged.entries()) {
      const page = await store.search({ equals: { kid: d.kid }, limit: 100 });
      expect(page.indexes).toContain(i);
      expect(await store.indexOfLeafHash(leafHash(encodeDecision(d)))).toBe(i);
    }
    await store.close();
  });

  it('close stops a catch-up early', async () => {
    const { store, real } = countingStore();
    const logged = decisions(0, 5000);
    await real.commitBatch(firstBatchOf(logged));
    // A ledger opened on a log whose index is empty starts this catch-up in the background.
    const indexer = new Indexer(store);
    void indexer.catchUp(5000);
    await indexer.close();
    expect(await store.indexedSize()).toBeLessThan(5000);

    // The next indexer continues from where this one stopped.
    await new Indexer(store).catchUp(5000);
    expect(await store.indexedSize()).toBe(5000);
    await store.close();
  });
});
