/**
 * A batch in the form sent to the SQLite writer thread. A structured clone
 * of a Batch serializes an object of four fields for each entry, and copies
 * the whole buffer behind each entry's view. A packed batch puts the
 * entries' bytes into one buffer and their other fields into arrays, and
 * its buffers are transferred to the thread instead of copied.
 */
import type { Batch, CheckpointRecord, EntryRecord, StoredTile } from './store.js';

export interface PackedBatch {
  prevSize: number;
  tiles: StoredTile[];
  checkpoint: CheckpointRecord;
  /** The entries' bytes, one after another. */
  data: Uint8Array<ArrayBuffer>;
  /** End offset of each entry's bytes in `data`. */
  ends: Float64Array<ArrayBuffer>;
  indexes: Float64Array<ArrayBuffer>;
  validators: string[];
  ids: string[];
}

/**
 * Packs a batch (without its index rows) into new buffers, returned in
 * `transfer` for postMessage. The batch itself is left as it is.
 */
export function packBatch(batch: Batch): { packed: PackedBatch; transfer: ArrayBuffer[] } {
  const { entries } = batch;
  let size = 0;
  for (const entry of entries) size += entry.data.length;
  const data = new Uint8Array(size);
  const ends = new Float64Array(entries.length);
  const indexes = new Float64Array(entries.length);
  const validators = new Array<string>(entries.length);
  const ids = new Array<string>(entries.length);
  let end = 0;
  entries.forEach((entry, i) => {
    data.set(entry.data, end);
    end += entry.data.length;
    ends[i] = end;
    indexes[i] = entry.index;
    validators[i] = entry.validator;
    ids[i] = entry.id;
  });
  const { prevSize, tiles, checkpoint } = batch;
  return {
    packed: { prevSize, tiles, checkpoint, data, ends, indexes, validators, ids },
    transfer: [data.buffer, ends.buffer, indexes.buffer],
  };
}

/** Returns the batch that packBatch packed, each entry's data a view of the packed bytes. */
export function unpackBatch(packed: PackedBatch): Batch {
  const { data, ends, indexes, validators, ids } = packed;
  const entries = new Array<EntryRecord>(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    entries[i] = {
      index: indexes[i]!,
      data: data.subarray(start, end),
      validator: validators[i]!,
      id: ids[i]!,
    };
    start = end;
  }
  const { prevSize, tiles, checkpoint } = packed;
  return { prevSize, entries, tiles, checkpoint };
}
