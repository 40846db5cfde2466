/**
 * Two ledgers, each with its own connection pool as two server processes
 * would have, append to one PostgreSQL database at the same time. The head
 * row's compare-and-swap lets one commit per tree size through; the loser's
 * batch fails, its sequencer reloads, and the client retries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/decision.js';
import { bytesEqual } from '../../src/encoding.js';
import { StorageError } from '../../src/errors.js';
import { leafHash } from '../../src/hash.js';
import { type AppendResult, Ledger } from '../../src/ledger.js';
import { generateKey, newSigner } from '../../src/note.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { checkLog } from '../support/check-log.js';
import { decisions } from '../support/decisions.js';
import { TEST_PG_URL, type TestDatabase, createTestDatabase } from '../support/postgres.js';

const keys = generateKey('test.example/log');
const WORKERS = 4;
const REQUESTS = 12;
const MAX_TRIES = 50;
/** Decisions 10000.. are sent by both ledgers, so each is logged once and acknowledged twice. */
const SHARED_FROM = 10_000;

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

async function openLedger(url: string): Promise<Ledger> {
  const store = await PostgresStore.connect(url);
  return Ledger.open(store, newSigner(keys.signerKey), keys.verifierKey);
}

/** Appends, retrying while another writer wins the race; counts the lost races. */
async function appendWithRetry(
  ledger: Ledger,
  batch: Decision[],
  lost: { count: number },
): Promise<AppendResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ledger.append('tester', batch);
    } catch (err) {
      if (!(err instanceof StorageError) || attempt === MAX_TRIES) throw err;
      lost.count++;
    }
  }
}

/** Returns the requests of worker `w` of process `p`: 1 to 3 own decisions and a shared one. */
function workload(p: number, w: number): Decision[][] {
  return Array.from({ length: REQUESTS }, (_, r) => {
    const first = 1000 * p + 100 * w + 5 * r;
    const own = decisions(first, 1 + ((p + w + r) % 3));
    return [...own, ...decisions(SHARED_FROM + w * REQUESTS + r, 1)];
  });
}

interface Ack {
  request: Decision[];
  result: AppendResult;
}

/** Runs the workers of process `p` on one ledger; each sends its requests one after another. */
async function run(ledger: Ledger, p: number, lost: { count: number }): Promise<Ack[]> {
  const perWorker = await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const acks: Ack[] = [];
      for (const request of workload(p, w)) {
        acks.push({ request, result: await appendWithRetry(ledger, request, lost) });
      }
      return acks;
    }),
  );
  return perWorker.flat();
}

describe.skipIf(!TEST_PG_URL)('two ledgers on one PostgreSQL database', () => {
  it('keep one consistent log', async () => {
    db = await createTestDatabase();
    // Both race to sign the size-0 checkpoint: the loser continues from the winner's.
    const [a, b] = await Promise.all([openLedger(db.url), openLedger(db.url)]);
    const lost = { count: 0 };
    const [fromA, fromB] = await Promise.all([run(a, 1, lost), run(b, 2, lost)]);
    await a.close();
    await b.close();

    const store = await PostgresStore.connect(db.url);
    try {
      const size = await checkLog(store, keys.verifierKey);
      const acks = [...fromA, ...fromB];
      const distinct = new Set(acks.flatMap((ack) => ack.request.map((d) => d.id)));
      expect(size).toBe(distinct.size);

      // Every acknowledged entry is in the log at its index, under its checkpoint.
      const entries = await store.readEntries(0, size);
      for (const { result } of acks) {
        for (const e of result.entries) {
          expect(bytesEqual(leafHash(entries[e.index]!), e.leafHash)).toBe(true);
          expect(e.index).toBeLessThan(result.checkpoint.size);
        }
      }

      // A shared decision has one index, whichever ledger logged it.
      const sharedIndex = new Map<string, number>();
      for (const { request, result } of acks) {
        const id = request.at(-1)!.id;
        const index = result.entries.at(-1)!.index;
        expect(sharedIndex.get(id) ?? index).toBe(index);
        sharedIndex.set(id, index);
      }
      expect(sharedIndex.size).toBe(WORKERS * REQUESTS);

      // One signed checkpoint per size: what each client was given is what is stored.
      const notes = new Map<number, string>();
      for (const { checkpoint } of acks.map((ack) => ack.result)) {
        expect(notes.get(checkpoint.size) ?? checkpoint.note).toBe(checkpoint.note);
        notes.set(checkpoint.size, checkpoint.note);
        expect((await store.checkpoint(checkpoint.size))!.note).toBe(checkpoint.note);
      }
      console.info(`race: ${size} entries, ${notes.size} checkpoints, ${lost.count} lost races`);
    } finally {
      await store.close();
    }
  });
});
