import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/encoding.js';
import { leafHash, nodeHash } from '../../src/hash.js';
import { decodeBundle } from '../../src/tiles.js';
import { decisionJSON } from '../support/decisions.js';
import { ReferenceTree } from '../support/reference-tree.js';
import { type TestServer, expectError, get, open, post, startTestServer } from './harness.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
let server: TestServer;

/** Appends decisions [from, from + count) in one request. */
async function append(from: number, count: number): Promise<number> {
  const body = { decisions: Array.from({ length: count }, (_, i) => decisionJSON(from + i)) };
  const reply = await post(server, body);
  expect(reply.status).toBe(200);
  return reply.json.tree_size;
}

/** GETs a tile or bundle as bytes. */
async function tile(
  path: string,
): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  const res = await fetch(server.url + path);
  return {
    status: res.status,
    headers: res.headers,
    bytes: new Uint8Array(await res.arrayBuffer()),
  };
}

/** Splits a hash tile into its 32-byte hashes. */
function split(bytes: Uint8Array): Uint8Array[] {
  return Array.from({ length: bytes.length / 32 }, (_, i) => bytes.slice(32 * i, 32 * i + 32));
}

beforeAll(async () => {
  server = await startTestServer();
  // Size 300 then 515: level 0 has full tiles 0 and 1 and tile 2 of width 3; level 1 has width 2.
  expect(await append(0, 300)).toBe(300);
  expect(await append(300, 215)).toBe(515);
});

afterAll(() => server.stop());

describe('tile API', () => {
  it('tiles: rebuild the signed root', async () => {
    const level0 = [
      ...split((await tile('/tile/0/000')).bytes),
      ...split((await tile('/tile/0/001')).bytes),
      ...split((await tile('/tile/0/002.p/3')).bytes),
    ];
    const level1 = split((await tile('/tile/1/000.p/2')).bytes);
    expect([level0.length, level1.length]).toEqual([515, 2]);

    // Entry bundles hash to the level-0 tiles.
    const entries: Uint8Array[] = [];
    for (const [path, width] of [
      ['/tile/entries/000', 256],
      ['/tile/entries/001', 256],
      ['/tile/entries/002.p/3', 3],
    ] as const) {
      entries.push(...decodeBundle((await tile(path)).bytes, width));
    }
    expect(entries.map(leafHash)).toEqual(level0);

    // Level-1 hashes are the roots of the full level-0 tiles.
    const tree = new ReferenceTree(entries);
    expect(level1).toEqual([tree.mth(0, 256), tree.mth(256, 512)]);

    // Root of 515 = MTH(0..512) joined with MTH(512..515), built from tile hashes only.
    const right = nodeHash(nodeHash(level0[512]!, level0[513]!), level0[514]!);
    const root = nodeHash(nodeHash(level1[0]!, level1[1]!), right);
    const { checkpoint } = open(server, (await get(server, '/checkpoint')).json);
    expect(checkpoint.size).toBe(515);
    expect(bytesEqual(root, checkpoint.root)).toBe(true);
  });

  it('tiles: narrower partial is a prefix', async () => {
    const now = await tile('/tile/0/002.p/3');
    const earlier = await tile('/tile/0/002.p/1');
    expect(earlier.status).toBe(200);
    expect(earlier.bytes).toEqual(now.bytes.subarray(0, 32));
    const bundle = await tile('/tile/entries/002.p/2');
    expect(decodeBundle(bundle.bytes, 2).length).toBe(2);
  });

  it('tiles: cache headers and content type', async () => {
    for (const path of ['/tile/0/000', '/tile/entries/001']) {
      const full = await tile(path);
      expect(full.headers.get('cache-control')).toBe(IMMUTABLE);
      expect(full.headers.get('content-type')).toBe('application/octet-stream');
    }
    for (const path of ['/tile/0/002.p/3', '/tile/1/000.p/2', '/tile/entries/002.p/3']) {
      const partial = await tile(path);
      expect(partial.status).toBe(200);
      expect(partial.headers.get('cache-control')).not.toContain('immutable');
      expect(partial.headers.get('content-type')).toBe('application/octet-stream');
    }
  });

  it('tiles: missing tiles are 404', async () => {
    for (const path of [
      '/tile/0/003',
      '/tile/0/002',
      '/tile/0/002.p/4',
      '/tile/1/000',
      '/tile/1/001.p/1',
      '/tile/2/000.p/1',
      '/tile/entries/002',
      '/tile/entries/003.p/1',
      '/tile/0/x001/000',
    ]) {
      expectError(await get(server, path), 404, 'not_found');
    }
  });

  it('tiles: superseded partial names full', async () => {
    const reply = await get(server, '/tile/0/001.p/44');
    expectError(reply, 404, 'not_found');
    expect(reply.json.error.message).toContain('/tile/0/001');
    const bundle = await get(server, '/tile/entries/000.p/255');
    expectError(bundle, 404, 'not_found');
    expect(bundle.json.error.message).toContain('/tile/entries/000');
  });

  it('tiles: malformed paths are 400', async () => {
    for (const path of [
      '/tile/0/000.p/0',
      '/tile/0/000.p/256',
      '/tile/0/000.p/01',
      '/tile/abc/000',
      '/tile/00/000',
      '/tile/0/0',
      '/tile/0/x000/001',
      '/tile/0',
      '/tile/entries/0001',
    ]) {
      expectError(await get(server, path), 400, 'invalid_tile_path');
    }
  });
});
