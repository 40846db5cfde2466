import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint.js';
import { fromHex, toHex } from '../../src/encoding.js';
import { newVerifier } from '../../src/note.js';
import { verifyConsistency } from '../../src/verify.js';
import { initData, type ServerProcess, startServe } from '../support/cli-server.js';
import { decisionJSON } from '../support/decisions.js';

interface Ack {
  id: string;
  index: number;
  leafHash: string;
  checkpoint: string;
}

const servers: ServerProcess[] = [];
afterAll(() => {
  for (const s of servers) s.child.kill('SIGKILL');
});

/** Appends batches from several writers until `stop` is set; returns every acknowledged decision. */
async function writeLoad(url: string, token: string, first: number, stop: { now: boolean }) {
  const acks: Ack[] = [];
  const sent: number[] = [];
  let next = first;
  const writer = async () => {
    while (!stop.now) {
      const batch = Array.from({ length: 10 }, () => next++);
      sent.push(...batch);
      try {
        const res = await fetch(`${url}/v1/decisions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ decisions: batch.map((n) => decisionJSON(n)) }),
        });
        if (res.status !== 200) continue;
        const body = (await res.json()) as any;
        body.entries.forEach((e: any, i: number) =>
          acks.push({
            id: `test-${batch[i]}`,
            index: e.index,
            leafHash: e.leaf_hash,
            checkpoint: body.checkpoint,
          }),
        );
      } catch {
        // The server died mid-request: this batch is not acknowledged.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
  return { acks, sent };
}

describe('crash safety', () => {
  it('keeps every acknowledged decision across SIGKILL', async () => {
    const { dir, init } = initData();
    const verifier = newVerifier(init.verifier_key);
    const allAcks: Ack[] = [];
    let first = 0;

    for (let round = 0; round < 3; round++) {
      const server = await startServe(dir);
      servers.push(server);
      const stop = { now: false };
      const load = writeLoad(server.url, init.token, first, stop);
      await new Promise((r) => setTimeout(r, 700 + 300 * round));
      server.child.kill('SIGKILL');
      await server.exited;
      stop.now = true;
      const { acks, sent } = await load;
      expect(acks.length, `round ${round} acknowledged some appends`).toBeGreaterThan(0);
      allAcks.push(...acks);
      first = Math.max(...sent) + 1;
    }

    const server = await startServe(dir);
    servers.push(server);
    const latestNote = await (await fetch(`${server.url}/checkpoint`)).text();
    const latest = openCheckpoint(latestNote, verifier).checkpoint;

    // Every acknowledged decision is present, at its index, with its leaf hash.
    for (const ack of allAcks) {
      const entry = (await (await fetch(`${server.url}/v1/entries/${ack.index}`)).json()) as any;
      expect(entry.leaf_hash).toBe(ack.leafHash);
      expect(entry.decision.id).toBe(ack.id);
    }

    // Every checkpoint a writer was given is consistent with the new one.
    const seen = new Map(
      allAcks.map((a) => [a.checkpoint, openCheckpoint(a.checkpoint, verifier).checkpoint]),
    );
    for (const old of seen.values()) {
      const res = await fetch(
        `${server.url}/v1/proof/consistency?old=${old.size}&new=${latest.size}`,
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      verifyConsistency(
        old.size,
        latest.size,
        body.consistency_proof.map((h: string) => fromHex(h)),
        old.root,
        latest.root,
      );
    }

    // Retrying everything that was sent logs each decision exactly once.
    const retry = Array.from({ length: first }, (_, n) => decisionJSON(n));
    const indexes = new Set<number>();
    for (let i = 0; i < retry.length; i += 500) {
      const res = await fetch(`${server.url}/v1/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${init.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decisions: retry.slice(i, i + 500) }),
      });
      expect(res.status).toBe(200);
      for (const e of ((await res.json()) as any).entries) indexes.add(e.index);
    }
    expect(indexes.size).toBe(first);
    const final = openCheckpoint(await (await fetch(`${server.url}/checkpoint`)).text(), verifier);
    expect(final.checkpoint.size).toBe(first);
    expect(toHex(final.checkpoint.root)).toHaveLength(64);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
