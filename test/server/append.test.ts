import { encode } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex } from '../../src/encoding.js';
import { leafHash, sha256 } from '../../src/hash.js';
import { parseTlogProof, verifyTlogProof } from '../../src/tlog-proof.js';
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
  treeSize,
} from './harness.js';

const BODY_LIMIT = 64 * 1024;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ bodyLimit: BODY_LIMIT });
  expect((await post(server, { decisions: [decisionJSON(0), decisionJSON(1)] })).status).toBe(200);
});

afterAll(() => server.stop());

/** Runs a request and checks that it left the tree as it was. */
async function unchanged<T>(fn: () => Promise<T>): Promise<T> {
  const before = await treeSize(server);
  const result = await fn();
  expect(await treeSize(server)).toBe(before);
  return result;
}

const batch = (from: number, count: number) => ({
  decisions: Array.from({ length: count }, (_, i) => decisionJSON(from + i)),
});

describe('append errors', () => {
  it('append: malformed JSON is 400 malformed_json', async () => {
    const reply = await unchanged(() => post(server, null, { raw: '{"decisions": [' }));
    expectError(reply, 400, 'malformed_json');
  });

  it('append: invalid UTF-8 is 400 malformed_json', async () => {
    const raw = new Uint8Array([0x7b, 0xff, 0x7d]);
    expectError(await unchanged(() => post(server, null, { raw })), 400, 'malformed_json');
  });

  it('append: malformed CBOR is 400 malformed_cbor', async () => {
    const raw = new Uint8Array([0xa1, 0x62, 0x69]);
    const headers = { 'Content-Type': 'application/cbor' };
    expectError(await unchanged(() => post(server, null, { raw, headers })), 400, 'malformed_cbor');
  });

  it('append: invalid decision 3 rejects all', async () => {
    const body = batch(10, 5);
    body.decisions[3]!.time = -1;
    const reply = await unchanged(() => post(server, body));
    expectError(reply, 400, 'invalid_decision');
    expect(reply.json.error.message).toMatch(/^decisions\[3\]: field "time": /);
    const search = await get(server, '/v1/decisions?kid=key-3');
    expect(search.json.decisions).toEqual([]);
  });

  it('append: body validator is 400', async () => {
    const body = batch(20, 2);
    body.decisions[1]!.validator = 'someone-else';
    const reply = await unchanged(() => post(server, body));
    expectError(reply, 400, 'invalid_decision');
    expect(reply.json.error.message).toMatch(/^decisions\[1\]: field "validator"/);
  });

  it('append: batch shape errors are 400', async () => {
    expectError(await unchanged(() => post(server, { decisions: [] })), 400, 'invalid_decision');
    expectError(await unchanged(() => post(server, { decisions: {} })), 400, 'invalid_decision');
    const extra = { ...batch(30, 1), note: 'x' };
    expectError(await unchanged(() => post(server, extra)), 400, 'invalid_decision');
    expectError(await unchanged(() => post(server, [decisionJSON(31)])), 400, 'invalid_decision');
  });

  it('append: over 10000 decisions is 400', async () => {
    const big = await startTestServer();
    try {
      const body = { decisions: Array.from({ length: 10_001 }, () => ({})) };
      const reply = await post(big, body);
      expectError(reply, 400, 'invalid_decision');
      expect(reply.json.error.message).toContain('10001 decisions');
    } finally {
      await big.stop();
    }
  });

  it('append: body over limit is 413', async () => {
    const body = batch(40, 400);
    expect(JSON.stringify(body).length).toBeGreaterThan(BODY_LIMIT);
    expectError(await unchanged(() => post(server, body)), 413, 'body_too_large');
  });

  it('append: chunked body over limit is 413', async () => {
    const text = JSON.stringify(batch(40, 400));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < text.length; i += 4096) {
          controller.enqueue(new TextEncoder().encode(text.slice(i, i + 4096)));
        }
        controller.close();
      },
    });
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body: stream,
      duplex: 'half',
    } as RequestInit;
    const res = await unchanged(() => fetch(`${server.url}/v1/decisions`, init));
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe('body_too_large');
  });

  it('append: other content types are 415', async () => {
    const headers = { 'Content-Type': 'text/plain' };
    const reply = await unchanged(() => post(server, decisionJSON(50), { headers }));
    expectError(reply, 415, 'unsupported_media_type');
  });

  it('append: missing token is 401', async () => {
    for (const auth of [undefined, 'Basic abc', 'Bearer', 'Bearer a b', `Token ${server.token}`]) {
      const headers: Record<string, string> = auth ? { Authorization: auth } : {};
      const init = {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify(decisionJSON(60)),
      };
      const res = await unchanged(() => fetch(`${server.url}/v1/decisions`, init));
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as any).error.code).toBe('missing_token');
    }
  });

  it('append: unknown token is 403, unlogged', async () => {
    const wrong = 'declog_' + 'A'.repeat(43);
    const headers = { Authorization: `Bearer ${wrong}` };
    expectError(
      await unchanged(() => post(server, decisionJSON(61), { headers })),
      403,
      'invalid_token',
    );
    expect(server.logText()).not.toContain(wrong);
    expect(server.logText()).not.toContain(server.token);
    expect(server.logs().some((l) => l.code === 'invalid_token' && l.req_id)).toBe(true);
  });

  it('append: bearer scheme ignores case', async () => {
    const headers = { Authorization: `bearer ${server.token}` };
    expect((await post(server, decisionJSON(62), { headers })).status).toBe(200);
  });

  it('append: unknown query or format is 400', async () => {
    const unknown = await unchanged(() =>
      post(server, decisionJSON(63), { path: '/v1/decisions?x=1' }),
    );
    expectError(unknown, 400, 'invalid_argument');
    const format = await unchanged(() =>
      post(server, decisionJSON(63), { path: '/v1/decisions?format=pdf' }),
    );
    expectError(format, 400, 'invalid_argument');
  });
});

