/**
 * The sequencer sends the next batch while the previous one is committing.
 * These tests hold commits back with a gate on a real SQLite store and
 * check what waiters, readers and the stored log see, including a commit
 * failing with batches built on it already sent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { Ledger } from '../../src/ledger.js';
import { generateKey, newSigner } from '../../src/note.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Batch, Store } from '../../src/store/store.js';
import { verifyInclusion } from '../../src/verify.js';
import { checkLog } from '../support/check-log.js';
import { decision, decisions } from '../support/decisions.js';

const keys = generateKey('test.example/pipeline');
const dirs: string[] = [];

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'declog-pipeline-'));
  dirs.push(dir);
  return join(dir, 'declog.db');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type Fault = 'before' | 'after';

/**
 * A real SQLite store whose commits wait, in call order, until released.
 * A commit can be set to fail once, before or after its write lands.
 */
class GatedStore {
  readonly store: Store;
  /** Tree sizes of the batches sent, in call order. */
  readonly sent: number[] = [];
  /** Tree sizes whose commit has finished (landed or failed). */
  readonly finished: number[] = [];
  private readonly faults = new Map<number, Fault>();
  private gates: (() => void)[] = [];
  private holding = true;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {
    const real = new SqliteStore(path);
    const store = Object.create(real) as Store;
    store.commitBatch = (batch: Batch) => {
      this.sent.push(batch.checkpoint.size);
      const gate = this.holding ? new Promise<void>((r) => this.gates.push(r)) : Promise.resolve();
      const done = this.chain.then(async () => {
        await gate;
        const fault = this.faults.get(batch.checkpoint.size);
        this.faults.delete(batch.checkpoint.size);
        try {
          if (fault === 'before') throw new Error('injected fault before commit');
          await real.commitBatch(batch);
          if (fault === 'after') throw new Error('injected fault after commit');
        } finally {
          this.finished.push(batch.checkpoint.size);
        }
      });
      this.chain = done.catch(() => undefined);
      return done;
    };
    this.store = store;
  }

  failAt(size: number, when: Fault): void {
    this.faults.set(size, when);
  }

  /** Holds back commits sent from now on. */
  hold(): void {
    this.holding = true;
  }

  /** Lets every commit sent so far and later go through. */
  release(): void {
    this.holding = false;
    for (const open of this.gates.splice(0)) open();
  }

  /** Resolves once `count` commits have been sent. */
  async waitSent(count: number): Promise<void> {
    while (this.sent.length < count) await new Promise((r) => setTimeout(r, 1));
  }
}

async function openGated(path: string, options = {}): Promise<{ ledger: Ledger; gated: GatedStore }> {
  const gated = new GatedStore(path);
  gated.release();
  const ledger = await Ledger.open(gated.store, newSigner(keys.signerKey), keys.verifierKey, {
    maxBatchEntries: 5,
    ...options,
  });
  // The first checkpoint (size 0) is committed; hold the rest.
  gated.hold();
  return { ledger, gated };
}

async function settled<T>(promise: Promise<T>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, 20));
  return done;
}

