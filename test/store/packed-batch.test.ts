/**
 * The form of a batch sent to the SQLite writer thread: packing copies the
 * entries into transferable buffers and unpacking gives the same batch.
 */
import { describe, expect, it } from 'vitest';
import { EntryBuffer } from '../../src/decision.js';
import { packBatch, unpackBatch } from '../../src/store/packed-batch.js';
import type { Batch } from '../../src/store/store.js';
import { checkpointOf, entryBytes } from './store-suite.js';

/** Returns a batch whose entries are views into shared chunks, as an append request makes them. */
function sharedBatch(): Batch {
  const shared = new EntryBuffer(40);
  const data = [7, 8, 9, 10, 11].map((i) => shared.copy(entryBytes(i)));
  return {
    prevSize: 7,
    entries: data.map((d, i) => ({ index: 7 + i, data: d, validator: `v${i % 2}`, id: `id-${i}` })),
    tiles: [{ level: 0, index: 0, width: 12, data: new Uint8Array(64).fill(3) }],
    checkpoint: checkpointOf(12),
    indexRows: [],
  };
}

describe('packBatch', () => {
  it('round-trips through a transfer', () => {
    const batch = sharedBatch();
    const { packed, transfer } = packBatch(batch);
    const received = structuredClone(packed, { transfer });
    const { indexRows: _, ...want } = batch;
    expect(unpackBatch(received)).toEqual(want);
  });

  it('leaves the batch usable', () => {
    const batch = sharedBatch();
    const copies = batch.entries.map((e) => new Uint8Array(e.data));
    const { packed, transfer } = packBatch(batch);
    structuredClone(packed, { transfer });
    expect(packed.data.byteLength).toBe(0);
    expect(batch.entries.map((e) => new Uint8Array(e.data))).toEqual(copies);
  });

  it('transfers only its own buffers', () => {
    const batch = sharedBatch();
    const { packed, transfer } = packBatch(batch);
    expect(transfer).toEqual([packed.data.buffer, packed.ends.buffer, packed.indexes.buffer]);
    expect(packed.data.byteLength).toBe(batch.entries.reduce((n, e) => n + e.data.length, 0));
  });

  it('packs an empty batch', () => {
    const batch: Batch = { prevSize: 0, entries: [], tiles: [], checkpoint: checkpointOf(0) };
    const { packed, transfer } = packBatch(batch);
    expect(unpackBatch(structuredClone(packed, { transfer }))).toEqual(batch);
  });
});
