/**
 * Behaviour every Store must have, run against each store by store.test.ts.
 * The store checks no hashes or signatures, so the batches here carry
 * recognizable placeholder bytes rather than a real tree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding.js';
import { StorageError } from '../../src/errors.js';
import { sha256 } from '../../src/hash.js';
import type {
  Batch,
  CheckpointRecord,
  IndexRow,
  SearchField,
  Store,
  StoredTile,
} from '../../src/store/store.js';
import { SEARCH_FIELDS } from '../../src/store/store.js';
import { STORED_TILE_BYTES } from '../../src/store/tile-layout.js';
import type { StoreFactory, TestLog } from './factories.js';

/** Placeholder bytes of entry `i`. */
export const entryBytes = (i: number) => utf8(`entry ${i}`);

export function checkpointOf(size: number): CheckpointRecord {
  return {
    size,
    root: sha256(utf8(`root ${size}`)),
    note: `test.example/log\n${size}\nroot\n\n— test.example/log sig${size}\n`,
    createdMs: 1_700_000_000_000 + size,
  };
}

function tileOf(level: number, index: number, width: number, fill: number): StoredTile {
  return { level, index, width, data: new Uint8Array(STORED_TILE_BYTES).fill(fill) };
}

/** Returns a batch appending entries [prevSize, prevSize + count) for validator `v1`. */
export function batchOf(prevSize: number, count: number, tiles: StoredTile[] = []): Batch {
  const entries = Array.from({ length: count }, (_, i) => ({
    index: prevSize + i,
    data: entryBytes(prevSize + i),
    validator: 'v1',
    id: `id-${prevSize + i}`,
  }));
  return { prevSize, entries, tiles, checkpoint: checkpointOf(prevSize + count) };
}

/** Index row `i`: each field cycles through a few values; every fifth row has no tenant. */
function rowOf(i: number): IndexRow {
  return {
    index: i,
    leafHash: sha256(utf8(`leaf ${i % 25}`)),
    time: 1_000 + 10 * i,
    decision: i % 3 === 0 ? 'reject' : 'accept',
    iss: `https://issuer-${i % 2}.example`,
    aud: `aud-${i % 4}`,
    key_domain: i % 2 === 0 ? 'consumer' : 'enterprise',
    kid: `key-${i % 7}`,
    tenant: i % 5 === 0 ? null : `tenant-${i % 3}`,
    rp: `rp-${i % 2}`,
  };
}

const ROWS = Array.from({ length: 40 }, (_, i) => rowOf(i));

/** Indexes of ROWS below `size` that match, the way the search should find them. */
function expected(size: number, match: (row: IndexRow) => boolean): number[] {
  return ROWS.filter((r) => r.index < size && match(r)).map((r) => r.index);
}

