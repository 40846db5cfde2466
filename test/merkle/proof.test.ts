import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  consistencyNodes,
  consistencyProof,
  foldRight,
  inclusionNodes,
  inclusionPlan,
  inclusionProof,
  rehash,
} from '../../src/proof.js';
import { sampleEntries } from '../support/reference-tree.js';
import { buildTree, expectError } from './helpers.js';

const { readNode, leaves } = buildTree(sampleEntries(16));
const MAX = Number.MAX_SAFE_INTEGER;
const node = (level: number, index: number) => ({ level, index });
const range = (begin: number, end: number) =>
  Array.from({ length: end - begin }, (_, i) => begin + i);

describe('inclusionNodes', () => {
  it('perfect tree has no ephemeral node', () => {
    expect(inclusionNodes(5, 8)).toEqual({
      ids: [node(0, 4), node(1, 3), node(2, 0)],
      begin: 0,
      end: 0,
    });
  });

  it('ephemeral node of size 7', () => {
    // Leaf 1 in 7 leaves: siblings leaf 0, [2, 4), then [4, 7) = [4, 6) + [6, 7).
    expect(inclusionNodes(1, 7)).toEqual({
      ids: [node(0, 0), node(1, 1), node(1, 2), node(0, 6)],
      begin: 2,
      end: 4,
    });
  });

  it('right edge promotes', () => {
    // Leaf 6 in 7 leaves has no sibling at level 0.
    expect(inclusionNodes(6, 7)).toEqual({ ids: [node(1, 2), node(2, 0)], begin: 0, end: 0 });
  });

  it('one-leaf tree', () => {
    expect(inclusionNodes(0, 1)).toEqual({ ids: [], begin: 0, end: 0 });
    expect(inclusionProof(0, 1, readNode)).toEqual([]);
  });

  it('rejects bad index', () => {
    const err = expectError(() => inclusionNodes(8, 8), InputError, 'index_out_of_range');
    expect(err.message).toBe('leaf index 8 is not below tree size 8');
    for (const index of [-1, 0.5, Number.NaN, 2 ** 53]) {
      expectError(() => inclusionNodes(index, MAX), InputError, 'index_out_of_range');
    }
  });

  it('rejects bad size', () => {
    for (const size of [-1, 0.5, 2 ** 53, Infinity]) {
      const err = expectError(() => inclusionNodes(0, size), InputError, 'size_out_of_range');
      expect(err.message).toContain(String(size));
    }
  });

  it('2^52+5 in 2^53-1 needs 53 hashes', () => {
    const { ids, begin, end } = inclusionNodes(2 ** 52 + 5, MAX);
    // 52 siblings, plus [3 * 2^51, 2^53 - 1) as 51 subtrees folded into one.
    expect(end - begin).toBe(51);
    expect(ids.length - (end - begin) + 1).toBe(53);
    expect(ids.at(-1)).toEqual(node(52, 0));
  });
});

describe('consistencyNodes', () => {
  it('3 to 7', () => {
    // [2, 3) is sent, then its path in 7 leaves: leaf 3, [0, 2), and [4, 7) folded.
    expect(consistencyNodes(3, 7)).toEqual({
      ids: [node(0, 2), node(0, 3), node(1, 0), node(1, 2), node(0, 6)],
      begin: 3,
      end: 5,
    });
  });

  it('power of two omits the old root', () => {
    expect(consistencyNodes(4, 8)).toEqual({ ids: [node(2, 1)], begin: 0, end: 0 });
  });

  it('equal sizes are empty', () => {
    expect(consistencyNodes(5, 5)).toEqual({ ids: [], begin: 0, end: 0 });
    expect(consistencyProof(MAX, MAX, readNode)).toEqual([]);
  });

  it('rejects size 0', () => {
    const err = expectError(() => consistencyNodes(0, 5), InputError, 'size_out_of_range');
    expect(err.message).toContain('tree size 0');
    expectError(() => consistencyNodes(0, 0), InputError, 'size_out_of_range');
  });

  it('rejects old > new', () => {
    const err = expectError(() => consistencyNodes(6, 5), InputError, 'size_out_of_range');
    expect(err.message).toContain('6');
    expect(err.message).toContain('5');
  });

  it('rejects unsafe sizes', () => {
    expectError(() => consistencyNodes(1, 2 ** 53), InputError, 'size_out_of_range');
    expectError(() => consistencyNodes(1.5, 3), InputError, 'size_out_of_range');
  });
});

describe('inclusionPlan', () => {
  const tree = buildTree(sampleEntries(300));

  /** Returns the proofs that the plan lists, with the hashes of `tree`. */
  function planProofs(indexes: number[], size: number): Uint8Array[][] {
    const plan = inclusionPlan(indexes, size);
    const read = plan.ids.map(tree.readNode);
    const ephemerals = plan.ephemerals.map((e) => foldRight(read.slice(e.begin, e.end)));
    return plan.proofs.map((proof) => proof.map((p) => (p >= 0 ? read[p]! : ephemerals[-1 - p]!)));
  }

  it('matches inclusionProof in any order', () => {
    const arb = fc
      .integer({ min: 1, max: 300 })
      .chain((size) => fc.tuple(fc.array(fc.nat(size - 1), { maxLength: 40 }), fc.constant(size)));
    fc.assert(
      fc.property(arb, ([indexes, size]) => {
        const want = indexes.map((index) => inclusionProof(index, size, tree.readNode));
        expect(planProofs(indexes, size)).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('lists shared siblings once', () => {
    const indexes = Array.from({ length: 100 }, (_, i) => 150 + i);
    const plan = inclusionPlan(indexes, 253);
    const folded = new Set(plan.ephemerals.flatMap((e) => range(e.begin, e.end)));
    const siblings = plan.ids
      .filter((_, p) => !folded.has(p))
      .map(({ level, index }) => `${level}/${index}`);
    expect(new Set(siblings).size).toBe(siblings.length);
    // Each level has about half the siblings of the level below, so about twice as many as leaves in all.
    expect(siblings.length).toBeLessThanOrEqual(2 * indexes.length + 8);
    expect(plan.ephemerals.length).toBeLessThanOrEqual(8);
    expect(planProofs(indexes, 253)).toEqual(indexes.map((i) => planProofs([i], 253)[0]));
  });

  it('rejects bad index or size', () => {
    expectError(() => inclusionPlan([0, 8], 8), InputError, 'index_out_of_range');
    expectError(() => inclusionPlan([0.5], 8), InputError, 'index_out_of_range');
    expectError(() => inclusionPlan([], 2 ** 53), InputError, 'size_out_of_range');
    expect(inclusionPlan([], 5)).toEqual({ ids: [], ephemerals: [], proofs: [] });
  });
});

describe('rehash', () => {
  it('folds the ephemeral range', () => {
    const nodes = inclusionNodes(1, 7);
    const proof = rehash(nodes, nodes.ids.map(readNode));
    expect(proof).toHaveLength(3);
    expect(proof.slice(0, 2)).toEqual([leaves[0], readNode(node(1, 1))]);
  });

  it('rejects a wrong hash count', () => {
    const nodes = inclusionNodes(1, 7);
    const err = expectError(() => rehash(nodes, []), InputError, 'invalid_argument');
    expect(err.message).toBe('proof needs 4 node hashes, got 0');
  });

  it('rejects a bad range', () => {
    const nodes = { ids: [node(0, 0)], begin: 1, end: 3 };
    expectError(() => rehash(nodes, [leaves[0]!]), InputError, 'invalid_argument');
  });
});
