import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding.js';
import { InputError } from '../../src/errors.js';
import { EMPTY_ROOT, leafHash, nodeHash } from '../../src/hash.js';
import { CompactRange, rangeNodes } from '../../src/range.js';
import { ReferenceTree, sampleEntries } from '../support/reference-tree.js';
import { expectError } from './helpers.js';

const entries = sampleEntries(300);
const reference = new ReferenceTree(entries);

describe('CompactRange', () => {
  it('empty root', () => {
    expect(CompactRange.empty().root()).toEqual(EMPTY_ROOT);
    expect(CompactRange.empty().size).toBe(0);
  });

  it('one leaf root is the leaf hash', () => {
    const range = CompactRange.empty();
    range.append(leafHash(entries[0]!));
    expect(range.root()).toEqual(leafHash(entries[0]!));
  });

  it('roots 1..300 match reference', () => {
    const range = CompactRange.empty();
    entries.forEach((entry, i) => {
      range.append(leafHash(entry));
      expect(range.size).toBe(i + 1);
      expect(toHex(range.root()), `size ${i + 1}`).toBe(toHex(reference.mth(0, i + 1)));
    });
  });

  it('hashes are the rangeNodes subtrees', () => {
    const range = CompactRange.empty();
    for (const [i, entry] of entries.entries()) {
      range.append(leafHash(entry));
      const want = rangeNodes(i + 1).map(({ level, index }) =>
        reference.mth(index * 2 ** level, (index + 1) * 2 ** level),
      );
      expect(range.hashes).toEqual(want);
    }
  });

  it('visit reports the leaf then completed nodes bottom-up', () => {
    const range = CompactRange.empty();
    const seen: string[][] = [];
    for (let i = 0; i < 8; i++) {
      const visits: string[] = [];
      range.append(leafHash(entries[i]!), (level, index) => visits.push(`${level}/${index}`));
      seen.push(visits);
    }
    expect(seen).toEqual([
      ['0/0'],
      ['0/1', '1/0'],
      ['0/2'],
      ['0/3', '1/1', '2/0'],
      ['0/4'],
      ['0/5', '1/2'],
      ['0/6'],
      ['0/7', '1/3', '2/1', '3/0'],
    ]);
  });

  it('visit hashes match reference', () => {
    const range = CompactRange.empty();
    for (const entry of entries) {
      range.append(leafHash(entry), (level, index, hash) => {
        const want = reference.mth(index * 2 ** level, (index + 1) * 2 ** level);
        expect(toHex(hash)).toBe(toHex(want));
      });
    }
  });

  it('fromHashes restores a range', () => {
    const range = CompactRange.empty();
    entries.slice(0, 13).forEach((e) => range.append(leafHash(e)));
    const restored = CompactRange.fromHashes(13, [...range.hashes]);
    restored.append(leafHash(entries[13]!));
    expect(restored.root()).toEqual(reference.mth(0, 14));
  });

  it('fromHashes rejects a wrong count', () => {
    const hash = leafHash(entries[0]!);
    const err = expectError(
      () => CompactRange.fromHashes(13, [hash, hash]),
      InputError,
      'invalid_argument',
    );
    expect(err.message).toContain('13');
    expectError(() => CompactRange.fromHashes(0, [hash]), InputError, 'invalid_argument');
  });

  it('fromHashes rejects bad hashes and sizes', () => {
    const short = new Uint8Array(31);
    expectError(() => CompactRange.fromHashes(1, [short]), InputError, 'invalid_argument');
    expectError(() => CompactRange.fromHashes(-1, []), InputError, 'size_out_of_range');
    expectError(() => CompactRange.fromHashes(2 ** 53, [short]), InputError, 'size_out_of_range');
    expectError(() => CompactRange.fromHashes(1.5, []), InputError, 'size_out_of_range');
  });

  it('append rejects a short leaf hash', () => {
    const range = CompactRange.empty();
    expectError(() => range.append(new Uint8Array(31)), InputError, 'invalid_argument');
    expect(range.size).toBe(0);
  });

  it('append stops at 2^53-1', () => {
    const size = Number.MAX_SAFE_INTEGER;
    const hashes = rangeNodes(size).map(() => leafHash(entries[0]!));
    const range = CompactRange.fromHashes(size, hashes);
    const err = expectError(
      () => range.append(leafHash(entries[1]!)),
      InputError,
      'size_out_of_range',
    );
    expect(err.message).toContain(String(size));
  });

  it('append near 2^53 merges every level', () => {
    const size = 2 ** 52 - 1;
    const leaf = leafHash(entries[0]!);
    const perfect = [leaf];
    for (let l = 1; l <= 52; l++) perfect.push(nodeHash(perfect[l - 1]!, perfect[l - 1]!));
    const range = CompactRange.fromHashes(
      size,
      rangeNodes(size).map(({ level }) => perfect[level]!),
    );
    const visits: string[] = [];
    range.append(leaf, (level, index) => visits.push(`${level}/${index}`));
    expect(range.size).toBe(2 ** 52);
    expect(range.hashes).toEqual([perfect[52]]);
    expect(range.root()).toEqual(perfect[52]);
    expect(visits.at(0)).toBe(`0/${2 ** 52 - 1}`);
    expect(visits.at(-1)).toBe('52/0');
  });

  it('clone grows independently', () => {
    const range = CompactRange.empty();
    range.append(leafHash(entries[0]!));
    const copy = range.clone();
    copy.append(leafHash(entries[1]!));
    expect(range.size).toBe(1);
    expect(range.root()).toEqual(reference.mth(0, 1));
    expect(copy.root()).toEqual(reference.mth(0, 2));
  });

  it('hashes and root are copies', () => {
    const range = CompactRange.empty();
    range.append(leafHash(entries[0]!));
    range.hashes[0]!.fill(0);
    range.root().fill(0);
    expect(range.root()).toEqual(reference.mth(0, 1));
  });
});

describe('rangeNodes', () => {
  it('small sizes', () => {
    expect(rangeNodes(0)).toEqual([]);
    expect(rangeNodes(1)).toEqual([{ level: 0, index: 0 }]);
    expect(rangeNodes(7)).toEqual([
      { level: 2, index: 0 },
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
  });

  it('2^53-1 has 53 nodes', () => {
    const ids = rangeNodes(Number.MAX_SAFE_INTEGER);
    expect(ids).toHaveLength(53);
    expect(ids[0]).toEqual({ level: 52, index: 0 });
    expect(ids.at(-1)).toEqual({ level: 0, index: Number.MAX_SAFE_INTEGER - 1 });
  });

  it('rejects unsafe sizes', () => {
    for (const size of [-1, 0.5, 2 ** 53, Number.NaN, Infinity]) {
      expectError(() => rangeNodes(size), InputError, 'size_out_of_range');
    }
  });
});