export function storeSuite(factory: StoreFactory): void {
  let log: TestLog;
  let store: Store;

  const setUp = async () => {
    log = await factory.create();
    store = await log.open();
  };

  afterEach(() => factory.cleanup());

  describe('meta', () => {
    it('reads back what it wrote', async () => {
      await setUp();
      expect(await store.getMeta('origin')).toBeUndefined();
      await store.setMeta('origin', 'a.example/log');
      await store.setMeta('origin', 'b.example/log');
      expect(await store.getMeta('origin')).toBe('b.example/log');
    });
  });

  describe('commitBatch', () => {
    it('commits entries, tiles and checkpoint', async () => {
      await setUp();
      expect(await store.latestCheckpoint()).toBeUndefined();
      await store.commitBatch(batchOf(0, 0));
      await store.commitBatch(batchOf(0, 3, [tileOf(0, 0, 3, 0xaa)]));
      expect(await store.latestCheckpoint()).toEqual(checkpointOf(3));
      expect(await store.checkpoint(0)).toEqual(checkpointOf(0));
      expect(await store.checkpoint(2)).toBeUndefined();
      expect(await store.readEntries(0, 3)).toEqual([0, 1, 2].map(entryBytes));
      expect(await store.readEntries(1, 2)).toEqual([entryBytes(1)]);
      expect(await store.readEntries(3, 10)).toEqual([]);
      const tiles = await store.readTiles([
        { level: 0, index: 0 },
        { level: 0, index: 1 },
      ]);
      expect(tiles).toEqual([tileOf(0, 0, 3, 0xaa)]);
      expect(await store.readTiles([])).toEqual([]);
    });

    it('accepts a first checkpoint only once', async () => {
      await setUp();
      await store.commitBatch(batchOf(0, 0));
      await expect(store.commitBatch(batchOf(0, 0))).rejects.toMatchObject({
        code: 'storage_failed',
      });
      expect(await store.latestCheckpoint()).toEqual(checkpointOf(0));
    });

    it('rejects a stale prevSize and writes nothing', async () => {
      await setUp();
      await store.commitBatch(batchOf(0, 0));
      await store.commitBatch(batchOf(0, 4));
      const stale = store.commitBatch(batchOf(2, 3));
      await expect(stale).rejects.toBeInstanceOf(StorageError);
      await expect(stale).rejects.toThrow(/another sequencer wrote to this log/);
      const ahead = store.commitBatch(batchOf(5, 1));
      await expect(ahead).rejects.toMatchObject({ code: 'storage_failed' });
      expect((await store.latestCheckpoint())!.size).toBe(4);
      expect(await store.checkpoint(5)).toBeUndefined();
      expect(await store.readEntries(0, 10)).toHaveLength(4);
    });

    it('commits one of two racing writers', async () => {
      await setUp();
      const other = await log.open();
      await store.commitBatch(batchOf(0, 0));
      const a = batchOf(0, 2);
      const b = { ...batchOf(0, 3), checkpoint: { ...checkpointOf(3), note: 'other\n' } };
      const results = await Promise.allSettled([store.commitBatch(a), other.commitBatch(b)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toMatchObject({ code: 'storage_failed' });
      const latest = (await other.latestCheckpoint())!;
      const entries = await other.readEntries(0, 10);
      expect(entries).toHaveLength(latest.size);
    });

    it('rolls back a batch that fails part way', async () => {
      await setUp();
      await store.commitBatch(batchOf(0, 0));
      await store.commitBatch(batchOf(0, 2));
      // Entry 2 repeats the (validator, id) of entry 0: the unique index rejects it.
      const bad = batchOf(2, 2, [tileOf(0, 0, 4, 0xbb)]);
      bad.entries[0]!.id = 'id-0';
      await expect(store.commitBatch(bad)).rejects.toMatchObject({ code: 'storage_failed' });
      expect((await store.latestCheckpoint())!.size).toBe(2);
      expect(await store.readEntries(0, 10)).toHaveLength(2);
      expect(await store.readTiles([{ level: 0, index: 0 }])).toEqual([]);
      // The store is still at size 2: the next writer continues from there.
      await store.commitBatch(batchOf(2, 2));
      expect((await store.latestCheckpoint())!.size).toBe(4);
    });

    it('only grows tiles', async () => {
      await setUp();
      await store.commitBatch(batchOf(0, 0, [tileOf(0, 0, 5, 1)]));
      await store.commitBatch(batchOf(0, 1, [tileOf(0, 0, 3, 2), tileOf(1, 0, 1, 3)]));
      expect(await store.readTiles([{ level: 0, index: 0 }])).toEqual([tileOf(0, 0, 5, 1)]);
      await store.commitBatch(batchOf(1, 1, [tileOf(0, 0, 256, 4)]));
      const tiles = await store.readTiles([
        { level: 1, index: 0 },
        { level: 0, index: 0 },
      ]);
      const byLevel = tiles.sort((x, y) => x.level - y.level);
      expect(byLevel).toEqual([tileOf(0, 0, 256, 4), tileOf(1, 0, 1, 3)]);
    });

    it('keeps every checkpoint by size', async () => {
      await setUp();
      await store.commitBatch(batchOf(0, 0));
      let size = 0;
      for (const count of [1, 2, 300, 7]) {
        await store.commitBatch(batchOf(size, count));
        size += count;
      }
      for (const s of [0, 1, 3, 303, 310])
        expect(await store.checkpoint(s)).toEqual(checkpointOf(s));
      expect(await store.checkpoint(2)).toBeUndefined();
      expect((await store.latestCheckpoint())!.size).toBe(310);
      expect(await store.readEntries(0, 310)).toEqual(
        Array.from({ length: 310 }, (_, i) => entryBytes(i)),
      );
    });
  });

  describe('findDecisionIds', () => {
    it('finds IDs per validator', async () => {
      await setUp();
      await store.commitBatch(batchOf(0, 5));
      const other = batchOf(5, 1);
      other.entries[0]!.validator = 'v2';
      other.entries[0]!.id = 'id-1';
      await store.commitBatch(other);
      const found = await store.findDecisionIds('v1', ['id-1', 'id-4', 'id-9']);
      expect([...found.entries()].sort()).toEqual([
        ['id-1', 1],
        ['id-4', 4],
      ]);
      expect(await store.findDecisionIds('v2', ['id-1'])).toEqual(new Map([['id-1', 5]]));
      expect(await store.findDecisionIds('v3', ['id-1'])).toEqual(new Map());
      expect(await store.findDecisionIds('v1', [])).toEqual(new Map());
    });
  });

  describe('validators', () => {
    it('adds, finds and lists validators', async () => {
      await setUp();
      const hashA = sha256(utf8('token a'));
      const hashB = sha256(utf8('token b'));
      await store.addValidator({ name: 'zeta', tokenHash: hashA });
      await store.addValidator({ name: 'alpha', tokenHash: hashB });
      expect(await store.validatorByTokenHash(hashA)).toEqual({ name: 'zeta', tokenHash: hashA });
      expect(await store.validatorByTokenHash(sha256(utf8('other')))).toBeUndefined();
      expect(await store.listValidators()).toEqual(['alpha', 'zeta']);
      const again = store.addValidator({ name: 'zeta', tokenHash: sha256(utf8('c')) });
      await expect(again).rejects.toMatchObject({ code: 'storage_failed' });
      expect(await store.listValidators()).toEqual(['alpha', 'zeta']);
    });
  });

  describe('search index', () => {
    const indexAll = async () => {
      await store.addIndexRows(ROWS.slice(0, 25), 25);
      await store.addIndexRows(ROWS.slice(25), 40);
    };

    it('moves indexedSize with the rows', async () => {
      await setUp();
      expect(await store.indexedSize()).toBe(0);
      expect(await store.search({ equals: {}, limit: 100 })).toEqual({
        indexes: [],
        indexedSize: 0,
      });
      await store.addIndexRows(ROWS.slice(0, 25), 25);
      expect(await store.indexedSize()).toBe(25);
      const page = await store.search({ equals: {}, limit: 100 });
      expect(page).toEqual({ indexes: expected(25, () => true), indexedSize: 25 });
      await store.addIndexRows(ROWS.slice(25), 40);
      expect(await store.indexedSize()).toBe(40);
    });

    it.each(SEARCH_FIELDS)('filters on %s', async (field: SearchField) => {
      await setUp();
      await indexAll();
      const value = ROWS[7]![field]!;
      const page = await store.search({ equals: { [field]: value }, limit: 100 });
      expect(page.indexes).toEqual(expected(40, (r) => r[field] === value));
      expect(page.indexes.length).toBeGreaterThan(1);
      expect(page.indexedSize).toBe(40);
    });

    it('combines filters, time bounds, cursor and limit', async () => {
      await setUp();
      await indexAll();
      const search = (q: Parameters<Store['search']>[0]) => store.search(q).then((p) => p.indexes);
      const both = (r: IndexRow) => r.key_domain === 'consumer' && r.decision === 'accept';
      const equals = { key_domain: 'consumer', decision: 'accept' };
      expect(await search({ equals, limit: 100 })).toEqual(expected(40, both));
      // Time of row i is 1000 + 10i: rows 5..20 inclusive.
      const inTime = (r: IndexRow) => r.index >= 5 && r.index <= 20;
      expect(await search({ equals: {}, since: 1050, until: 1200, limit: 100 })).toEqual(
        expected(40, inTime),
      );
      expect(await search({ equals: {}, since: 1390, limit: 100 })).toEqual([39]);
      expect(await search({ equals: {}, until: 1000, limit: 100 })).toEqual([0]);
      expect(await search({ equals, after: 10, limit: 100 })).toEqual(
        expected(40, (r) => both(r) && r.index > 10),
      );
      expect(await search({ equals, limit: 3 })).toEqual(expected(40, both).slice(0, 3));
      const first = await search({ equals: {}, limit: 4 });
      expect(await search({ equals: {}, after: first.at(-1)!, limit: 4 })).toEqual([4, 5, 6, 7]);
      expect(await search({ equals: { kid: 'no-such-key' }, limit: 100 })).toEqual([]);
    });

    it('finds the first index of a leaf hash', async () => {
      await setUp();
      await indexAll();
      // rowOf repeats leaf hashes every 25 rows: 3 and 28 share one.
      expect(await store.indexOfLeafHash(ROWS[28]!.leafHash)).toBe(3);
      expect(await store.indexOfLeafHash(ROWS[30]!.leafHash)).toBe(5);
      expect(await store.indexOfLeafHash(sha256(utf8('unknown')))).toBeUndefined();
    });
  });

  describe('schema', () => {
    it('keeps data and migrates once on reopen', async () => {
      await setUp();
      await store.setMeta('origin', 'test.example/log');
      await store.commitBatch(batchOf(0, 2));
      await store.close();
      const [a, b] = await Promise.all([log.open(), log.open()]);
      expect(await a!.getMeta('origin')).toBe('test.example/log');
      expect((await b!.latestCheckpoint())!.size).toBe(2);
      await a!.commitBatch(batchOf(2, 1));
      expect(await b!.readEntries(0, 3)).toEqual([0, 1, 2].map(entryBytes));
    });

    it('rejects a schema newer than the code', async () => {
      await setUp();
      await store.close();
      await log.markSchemaNewer();
      const opening = log.open();
      await expect(opening).rejects.toBeInstanceOf(StorageError);
      await expect(opening).rejects.toMatchObject({ code: 'schema_too_new' });
    });
  });
}
