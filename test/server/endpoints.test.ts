import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDecision } from '../../src/decision.js';
import { fromBase64, fromHex, toHex } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { decisionJSON } from '../support/decisions.js';
import { type TestServer, get, hashes, open, post, startTestServer } from './harness.js';

let server: TestServer;
/** Tree sizes after each of the three appends in beforeAll. */
const sizes: number[] = [];

beforeAll(async () => {
  server = await startTestServer();
  for (const [from, count] of [
    [0, 1],
    [1, 5],
    [6, 14],
  ] as const) {
    const body = { decisions: Array.from({ length: count }, (_, i) => decisionJSON(from + i)) };
    const reply = await post(server, body);
    expect(reply.status).toBe(200);
    sizes.push(reply.json.tree_size);
  }
  await server.running.ledger.indexed();
});

afterAll(() => server.stop());

describe('server endpoints', () => {
  it('append: receipts verify against checkpoint', async () => {
    const body = { decisions: [decisionJSON(100), decisionJSON(101)] };
    const reply = await post(server, body);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reply.headers.get('x-request-id')).toMatch(/^[\w-]+$/);
    const { checkpoint } = open(server, reply.json.checkpoint);
    expect(reply.json.tree_size).toBe(checkpoint.size);
    expect(reply.json.validator).toBe('default');
    expect(reply.json.entries).toHaveLength(2);
    for (const e of reply.json.entries) {
      expect(e.duplicate).toBe(false);
      expect(e.leaf_hash).toMatch(/^[0-9a-f]{64}$/);
      const proof = hashes(e.inclusion_proof);
      verifyInclusion(fromHex(e.leaf_hash), e.index, checkpoint.size, proof, checkpoint.root);
    }
    const entry = await get(server, `/v1/entries/${reply.json.entries[1].index}`);
    expect(entry.json.decision.id).toBe('test-101');
    expect(entry.json.decision.validator).toBe('default');
  });

  it('append: a single decision body', async () => {
    const reply = await post(server, decisionJSON(200));
    expect(reply.status).toBe(200);
    expect(reply.json.entries).toHaveLength(1);
    expect(reply.json.entries[0].index).toBe(reply.json.tree_size - 1);
  });

  it('checkpoint: signed note as text', async () => {
    const reply = await get(server, '/checkpoint');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(reply.headers.get('cache-control')).toBe('no-cache');
    const { checkpoint } = open(server, reply.json);
    expect(checkpoint.origin).toBe('log.example/declog');
    expect(checkpoint.size).toBeGreaterThanOrEqual(sizes[2]!);
  });

  it('log: identity and size match', async () => {
    const reply = await get(server, '/v1/log');
    const { checkpoint } = open(server, (await get(server, '/checkpoint')).json);
    expect(reply.json).toEqual({
      origin: 'log.example/declog',
      verifier_key: server.verifierKey,
      tree_size: checkpoint.size,
      root_hash: toHex(checkpoint.root),
      indexed_size: expect.any(Number),
    });
    expect(reply.json.indexed_size).toBeLessThanOrEqual(checkpoint.size);
  });

  it('healthz: ok and the tree size', async () => {
    const reply = await get(server, '/healthz');
    expect(reply.json).toEqual({
      status: 'ok',
      tree_size: await server.running.ledger.latestCheckpoint()!.size,
    });
  });

  it('inclusion: by index at an earlier size', async () => {
    const reply = await get(server, `/v1/proof/inclusion?index=3&tree_size=${sizes[1]}`);
    expect(reply.status).toBe(200);
    const { checkpoint } = open(server, reply.json.checkpoint);
    expect(checkpoint.size).toBe(sizes[1]);
    expect(reply.json.tree_size).toBe(sizes[1]);
    expect(reply.json.index).toBe(3);
    const entry = await get(server, '/v1/entries/3');
    expect(reply.json.leaf_hash).toBe(entry.json.leaf_hash);
    const proof = hashes(reply.json.inclusion_proof);
    verifyInclusion(fromHex(reply.json.leaf_hash), 3, checkpoint.size, proof, checkpoint.root);
  });

  it('inclusion: by leaf hash at the latest size', async () => {
    const entry = await get(server, '/v1/entries/7');
    const reply = await get(server, `/v1/proof/inclusion?leaf_hash=${entry.json.leaf_hash}`);
    expect(reply.status).toBe(200);
    expect(reply.json.index).toBe(7);
    const { checkpoint } = open(server, reply.json.checkpoint);
    expect(reply.json.tree_size).toBe(checkpoint.size);
    const proof = hashes(reply.json.inclusion_proof);
    verifyInclusion(fromHex(entry.json.leaf_hash), 7, checkpoint.size, proof, checkpoint.root);
  });

  it('consistency: between two published sizes', async () => {
    const reply = await get(server, `/v1/proof/consistency?old=${sizes[0]}&new=${sizes[2]}`);
    expect(reply.status).toBe(200);
    const old = open(server, reply.json.old_checkpoint).checkpoint;
    const next = open(server, reply.json.checkpoint).checkpoint;
    expect([reply.json.old_size, reply.json.tree_size]).toEqual([sizes[0], sizes[2]]);
    expect([old.size, next.size]).toEqual([sizes[0], sizes[2]]);
    const proof = hashes(reply.json.consistency_proof);
    verifyConsistency(old.size, next.size, proof, old.root, next.root);
  });

  it('consistency: to the latest size by default', async () => {
    const reply = await get(server, `/v1/proof/consistency?old=${sizes[1]}`);
    const old = open(server, reply.json.old_checkpoint).checkpoint;
    const next = open(server, reply.json.checkpoint).checkpoint;
    expect(next.size).toBe(server.running.ledger.latestCheckpoint()!.size);
    verifyConsistency(
      old.size,
      next.size,
      hashes(reply.json.consistency_proof),
      old.root,
      next.root,
    );
  });

  it('consistency: equal sizes give an empty proof', async () => {
    const reply = await get(server, `/v1/proof/consistency?old=${sizes[1]}&new=${sizes[1]}`);
    expect(reply.status).toBe(200);
    expect(reply.json.consistency_proof).toEqual([]);
    expect(reply.json.old_checkpoint).toBe(reply.json.checkpoint);
  });

  it('entries: entry bytes hash to leaf_hash', async () => {
    const reply = await get(server, '/v1/entries/2');
    expect(reply.status).toBe(200);
    const bytes = fromBase64(reply.json.entry);
    expect(toHex(leafHash(bytes))).toBe(reply.json.leaf_hash);
    expect(reply.json.index).toBe(2);
    expect(reply.json.decision).toEqual({ v: 1, ...decisionJSON(2), validator: 'default' });
    expect(decodeDecision(bytes).id).toBe('test-2');
  });

  it('search: filters and pages by cursor', async () => {
    // decisionJSON(n) has key_domain consumer for even n: 0, 2, ..., 18 among the first 20.
    const first = await get(server, '/v1/decisions?key_domain=consumer&limit=4');
    expect(first.status).toBe(200);
    expect(first.json.indexed_size).toBeGreaterThanOrEqual(sizes[2]!);
    expect(first.json.decisions.map((d: any) => d.index)).toEqual([0, 2, 4, 6]);
    expect(first.json.next_cursor).toBe('6');
    const second = await get(server, `/v1/decisions?key_domain=consumer&limit=4&cursor=6`);
    expect(second.json.decisions.map((d: any) => d.index)).toEqual([8, 10, 12, 14]);
    for (const d of second.json.decisions) {
      expect(d.decision.key_domain).toBe('consumer');
      const entry = await get(server, `/v1/entries/${d.index}`);
      expect(d.leaf_hash).toBe(entry.json.leaf_hash);
      expect(d.decision).toEqual(entry.json.decision);
    }
  });

  it('search: combined filters and time window', async () => {
    // time is 1_700_000_000_000 + n; kid is key-(n % 7); decision is reject when n % 3 === 0.
    const since = 1_700_000_000_003;
    const until = new Date(1_700_000_000_015).toISOString();
    const reply = await get(server, `/v1/decisions?decision=reject&since=${since}&until=${until}`);
    expect(reply.json.decisions.map((d: any) => d.index)).toEqual([3, 6, 9, 12, 15]);
    expect(reply.json.next_cursor).toBeNull();
    const byKid = await get(
      server,
      '/v1/decisions?kid=key-3&rp=mail&iss=https://login.consumer.example',
    );
    expect(byKid.json.decisions.map((d: any) => d.index)).toEqual([10]);
  });
});