describe('append results', () => {
  it('append: Accept with q=0 keeps bare proofs', async () => {
    const accept = { Accept: 'application/x-tlog-proof+json;q=0, application/json' };
    const reply = await post(server, decisionJSON(92), { headers: accept });
    expect(reply.status).toBe(200);
    expect(reply.json.entries[0].tlog_proof).toBeUndefined();
    expect(reply.json.entries[0].inclusion_proof).toBeInstanceOf(Array);
  });

  it('append: duplicate returns first index', async () => {
    const first = await post(server, decisionJSON(70));
    const again = await post(server, { decisions: [decisionJSON(71), decisionJSON(70)] });
    expect(again.status).toBe(200);
    const [fresh, dup] = again.json.entries;
    expect(dup.duplicate).toBe(true);
    expect(dup.index).toBe(first.json.entries[0].index);
    expect(dup.leaf_hash).toBe(first.json.entries[0].leaf_hash);
    expect(fresh.duplicate).toBe(false);
    expect(again.json.tree_size).toBe(first.json.tree_size + 1);
    const { checkpoint } = open(server, again.json.checkpoint);
    const proof = hashes(dup.inclusion_proof);
    verifyInclusion(fromHex(dup.leaf_hash), dup.index, checkpoint.size, proof, checkpoint.root);
  });

  it('append: all-duplicate request appends nothing', async () => {
    const first = await post(server, decisionJSON(72));
    const again = await unchanged(() => post(server, decisionJSON(72)));
    expect(again.json.entries[0]).toMatchObject({
      index: first.json.entries[0].index,
      duplicate: true,
    });
  });

  it('append: CBOR body with token_hash', async () => {
    const tokenHash = sha256(new TextEncoder().encode('a token'));
    const raw = encode({ decisions: [{ ...decisionJSON(80), token_hash: tokenHash }] });
    const headers = { 'Content-Type': 'application/cbor' };
    const reply = await post(server, null, { raw, headers });
    expect(reply.status).toBe(200);
    const entry = await get(server, `/v1/entries/${reply.json.entries[0].index}`);
    expect(entry.json.decision.token_hash).toBe(Buffer.from(tokenHash).toString('hex'));
    expect(entry.json.decision.id).toBe('test-80');
  });

  it('append: invalid CBOR decision is 400', async () => {
    const raw = encode({ decisions: [decisionJSON(81), { ...decisionJSON(82), time: 'now' }] });
    const headers = { 'Content-Type': 'application/cbor' };
    const reply = await unchanged(() => post(server, null, { raw, headers }));
    expectError(reply, 400, 'invalid_decision');
    expect(reply.json.error.message).toMatch(/^decisions\[1\]: field "time"/);
  });

  it('append: tlog-proof receipts verify offline', async () => {
    const byQuery = await post(server, decisionJSON(90), {
      path: '/v1/decisions?format=tlog-proof',
    });
    const accept = { Accept: 'application/x-tlog-proof+json' };
    const byAccept = await post(server, decisionJSON(91), { headers: accept });
    for (const reply of [byQuery, byAccept]) {
      expect(reply.status).toBe(200);
      const [e] = reply.json.entries;
      expect(e.inclusion_proof).toBeUndefined();
      const parsed = parseTlogProof(e.tlog_proof);
      expect(parsed.index).toBe(e.index);
      expect(parsed.checkpoint).toBe(reply.json.checkpoint);
      const entry = fromBase64((await get(server, `/v1/entries/${e.index}`)).json.entry);
      const verified = verifyTlogProof(e.tlog_proof, entry, server.verifier);
      expect(verified.checkpoint.size).toBe(reply.json.tree_size);
      expect(leafHash(entry)).toEqual(fromHex(e.leaf_hash));
    }
  });
});
