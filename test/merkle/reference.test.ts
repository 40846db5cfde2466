/**
 * The fast proof builder and verifier against the naive RFC 9162 reference:
 * every index and every pair of sizes up to 64, sampled up to 300.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding.js';
import {
  consistencyNodes,
  consistencyProof,
  inclusionNodes,
  inclusionProof,
} from '../../src/proof.js';
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { ReferenceTree, sampleEntries } from '../support/reference-tree.js';
import { buildTree } from './helpers.js';

const MAX = 300;
const EXHAUSTIVE = 64;
const entries = sampleEntries(MAX);
const reference = new ReferenceTree(entries);
const tree = buildTree(entries);
const hex = (hashes: Uint8Array[]) => hashes.map(toHex);
const sizes = Array.from({ length: MAX }, (_, i) => i + 1);

/** Indexes checked for a size: all up to EXHAUSTIVE, else both ends, the middle and 5 spread. */
function sampleBelow(size: number): number[] {
  if (size <= EXHAUSTIVE) return Array.from({ length: size }, (_, i) => i);
  const spread = [1, 2, 3, 5, 7].map((k) => Math.floor((size * k) / 8) + (k % 3));
  return [...new Set([0, 1, Math.floor(size / 2), size - 2, size - 1, ...spread])].filter(
    (i) => i < size,
  );
}

describe('reference inclusion', () => {
  it.each(sizes)('size %i', (size) => {
    for (const index of sampleBelow(size)) {
      const want = reference.path(index, 0, size);
      const proof = inclusionProof(index, size, tree.readNode);
      expect(hex(proof), `index ${index}`).toEqual(hex(want));
      const leaf = tree.leaves[index]!;
      expect(rootFromInclusionProof(leaf, index, size, proof)).toEqual(tree.root(size));
      verifyInclusion(leaf, index, size, proof, reference.mth(0, size));
    }
  });

  it('ephemeral range is one node at most', () => {
    for (const size of sizes) {
      for (const index of sampleBelow(size)) {
        const { ids, begin, end } = inclusionNodes(index, size);
        expect(begin).toBeLessThanOrEqual(end);
        expect(end).toBeLessThanOrEqual(ids.length);
        expect(ids.length - (end - begin) + Math.min(1, end - begin)).toBe(
          reference.path(index, 0, size).length,
        );
      }
    }
  });
});

describe('reference consistency', () => {
  it.each(sizes)('new size %i', (newSize) => {
    const olds =
      newSize <= EXHAUSTIVE ? sizes.slice(0, newSize) : sampleBelow(newSize).map((i) => i + 1);
    for (const oldSize of olds) {
      const want = reference.proof(oldSize, newSize);
      const proof = consistencyProof(oldSize, newSize, tree.readNode);
      expect(hex(proof), `old size ${oldSize}`).toEqual(hex(want));
      verifyConsistency(oldSize, newSize, proof, tree.root(oldSize), reference.mth(0, newSize));
    }
  });

  it('equal sizes give no nodes', () => {
    for (const size of [1, 2, 7, 64, 300]) expect(consistencyNodes(size, size).ids).toEqual([]);
  });
});
