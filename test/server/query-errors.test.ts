import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionJSON } from '../support/decisions.js';
import { type TestServer, expectError, get, post, startTestServer } from './harness.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  // Two commits: sizes 4 and 6 are published, 1 to 3 and 5 are not.
  const four = { decisions: [0, 1, 2, 3].map((n) => decisionJSON(n)) };
  expect((await post(server, four)).json.tree_size).toBe(4);
  const two = { decisions: [4, 5].map((n) => decisionJSON(n)) };
  expect((await post(server, two)).json.tree_size).toBe(6);
  await server.running.ledger.indexed();
});

afterAll(() => server.stop());

const BAD_NUMBERS = ['abc', '-1', '+1', '01', '00', '1.0', '1e3', '', '9007199254740992'];

describe('query errors', () => {
  it('numbers: bad spellings are invalid_number', async () => {
    for (const bad of BAD_NUMBERS) {
      const v = encodeURIComponent(bad);
      const cases: [string, string][] = [
        [`/v1/proof/inclusion?index=${v}`, 'index'],
        [`/v1/proof/inclusion?index=1&tree_size=${v}`, 'tree_size'],
        [`/v1/proof/consistency?old=${v}`, 'old'],
        [`/v1/proof/consistency?old=1&new=${v}`, 'new'],
        [`/v1/decisions?cursor=${v}`, 'cursor'],
        [`/v1/decisions?limit=${v}`, 'limit'],
      ];
      for (const [path, name] of cases) {
        const reply = await get(server, path);
        expectError(reply, 400, 'invalid_number');
        expect(reply.json.error.message, path).toContain(`query parameter ${name}`);
      }
    }
  });

  it('entries: bad index is invalid_number', async () => {
    for (const bad of ['abc', '-1', '01', '1.5', '9007199254740992']) {
      const reply = await get(server, `/v1/entries/${encodeURIComponent(bad)}`);
      expectError(reply, 400, 'invalid_number');
      expect(reply.json.error.message).toContain('entry index');
    }
  });

  it('ranges: past latest checkpoint is 400', async () => {
    expectError(await get(server, '/v1/entries/6'), 400, 'index_out_of_range');
    expectError(await get(server, '/v1/proof/inclusion?index=6'), 400, 'index_out_of_range');
    expectError(
      await get(server, '/v1/proof/inclusion?index=4&tree_size=4'),
      400,
      'index_out_of_range',
    );
    expectError(
      await get(server, '/v1/proof/inclusion?index=0&tree_size=7'),
      400,
      'size_out_of_range',
    );
    expectError(await get(server, '/v1/proof/consistency?old=4&new=7'), 400, 'size_out_of_range');
  });

  it('consistency: old > new, old = 0 are 400', async () => {
    const over = await get(server, '/v1/proof/consistency?old=6&new=4');
    expectError(over, 400, 'size_out_of_range');
    expect(over.json.error.message).toContain('6');
    expectError(await get(server, '/v1/proof/consistency?old=0'), 400, 'size_out_of_range');
    expectError(await get(server, '/v1/proof/consistency?old=0&new=0'), 400, 'size_out_of_range');
    expectError(await get(server, '/v1/proof/consistency'), 400, 'invalid_argument');
  });

  it('sizes: unpublished size is 404', async () => {
    expectError(
      await get(server, '/v1/proof/inclusion?index=0&tree_size=3'),
      404,
      'checkpoint_not_found',
    );
    expectError(await get(server, '/v1/proof/consistency?old=5'), 404, 'checkpoint_not_found');
  });

  it('inclusion: index xor leaf_hash', async () => {
    const hash = (await get(server, '/v1/entries/0')).json.leaf_hash;
    expectError(await get(server, '/v1/proof/inclusion'), 400, 'invalid_argument');
    const both = await get(server, `/v1/proof/inclusion?index=0&leaf_hash=${hash}`);
    expectError(both, 400, 'invalid_argument');
    expectError(await get(server, '/v1/proof/inclusion?leaf_hash=zz'), 400, 'invalid_hex');
    expectError(await get(server, '/v1/proof/inclusion?leaf_hash=abcd'), 400, 'invalid_hex');
    const unknown = await get(server, `/v1/proof/inclusion?leaf_hash=${'0'.repeat(64)}`);
    expectError(unknown, 404, 'entry_not_found');
  });

  it('query: unknown, repeated, empty are 400', async () => {
    for (const path of [
      '/v1/decisions?issuer=x',
      '/v1/decisions?kid=a&kid=b',
      '/v1/decisions?kid=',
      '/v1/proof/inclusion?index=0&size=1',
      '/checkpoint?x=1',
      '/v1/entries/0?full=1',
    ]) {
      expectError(await get(server, path), 400, 'invalid_argument');
    }
  });

  it('search: limit and time bounds', async () => {
    expectError(await get(server, '/v1/decisions?limit=0'), 400, 'invalid_argument');
    expectError(await get(server, '/v1/decisions?limit=1001'), 400, 'invalid_argument');
    expect((await get(server, '/v1/decisions?limit=1000')).status).toBe(200);
    for (const bad of ['yesterday', '2024-02-30T00:00:00Z', '2024-01-01', '1969-12-31T23:59:59Z']) {
      const reply = await get(server, `/v1/decisions?since=${encodeURIComponent(bad)}`);
      expectError(reply, 400, 'invalid_argument');
      expect(reply.json.error.message).toContain('query parameter since');
    }
    const reversed = await get(server, '/v1/decisions?since=2&until=1');
    expectError(reversed, 400, 'invalid_argument');
    expectError(await get(server, '/v1/decisions?decision=maybe'), 400, 'invalid_argument');
    expect((await get(server, '/v1/decisions?decision=reject')).status).toBe(200);
  });

  it('search: RFC 3339 equals Unix milliseconds', async () => {
    // decisionJSON(n).time is 1_700_000_000_000 + n; 1_700_000_000_000 is 2023-11-14T22:13:20Z.
    const utc = await get(server, '/v1/decisions?since=2023-11-14T22:13:20.002Z');
    const offset = await get(
      server,
      `/v1/decisions?since=${encodeURIComponent('2023-11-15T00:13:20.002+02:00')}`,
    );
    const ms = await get(server, '/v1/decisions?since=1700000000002');
    const indexes = (reply: any) => reply.json.decisions.map((d: any) => d.index);
    expect(indexes(utc)).toEqual([2, 3, 4, 5]);
    expect(indexes(offset)).toEqual([2, 3, 4, 5]);
    expect(indexes(ms)).toEqual([2, 3, 4, 5]);
  });

  it('routes: unknown path is JSON 404', async () => {
    expectError(await get(server, '/v1/nothing'), 404, 'not_found');
    expectError(await post(server, {}, { path: '/checkpoint' }), 404, 'not_found');
  });
});
