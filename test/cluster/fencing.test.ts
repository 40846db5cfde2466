/**
 * Two processes (two ledgers, each with its own connection pools) forced to
 * race for the sequencer lease of one PostgreSQL database. The deposed one
 * still believes it sequences and its tree state matches the database, so
 * the head compare-and-swap alone would let its commit through: the lease
 * epoch checked in the commit transaction must stop it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { Ledger } from '../../src/ledger.js';
import { generateKey, newSigner } from '../../src/note.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { PostgresLease } from '../../src/store/postgres-lease.js';
import { checkLog } from '../support/check-log.js';
import { decisions } from '../support/decisions.js';
import { TEST_PG_URL, type TestDatabase, createTestDatabase } from '../support/postgres.js';

const keys = generateKey('test.example/log');
const TTL_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await db?.drop();
  db = undefined;
});

interface Process {
  store: PostgresStore;
  lease: PostgresLease;
  ledger: Ledger;
}

async function startProcess(url: string, holder: string): Promise<Process> {
  const store = await PostgresStore.connect(url);
  const lease = new PostgresLease(url, { holder, ttlMs: TTL_MS });
  const ledger = await Ledger.open(store, newSigner(keys.signerKey), keys.verifierKey, {
    follow: true,
  });
  closers.push(
    () => lease.close(),
    () => ledger.close(),
  );
  return { store, lease, ledger };
}

/** Takes the lease for `p` and makes its ledger sequence under it. */
async function takeOver(p: Process): Promise<number> {
  const grant = await p.lease.acquire();
  if (!grant) throw new Error(`${p.lease.holder} did not get the lease`);
  p.store.setFence(grant);
  await p.ledger.lead();
  return grant.epoch;
}

describe.skipIf(!TEST_PG_URL)('sequencer lease', () => {
  it('fences a deposed sequencer', async () => {
    db = await createTestDatabase();
    const a = await startProcess(db.url, 'a');
    const b = await startProcess(db.url, 'b');
    expect(await takeOver(a)).toBe(1);
    await a.ledger.append('tester', decisions(0, 2));
    expect(await b.lease.acquire()).toBeUndefined();

    // a stops renewing (a pause, a partition); b takes over once the lease expires.
    await sleep(TTL_MS + 100);
    expect(await takeOver(b)).toBe(2);
    expect(b.ledger.latestCheckpoint()!.size).toBe(2);

    // a's state is still current (size 2), so only the epoch check refuses it.
    const refused = a.ledger.append('tester', decisions(10, 1));
    await expect(refused).rejects.toThrow(StorageError);
    await expect(refused).rejects.toMatchObject({ code: 'not_sequencer' });
    await b.ledger.append('tester', decisions(20, 3));
    expect(await a.lease.renew({ holder: 'a', epoch: 1 })).toBe(false);

    const size = await checkLog(b.store, keys.verifierKey);
    expect(size).toBe(5);
    expect(await b.store.findDecisionIds('tester', ['test-10'])).toEqual(new Map());
  });

  it('grants one holder per epoch', async () => {
    db = await createTestDatabase();
    const processes = await Promise.all(['a', 'b', 'c', 'd'].map((h) => startProcess(db!.url, h)));
    for (let round = 1; round <= 5; round++) {
      const grants = await Promise.all(processes.map((p) => p.lease.acquire()));
      const winners = grants.filter((g) => g !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]!.epoch).toBe(round);
      await sleep(TTL_MS + 100);
    }
  });

  it('lets a follower refuse appends and read the log', async () => {
    db = await createTestDatabase();
    const a = await startProcess(db.url, 'a');
    const b = await startProcess(db.url, 'b');
    await takeOver(a);
    await a.ledger.append('tester', decisions(0, 3));
    await b.ledger.follow('http://127.0.0.1:1');
    await expect(b.ledger.append('tester', decisions(5, 1))).rejects.toMatchObject({
      code: 'not_sequencer',
      leaderUrl: 'http://127.0.0.1:1',
    });
    // A proof at a size the follower has not read yet makes it read the store.
    const { checkpoint } = await b.ledger.inclusionProof(2, 3);
    expect(checkpoint.note).toBe(a.ledger.latestCheckpoint()!.note);
    expect(b.ledger.latestCheckpoint()!.size).toBe(3);
  });
});