describe('pipelined commits', () => {
  it('sends batches while one commits', async () => {
    const path = tempDb();
    const { ledger, gated } = await openGated(path, { maxPendingCommits: 4 });
    const appends = [0, 5, 10, 15].map((from) => ledger.append('tester', decisions(from, 5)));
    await gated.waitSent(5);
    expect(gated.sent).toEqual([0, 5, 10, 15, 20]);
    expect(gated.finished).toEqual([0]);
    expect(await settled(appends[0]!)).toBe(false);
    // Readers see only committed checkpoints.
    expect(ledger.latestCheckpoint()!.size).toBe(0);

    const order: number[] = [];
    appends.forEach((a, i) => void a.then(() => order.push(i)));
    gated.release();
    const results = await Promise.all(appends);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(results.map((r) => r.checkpoint.size)).toEqual([5, 10, 15, 20]);
    for (const r of results) {
      for (const e of r.entries) {
        verifyInclusion(e.leafHash, e.index, r.checkpoint.size, e.inclusionProof, r.checkpoint.root);
      }
    }
    expect(ledger.latestCheckpoint()!.size).toBe(20);
    await ledger.close();
    const check = new SqliteStore(path);
    expect(await checkLog(check, keys.verifierKey)).toBe(20);
    await check.close();
  });

  it('limits batches waiting to commit', async () => {
    const { ledger, gated } = await openGated(tempDb());
    const appends = [0, 5, 10, 15].map((from) => ledger.append('tester', decisions(from, 5)));
    await gated.waitSent(3);
    await new Promise((r) => setTimeout(r, 20));
    // The default allows two batches at once.
    expect(gated.sent).toEqual([0, 5, 10]);
    gated.release();
    await Promise.all(appends);
    expect(gated.sent).toEqual([0, 5, 10, 15, 20]);
    await ledger.close();
  });

  it('gathers appends while a commit runs', async () => {
    const { ledger, gated } = await openGated(tempDb(), {
      maxBatchEntries: 100,
      commitGatherMs: 50,
    });
    const first = ledger.append('tester', decisions(0, 1));
    await gated.waitSent(2);
    const second = ledger.append('tester', decisions(1, 1));
    await new Promise((r) => setTimeout(r, 10));
    const third = ledger.append('tester', decisions(2, 1));
    await gated.waitSent(3);
    // Both arrived within the gathering time of a batch waiting behind a commit.
    expect(gated.sent).toEqual([0, 1, 3]);
    gated.release();
    await Promise.all([first, second, third]);
    await ledger.close();
  });

  it('builds the gathered batch once the commit lands', async () => {
    const { ledger, gated } = await openGated(tempDb(), {
      maxBatchEntries: 100,
      commitGatherMs: 60_000,
    });
    const first = ledger.append('tester', decisions(0, 1));
    await gated.waitSent(2);
    const second = ledger.append('tester', decisions(1, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(gated.sent).toEqual([0, 1]);
    const started = Date.now();
    gated.release();
    await Promise.all([first, second]);
    expect(gated.sent).toEqual([0, 1, 2]);
    expect(Date.now() - started).toBeLessThan(5_000);
    await ledger.close();
  });

  it('returns the index of an uncommitted repeat', async () => {
    const { ledger, gated } = await openGated(tempDb(), { maxPendingCommits: 4 });
    const first = ledger.append('tester', decisions(0, 3));
    await gated.waitSent(2);
    const again = ledger.append('tester', [decision(1), decision(3)]);
    const repeat = ledger.append('tester', [decision(2)]);
    await gated.waitSent(3);
    expect(await settled(repeat)).toBe(false);
    gated.release();
    const [a, b, c] = await Promise.all([first, again, repeat]);
    expect(a.entries.map((e) => e.index)).toEqual([0, 1, 2]);
    expect(b.entries.map((e) => [e.index, e.duplicate])).toEqual([
      [1, true],
      [3, false],
    ]);
    expect(c.entries.map((e) => [e.index, e.duplicate])).toEqual([[2, true]]);
    for (const r of [b, c]) {
      for (const e of r.entries) {
        verifyInclusion(e.leafHash, e.index, r.checkpoint.size, e.inclusionProof, r.checkpoint.root);
      }
    }
    await ledger.close();
  });

  for (const when of ['before', 'after'] as const) {
    it(`recovers from a commit failing ${when} its write`, async () => {
      const path = tempDb();
      const { ledger, gated } = await openGated(path, { maxPendingCommits: 4 });
      await Promise.all([ledger.append('tester', decisions(0, 5)), gated.release()]);
      gated.hold();

      gated.failAt(15, when);
      const appends = [5, 10, 15].map((from) => ledger.append('tester', decisions(from, 5)));
      await gated.waitSent(5);
      expect(gated.sent).toEqual([0, 5, 10, 15, 20]);
      gated.release();
      const outcomes = await Promise.allSettled(appends);
      expect(outcomes[1]!.status).toBe('rejected');
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
      // Batches built on the failed one land only if it did.
      expect(outcomes[0]!.status).toBe('fulfilled');
      expect(outcomes[2]!.status).toBe(when === 'after' ? 'fulfilled' : 'rejected');

      // Clients retry everything that failed: each decision is logged once.
      const retried = await Promise.all(
        [5, 10, 15].map((from) => ledger.append('tester', decisions(from, 5))),
      );
      const indexes = retried.flatMap((r) => r.entries.map((e) => e.index));
      expect(indexes).toEqual(Array.from({ length: 15 }, (_, i) => 5 + i));
      const more = await ledger.append('tester', decisions(20, 5));
      expect(more.checkpoint.size).toBe(25);
      expect(ledger.latestCheckpoint()!.size).toBe(25);
      await ledger.close();
      const check = new SqliteStore(path);
      expect(await checkLog(check, keys.verifierKey)).toBe(25);
      await check.close();
    });
  }

  it('sends one batch at a time to unordered stores', async () => {
    const gated = new GatedStore(tempDb());
    Object.defineProperty(gated.store, 'orderedCommits', { value: false });
    gated.release();
    const ledger = await Ledger.open(gated.store, newSigner(keys.signerKey), keys.verifierKey, {
      maxBatchEntries: 5,
    });
    gated.hold();
    const appends = [0, 5, 10].map((from) => ledger.append('tester', decisions(from, 5)));
    await gated.waitSent(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(gated.sent).toEqual([0, 5]);
    gated.release();
    await Promise.all(appends);
    await ledger.close();
  });
});
