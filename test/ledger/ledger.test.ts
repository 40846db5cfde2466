import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint.js';
import { DeclogError, StorageError } from '../../src/errors.js';
import { indexRow } from '../../src/indexer.js';
import { Ledger } from '../../src/ledger.js';
import { generateKey, newSigner, newVerifier } from '../../src/note.js';
import { searchPathOf } from '../../src/store/sqlite-search.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Batch, Store } from '../../src/store/store.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { checkLog } from '../support/check-log.js';
import { decision, decisions } from '../support/decisions.js';

const ORIGIN = 'test.example/log';
const dirs: string[] = [];
const keys = generateKey(ORIGIN);

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'declog-ledger-'));
  dirs.push(dir);
  return join(dir, 'declog.db');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function open(path: string, store?: Store): Promise<Ledger> {
  return Ledger.open(store ?? new SqliteStore(path), newSigner(keys.signerKey), keys.verifierKey);
}

type Fault = 'before' | 'after';

/** A real SQLite store whose next commit fails, before or after the write lands. */
function faultyStore(path: string): { store: Store; fail: (when: Fault) => void } {
  const real = new SqliteStore(path);
  let fault: Fault | undefined;
  const store = Object.create(real) as Store;
  store.commitBatch = async (batch: Batch) => {
    const when = fault;
    fault = undefined;
    if (when === 'before') throw new Error('injected fault before commit');
    await real.commitBatch(batch);
    if (when === 'after') throw new Error('injected fault after commit');
  };
  return { store, fail: (when) => (fault = when) };
}

