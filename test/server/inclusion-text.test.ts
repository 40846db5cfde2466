import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { verifyInclusion } from '../../src/verify.js';
import { decisionJSON } from '../support/decisions.js';
import {
  type TestServer,
  expectError,
  get,
  hashes,
  open,
  post,
  startTestServer,
} from './harness.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  for (const count of [3, 1, 6]) {
    const from = (await server.running.ledger.latestCheckpoint()?.size) ?? 0;
    const body = { decisions: Array.from({ length: count }, (_, i) => decisionJSON(from + i)) };
    expect((await post(server, body)).status).toBe(200);
  }
});

afterAll(() => server.stop());

describe('GET /v1/proof/inclusion', () => {
  it('leaf hash matches the entry', async () => {
    const size = open(server, (await get(server, '/checkpoint')).json).checkpoint.size;
    const cases = [[0], [2], [size - 1], [1, 3], [3, 4]] as const;
    for (const [index, treeSize] of cases) {
      const sized = treeSize === undefined ? '' : `&tree_size=${treeSize}`;
      const response = await fetch(`${server.url}/v1/proof/inclusion?index=${index}${sized}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      const text = await response.text();
      const json = JSON.parse(text);
      const canonical = JSON.stringify({
        index: json.index,
        tree_size: json.tree_size,
        leaf_hash: json.leaf_hash,
        inclusion_proof: json.inclusion_proof,
        checkpoint: json.checkpoint,
      });
      expect(text).toBe(canonical);
      const entry = await server.running.ledger.entry(index);
      expect(json.leaf_hash).toBe(toHex(leafHash(entry.data)));
      const { checkpoint } = open(server, json.checkpoint);
      expect(checkpoint.size).toBe(treeSize ?? size);
      const proof = hashes(json.inclusion_proof);
      verifyInclusion(fromHex(json.leaf_hash), index, checkpoint.size, proof, checkpoint.root);
    }
  });

  it('index past checkpoint is 400', async () => {
    const size = open(server, (await get(server, '/checkpoint')).json).checkpoint.size;
    expectError(await get(server, `/v1/proof/inclusion?index=${size}`), 400, 'index_out_of_range');
    await expect(server.running.ledger.leafHashAt(size)).rejects.toThrow(/not below tree size/);
    expect(toHex(await server.running.ledger.leafHashAt(size - 1))).toBe(
      toHex(leafHash((await server.running.ledger.entry(size - 1)).data)),
    );
  });
});
