/**
 * The ledger's key cases on every store: appends and proofs, group commit,
 * duplicates, tile boundaries and reload, search, and commit faults in
 * pairs, each followed by a whole-log check from storage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeclogError, StorageError } from '../../src/errors.js';
import { Ledger } from '../../src/ledger.js';
import { generateKey, newSigner } from '../../src/note.js';
import type { Batch, Store } from '../../src/store/store.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { checkLog } from '../support/check-log.js';
import { decision, decisions } from '../support/decisions.js';
import { STORE_FACTORIES, type StoreFactory, type TestLog } from './factories.js';

const keys = generateKey('test.example/log');

function openLedger(store: Store, options = {}): Promise<Ledger> {
  return Ledger.open(store, newSigner(keys.signerKey), keys.verifierKey, options);
}

type Fault = 'before' | 'after';

/** Wraps a real store so that its next commit fails, before or after the write lands. */
function withFault(real: Store): { store: Store; fail: (when: Fault) => void } {
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

/** Checks the whole log through a store of its own, as an auditor would. */
async function check(log: TestLog): Promise<number> {
  const store = await log.open();
  try {
    return await checkLog(store, keys.verifierKey);
  } finally {
    await store.close();
  }
}

function ledgerSuite(factory: StoreFactory): void {
  let log: TestLog;
  const open = async (options = {}) => openLedger(await log.open(), options);

  afterEach(() => factory.cleanup());

  describe('ledger', () => {
    it('appends and proves against the returned checkpoint', async () => {
      log = await factory.create();
      const ledger = await open();
      const result = await ledger.append('tester', decisions(0, 5));
      expect(result.checkpoint.size).toBe(5);
      expect(result.entries.map((e) => e.index)).toEqual([0, 1, 2, 3, 4]);
      for (const e of result.entries) {
        verifyInclusion(e.leafHash, e.index, 5, e.inclusionProof, result.checkpoint.root);
      }
      await ledger.close();
      expect(await check(log)).toBe(5);
    });

    it('groups concurrent appends into one batch', async () => {
      log = await factory.create();
      const ledger = await open();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => ledger.append('tester', decisions(i * 3, 3))),
      );
      expect(new Set(results.map((r) => r.checkpoint.size))).toEqual(new Set([60]));
      const indexes = results.flatMap((r) => r.entries.map((e) => e.index)).sort((a, b) => a - b);
      expect(indexes).toEqual(Array.from({ length: 60 }, (_, i) => i));
      await ledger.close();
    });

    it('returns the existing index for a repeated decision', async () => {
      log = await factory.create();
      const ledger = await open();
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
      log = await factory.create();
      let ledger = await open();
      for (let i = 0; i < 700; i += 100) await ledger.append('tester', decisions(i, 100));
      await ledger.append('tester', decisions(700, 1));
      await ledger.close();
      ledger = await open();
      expect(ledger.latestCheckpoint()!.size).toBe(701);
      await ledger.append('tester', decisions(701, 300));
      await ledger.close();
      expect(await check(log)).toBe(1001);
    });

    it('serves proofs for every stored checkpoint', async () => {
      log = await factory.create();
      const ledger = await open();
      const sizes: number[] = [];
      for (let i = 0; i < 300; i += 37) {
        sizes.push((await ledger.append('tester', decisions(i, 37))).checkpoint.size);
      }
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

    it('indexes entries and rebuilds a lost index', async () => {
      log = await factory.create();
      let ledger = await open();
      await ledger.append('tester', decisions(0, 30));
      await ledger.indexed();
      const page = await ledger.search({
        equals: { kid: 'key-3', decision: 'accept' },
        limit: 100,
      });
      const want = decisions(0, 30).flatMap((d, i) =>
        d.kid === 'key-3' && d.decision === 'accept' ? [i] : [],
      );
      expect(page).toEqual({ indexes: want, indexedSize: 30 });
      await ledger.close();
      await log.execSearch("DELETE FROM search; DELETE FROM meta WHERE key = 'indexed_size'");
      ledger = await open();
      await ledger.indexed();
      const rebuilt = await ledger.search({ equals: {}, limit: 100 });
      expect(rebuilt.indexedSize).toBe(30);
      expect(rebuilt.indexes).toHaveLength(30);
      await ledger.close();
    });
  });

  describe('ledger storage faults', () => {
    for (const when of ['before', 'after'] as const) {
      it(`recovers from a commit failing ${when} the write`, async () => {
        log = await factory.create();
        const { store, fail } = withFault(await log.open());
        const ledger = await openLedger(store);
        await ledger.append('tester', decisions(0, 10));

        fail(when);
        const failed = ledger.append('tester', decisions(10, 5));
        await expect(failed).rejects.toBeInstanceOf(DeclogError);
        await expect(failed).rejects.toBeInstanceOf(StorageError);
        expect(await check(log)).toBe(when === 'before' ? 10 : 15);

        // The client retries: the same decisions end up logged exactly once.
        const retried = await ledger.append('tester', decisions(10, 5));
        expect(retried.entries.map((e) => e.index)).toEqual([10, 11, 12, 13, 14]);
        expect(retried.entries.every((e) => e.duplicate === (when === 'after'))).toBe(true);
        const more = await ledger.append('tester', decisions(15, 5));
        expect(more.checkpoint.size).toBe(20);
        await ledger.close();
        expect(await check(log)).toBe(20);
      });
    }

    it('rejects a second writer on the same log', async () => {
      log = await factory.create();
      const first = await open();
      const second = await open();
      await first.append('tester', decisions(0, 3));
      await expect(second.append('tester', decisions(3, 3))).rejects.toMatchObject({
        code: 'storage_failed',
      });
      // After reloading, the second writer continues the tree the first one signed.
      const after = await second.append('tester', decisions(3, 3));
      expect(after.checkpoint.size).toBe(6);
      await first.close();
      await second.close();
      expect(await check(log)).toBe(6);
    });
  });
}

describe.each(STORE_FACTORIES)('$kind', (factory) => {
  if (!factory.enabled) {
    it.skip('needs DECLOG_TEST_PG (see test/support/start-postgres.sh)');
    return;
  }
  ledgerSuite(factory);
});