describe('ledger', () => {
  it('signs an empty checkpoint on first open', async () => {
    const ledger = await open(tempDb());
    const latest = ledger.latestCheckpoint()!;
    expect(latest.size).toBe(0);
    const opened = openCheckpoint(latest.note, newVerifier(keys.verifierKey));
    expect(opened.checkpoint.origin).toBe(ORIGIN);
    await ledger.close();
  });

  it('appends and proves against the returned checkpoint', async () => {
    const ledger = await open(tempDb());
    const result = await ledger.append('tester', decisions(0, 5));
    expect(result.checkpoint.size).toBe(5);
    expect(result.entries.map((e) => e.index)).toEqual([0, 1, 2, 3, 4]);
    for (const e of result.entries) {
      verifyInclusion(e.leafHash, e.index, 5, e.inclusionProof, result.checkpoint.root);
    }
    await ledger.close();
  });

  it('groups concurrent appends into one batch', async () => {
    const ledger = await open(tempDb());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ledger.append('tester', decisions(i * 3, 3))),
    );
    const sizes = new Set(results.map((r) => r.checkpoint.size));
    expect(sizes).toEqual(new Set([60]));
    const indexes = results.flatMap((r) => r.entries.map((e) => e.index)).sort((a, b) => a - b);
    expect(indexes).toEqual(Array.from({ length: 60 }, (_, i) => i));
    await ledger.close();
  });

  it('proves every receipt of batches of many sizes', async () => {
    const ledger = await open(tempDb());
    let next = 0;
    for (const count of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 7, 1, 300]) {
      const result = await ledger.append('tester', decisions(next, count));
      next += count;
      expect(result.checkpoint.size).toBe(next);
      for (const e of result.entries) {
        verifyInclusion(e.leafHash, e.index, next, e.inclusionProof, result.checkpoint.root);
      }
    }
    await ledger.close();
  });

  it('proves every index at alternating sizes', async () => {
    const ledger = await open(tempDb());
    const checkpoints = [];
    for (const count of [1, 6, 57, 100, 37]) {
      checkpoints.push(
        (await ledger.append('tester', decisions(checkpoints.length * 1000, count))).checkpoint,
      );
    }
    // Alternate between sizes, so that proofs at one size follow proofs at another.
    for (let index = 0; index < 201; index++) {
      for (const c of [...checkpoints].reverse()) {
        if (index >= c.size) continue;
        const { checkpoint, proof } = await ledger.inclusionProof(index, c.size);
        const { leafHash } = await ledger.entry(index);
        verifyInclusion(leafHash, index, c.size, proof, checkpoint.root);
      }
    }
    await ledger.close();
  });

  it('splits batches at maxBatchEntries', async () => {
    const store = new SqliteStore(tempDb());
    const ledger = await Ledger.open(store, newSigner(keys.signerKey), keys.verifierKey, {
      maxBatchEntries: 10,
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => ledger.append('tester', decisions(i * 4, 4))),
    );
    expect(results.map((r) => r.checkpoint.size)).toEqual([8, 8, 16, 16, 20]);
    await ledger.close();
  });

  it('returns the existing index for a repeated decision', async () => {
    const ledger = await open(tempDb());
    await ledger.append('tester', decisions(0, 3));
    const again = await ledger.append('tester', [decision(1), decision(7), decision(7)]);
    expect(again.entries.map((e) => [e.index, e.duplicate])).toEqual([
      [1, true],
      [3, false],
      [3, true],
    ]);
    expect(again.checkpoint.size).toBe(4);
    const other = await ledger.append('someone-else', [decision(1, 'someone-else')]);
    expect(other.entries[0]!.duplicate).toBe(false);
    await ledger.close();
  });

  it('crosses tile boundaries and reloads', async () => {
    const path = tempDb();
    let ledger = await open(path);
    for (let i = 0; i < 700; i += 100) await ledger.append('tester', decisions(i, 100));
    await ledger.append('tester', decisions(700, 1));
    await ledger.close();
    ledger = await open(path);
    expect(ledger.latestCheckpoint()!.size).toBe(701);
    await ledger.append('tester', decisions(701, 300));
    const store = new SqliteStore(path);
    expect(await checkLog(store, keys.verifierKey)).toBe(1001);
    await store.close();
    await ledger.close();
  });

  it('serves proofs for every stored checkpoint', async () => {
    const ledger = await open(tempDb());
    const sizes: number[] = [];
    for (let i = 0; i < 300; i += 37)
      sizes.push((await ledger.append('tester', decisions(i, 37))).checkpoint.size);
    const latest = ledger.latestCheckpoint()!;
    for (const size of sizes) {
      const { oldCheckpoint, checkpoint, proof } = await ledger.consistencyProof(size);
      verifyConsistency(size, latest.size, proof, oldCheckpoint.root, checkpoint.root);
      const inc = await ledger.inclusionProof(size - 1, size);
      const entry = await ledger.entry(size - 1);
      verifyInclusion(entry.leafHash, size - 1, size, inc.proof, inc.checkpoint.root);
    }
    await ledger.close();
  });

  it('rejects sizes and indexes past the latest checkpoint', async () => {
    const ledger = await open(tempDb());
    await ledger.append('tester', decisions(0, 4));
    await expect(ledger.inclusionProof(4)).rejects.toMatchObject({ code: 'index_out_of_range' });
    await expect(ledger.inclusionProof(0, 5)).rejects.toMatchObject({ code: 'size_out_of_range' });
    await expect(ledger.inclusionProof(0, 3)).rejects.toMatchObject({
      code: 'checkpoint_not_found',
    });
    await expect(ledger.consistencyProof(0)).rejects.toMatchObject({ code: 'size_out_of_range' });
    await expect(ledger.consistencyProof(4, 3)).rejects.toMatchObject({
      code: 'size_out_of_range',
    });
    await expect(ledger.entry(4)).rejects.toMatchObject({ code: 'index_out_of_range' });
    await ledger.close();
  });

  it('indexes entries for search behind the log', async () => {
    const ledger = await open(tempDb());
    await ledger.append('tester', decisions(0, 30));
    await ledger.indexed();
    const page = await ledger.search({ equals: { kid: 'key-3', decision: 'accept' }, limit: 100 });
    expect(page.indexedSize).toBe(30);
    const expected = decisions(0, 30)
      .map((d, i) => ({ d, i }))
      .filter(({ d }) => d.kid === 'key-3' && d.decision === 'accept')
      .map(({ i }) => i);
    expect(page.indexes).toEqual(expected);
    await ledger.close();
  });

  it('caps search at the latest checkpoint', async () => {
    const path = tempDb();
    const ledger = await open(path);
    await ledger.append('tester', decisions(0, 4));
    await ledger.indexed();
    // Rows for entries past the checkpoint, as when the writer thread indexes
    // a commit before the checkpoint is published.
    const store = new SqliteStore(path);
    const ahead = decisions(4, 3).map((d, i) => indexRow(4 + i, new Uint8Array(32).fill(i), d));
    await store.addIndexRows(ahead, 7);
    await store.close();
    const page = await ledger.search({ equals: {}, limit: 100 });
    expect(page.indexes).toEqual([0, 1, 2, 3]);
    expect(page.indexedSize).toBe(4);
    expect(await ledger.indexedSize()).toBe(4);
    await ledger.close();
  });

  it('rebuilds a lost search index from the log', async () => {
    const path = tempDb();
    let ledger = await open(path);
    await ledger.append('tester', decisions(0, 10));
    await ledger.indexed();
    await ledger.close();
    const raw = new SqliteStore(path);
    await raw.close();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(searchPathOf(path));
    db.exec("DELETE FROM search; DELETE FROM meta WHERE key = 'indexed_size'");
    db.close();
    ledger = await open(path);
    await ledger.indexed();
    const page = await ledger.search({ equals: {}, limit: 100 });
    expect(page.indexedSize).toBe(10);
    expect(page.indexes.length).toBe(10);
    await ledger.close();
  });
});

