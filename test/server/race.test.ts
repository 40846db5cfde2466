import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/encoding.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { decisionJSON } from '../support/decisions.js';
import { type TestServer, get, hashes, open, post, startTestServer } from './harness.js';

const WRITERS = 4;
const REQUESTS = 10;
const PER_REQUEST = 5;
const READERS = 4;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ maxWaitMs: 2 });
});

afterAll(() => server.stop());

async function writer(w: number): Promise<void> {
  for (let r = 0; r < REQUESTS; r++) {
    const from = (w * REQUESTS + r) * PER_REQUEST;
    const body = {
      decisions: Array.from({ length: PER_REQUEST }, (_, i) => decisionJSON(from + i)),
    };
    const reply = await post(server, body);
    expect(reply.status).toBe(200);
    const { checkpoint } = open(server, reply.json.checkpoint);
    for (const e of reply.json.entries) {
      const proof = hashes(e.inclusion_proof);
      verifyInclusion(fromHex(e.leaf_hash), e.index, checkpoint.size, proof, checkpoint.root);
    }
  }
}

/** Fetches proofs for the latest size and verifies each against the checkpoint it names. */
async function readOnce(seen: { size: number }): Promise<number> {
  const { size } = open(server, (await get(server, '/checkpoint')).json).checkpoint;
  let checks = 0;
  if (size > 0) {
    const index = Math.floor(Math.random() * size);
    const inclusion = await get(server, `/v1/proof/inclusion?index=${index}&tree_size=${size}`);
    expect(inclusion.status).toBe(200);
    const signed = open(server, inclusion.json.checkpoint).checkpoint;
    expect(signed.size).toBe(size);
    const proof = hashes(inclusion.json.inclusion_proof);
    verifyInclusion(fromHex(inclusion.json.leaf_hash), index, signed.size, proof, signed.root);
    checks++;
  }
  if (seen.size > 0) {
    const consistency = await get(server, `/v1/proof/consistency?old=${seen.size}`);
    expect(consistency.status).toBe(200);
    const old = open(server, consistency.json.old_checkpoint).checkpoint;
    const next = open(server, consistency.json.checkpoint).checkpoint;
    expect(old.size).toBe(seen.size);
    verifyConsistency(
      old.size,
      next.size,
      hashes(consistency.json.consistency_proof),
      old.root,
      next.root,
    );
    checks++;
  }
  seen.size = Math.max(seen.size, size);
  return checks;
}

describe('concurrent appends and reads', () => {
  it('race: every proof verifies', async () => {
    let writing = true;
    const writers = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w))).finally(
      () => (writing = false),
    );
    const readers = Array.from({ length: READERS }, async () => {
      const seen = { size: 0 };
      let checks = 0;
      while (writing) checks += await readOnce(seen);
      return checks + (await readOnce(seen));
    });
    await writers;
    const checks = await Promise.all(readers);
    expect(checks.every((n) => n > 0)).toBe(true);
    expect(open(server, (await get(server, '/checkpoint')).json).checkpoint.size).toBe(
      WRITERS * REQUESTS * PER_REQUEST,
    );
  });
});
