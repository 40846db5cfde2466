/**
 * Three `declog serve` processes on one PostgreSQL database under a write
 * load. The sequencer is killed with SIGKILL; another server takes over,
 * every acknowledged decision is in the log at its index, and an auditor
 * that polled every server's checkpoint throughout sees one history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint.js';
import { fromHex, toHex } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { newVerifier, type Verifier } from '../../src/note.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { verifyConsistency } from '../../src/verify.js';
import { checkLog } from '../support/check-log.js';
import { TEST_PG_URL, type TestDatabase, createTestDatabase } from '../support/postgres.js';
import { type Ack, type Cluster, appendAnywhere, sequencerUrl, startCluster } from './cluster.js';

const WRITERS = 4;
/** Most sizes whose pairs the auditor proves consistent (evenly sampled, ends included). */
const AUDITED_SIZES = 30;

let db: TestDatabase | undefined;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  await db?.drop();
  cluster = undefined;
  db = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fetches a server's checkpoint; undefined when the server is gone or has none yet. */
async function fetchCheckpoint(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/checkpoint`);
    return res.status === 200 ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Polls every live server's checkpoint; checks signatures, one note per size, no rollback. */
class Auditor {
  readonly notes = new Map<number, string>();
  readonly roots = new Map<number, Uint8Array>();
  private readonly newest = new Map<string, number>();
  private running = true;
  readonly done: Promise<void>;

  constructor(
    private readonly cluster: Cluster,
    private readonly verifier: Verifier,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      for (const s of this.cluster.alive()) {
        const note = await fetchCheckpoint(s.url);
        if (note !== undefined) this.check(s.url, note);
      }
      await sleep(50);
    }
  }

  private check(url: string, note: string): void {
    const { checkpoint } = openCheckpoint(note, this.verifier);
    expect(
      this.notes.get(checkpoint.size) ?? note,
      `one checkpoint of size ${checkpoint.size}`,
    ).toBe(note);
    expect(checkpoint.size, `${url} rolled back`).toBeGreaterThanOrEqual(this.newest.get(url) ?? 0);
    this.newest.set(url, checkpoint.size);
    this.notes.set(checkpoint.size, note);
    this.roots.set(checkpoint.size, checkpoint.root);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Proves every pair of (sampled) sizes seen consistent, with proofs from `url`. */
  async proveConsistency(url: string): Promise<number> {
    const all = [...this.roots.keys()].filter((s) => s > 0).sort((a, b) => a - b);
    const step = Math.max(1, (all.length - 1) / (AUDITED_SIZES - 1));
    const sizes = [
      ...new Set(
        Array.from(
          { length: Math.min(all.length, AUDITED_SIZES) },
          (_, i) => all[Math.round(i * step)]!,
        ),
      ),
    ];
    let pairs = 0;
    for (const [i, oldSize] of sizes.entries()) {
      for (const newSize of sizes.slice(i + 1)) {
        const res = await fetch(`${url}/v1/proof/consistency?old=${oldSize}&new=${newSize}`);
        const body = (await res.json()) as { consistency_proof: string[] };
        const proof = body.consistency_proof.map((h) => fromHex(h));
        verifyConsistency(
          oldSize,
          newSize,
          proof,
          this.roots.get(oldSize)!,
          this.roots.get(newSize)!,
        );
        pairs++;
      }
    }
    return pairs;
  }
}

/** Appends decisions n, n + WRITERS, ... until `stop` is set; returns the acknowledgements. */
async function writer(cluster: Cluster, first: number, stop: { now: boolean }): Promise<Ack[]> {
  const acks: Ack[] = [];
  for (let n = first; !stop.now; n += WRITERS) acks.push(await appendAnywhere(cluster, n));
  return acks;
}

describe.skipIf(!TEST_PG_URL)('three servers on one database', () => {
  it('fail over after SIGKILL', { timeout: 90_000 }, async () => {
    db = await createTestDatabase();
    cluster = await startCluster(db.url, 3);
    const verifier = newVerifier(cluster.init.verifier_key);
    const auditor = new Auditor(cluster, verifier);
    const stop = { now: false };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(cluster!, w, stop));

    await sleep(1500);
    const leader = await sequencerUrl(cluster);
    const victim = cluster.servers.find((s) => s.url === leader)!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    const after = await appendAnywhere(cluster, 2_000_000);
    const failoverMs = Date.now() - killedAt;
    const newLeader = await sequencerUrl(cluster);
    expect(newLeader).not.toBe(leader);
    await sleep(1500);
    stop.now = true;
    const acks = [after, ...(await Promise.all(writers)).flat()];
    await sleep(300);
    await auditor.stop();

    // Every acknowledged decision is in the log at its index, under its checkpoint.
    const store = await PostgresStore.connect(db.url);
    try {
      const size = await checkLog(store, cluster.init.verifier_key);
      const entries = await store.readEntries(0, size);
      for (const ack of acks) {
        expect(toHex(leafHash(entries[ack.index]!))).toBe(ack.leafHash);
        expect(ack.index).toBeLessThan(ack.treeSize);
        expect((await store.checkpoint(ack.treeSize))!.note).toBe(ack.checkpoint);
      }
      // The auditor's checkpoints are the stored ones, and pairwise consistent.
      for (const [s, note] of auditor.notes) expect((await store.checkpoint(s))!.note).toBe(note);
      const pairs = await auditor.proveConsistency(newLeader);
      const killedSize = Math.max(...acks.filter((a) => a.treeSize > 0).map((a) => a.treeSize));
      console.info(
        `failover: ${acks.length} acks, tree size ${size} (last ack ${killedSize}), ` +
          `${auditor.notes.size} checkpoints audited, ${pairs} pairs proved, ` +
          `first append after SIGKILL acknowledged in ${failoverMs} ms`,
      );
      expect(failoverMs).toBeLessThan(10_000);
    } finally {
      await store.close();
    }
  });
});