describe('ledger leaf hash lookups', () => {
  it('says how far a lagging index reaches', async () => {
    const path = tempDb();
    const ledger = await open(path);
    const appended = await ledger.append('tester', decisions(0, 10));
    await ledger.indexed();
    const seventh = appended.entries[7]!.leafHash;
    expect(await ledger.indexOfLeafHash(seventh)).toBe(7);
    await expect(ledger.indexOfLeafHash(new Uint8Array(32))).rejects.toThrow(
      'no entry of the 10 in the log has this leaf hash',
    );

    // Take the index back to 4 entries, as a rebuild in progress would leave it.
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(searchPathOf(path));
    db.exec(
      "DELETE FROM search WHERE idx >= 4; UPDATE meta SET value = '4' WHERE key = 'indexed_size'",
    );
    db.close();
    await expect(ledger.indexOfLeafHash(seventh)).rejects.toMatchObject({
      code: 'entry_not_found',
      message: expect.stringContaining('the search index covers 4 of the 10 entries'),
    });
    await ledger.close();
  });
});

describe('ledger polling its store', () => {
  it('shows a commit before the sequencer publishes it', async () => {
    const path = tempDb();
    // Commits go through a second connection, as with the writer thread. Once
    // `held` is set, the sequencer hears of a commit only when `release` is called.
    const real = new SqliteStore(path);
    const writer = new SqliteStore(path);
    let held = false;
    let release = () => {};
    const store = Object.create(real) as Store;
    store.commitBatch = async (batch: Batch) => {
      await writer.commitBatch(batch);
      if (held) await new Promise<void>((resolve) => (release = resolve));
    };
    const ledger = await open(path, store);
    held = true;
    const appended = ledger.append('tester', decisions(0, 3));
    while ((await writer.latestCheckpoint())?.size !== 3) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(ledger.latestCheckpoint()?.size).toBe(0);

    ledger.pollStore();
    expect(ledger.latestCheckpoint()?.size).toBe(3);
    const proof = await ledger.inclusionProof(2);
    expect(proof.checkpoint.size).toBe(3);

    release();
    expect((await appended).checkpoint.size).toBe(3);
    expect(ledger.latestCheckpoint()?.size).toBe(3);
    await ledger.close();
    await writer.close();
  });

  it('reads tiles of a commit not yet published', async () => {
    const path = tempDb();
    // As above: commits on a second connection, whose outcome is held back on request.
    const real = new SqliteStore(path);
    const writer = new SqliteStore(path);
    let held = false;
    let release = () => {};
    const store = Object.create(real) as Store;
    store.commitBatch = async (batch: Batch) => {
      await writer.commitBatch(batch);
      if (held) await new Promise<void>((resolve) => (release = resolve));
    };
    const ledger = await open(path, store);
    await ledger.append('tester', decisions(0, 2));
    held = true;
    const appended = ledger.append('tester', decisions(2, 3));
    while ((await writer.latestCheckpoint())?.size !== 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    ledger.pollStore();
    expect(ledger.latestCheckpoint()?.size).toBe(5);
    // The tile the sequencer last committed is 2 wide, and the checkpoint needs 5.
    const tile = await ledger.tile(0, 0, 5);
    expect(tile?.width).toBe(5);

    release();
    expect((await appended).checkpoint.size).toBe(5);
    await ledger.close();
    await writer.close();
  });
});

describe('ledger storage faults', () => {
  for (const when of ['before', 'after'] as const) {
    it(`recovers from a commit failing ${when} the write`, async () => {
      const path = tempDb();
      const { store, fail } = faultyStore(path);
      const ledger = await open(path, store);
      await ledger.append('tester', decisions(0, 10));

      fail(when);
      const failed = ledger.append('tester', decisions(10, 5));
      await expect(failed).rejects.toBeInstanceOf(DeclogError);
      await expect(failed).rejects.toBeInstanceOf(StorageError);
      // Readers keep the last committed checkpoint while the state reloads.
      expect(ledger.latestCheckpoint()?.size).toBeGreaterThanOrEqual(10);
      const check = new SqliteStore(path);
      expect(await checkLog(check, keys.verifierKey)).toBe(when === 'before' ? 10 : 15);

      // The client retries: the same decisions end up logged exactly once.
      const retried = await ledger.append('tester', decisions(10, 5));
      expect(retried.entries.map((e) => e.index)).toEqual([10, 11, 12, 13, 14]);
      expect(retried.entries.every((e) => e.duplicate === (when === 'after'))).toBe(true);
      const more = await ledger.append('tester', decisions(15, 5));
      expect(more.checkpoint.size).toBe(20);
      expect(await checkLog(check, keys.verifierKey)).toBe(20);
      await check.close();
      await ledger.close();
    });
  }

  it('rejects a second writer on the same log', async () => {
    const path = tempDb();
    const first = await open(path);
    const second = await open(path);
    await first.append('tester', decisions(0, 3));
    await expect(second.append('tester', decisions(3, 3))).rejects.toMatchObject({
      code: 'storage_failed',
    });
    // After reloading, the second writer continues the tree the first one signed.
    const after = await second.append('tester', decisions(3, 3));
    expect(after.checkpoint.size).toBe(6);
    const check = new SqliteStore(path);
    expect(await checkLog(check, keys.verifierKey)).toBe(6);
    await check.close();
    await first.close();
    await second.close();
  });
});
