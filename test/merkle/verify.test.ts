import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding.js';
import { VerificationError } from '../../src/errors.js';
import { EMPTY_ROOT, leafHash } from '../../src/hash.js';
import { consistencyProof, inclusionProof } from '../../src/proof.js';
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from '../../src/verify.js';
import {
  ReferenceTree,
  rootFromPath,
  rootsFromProof,
  sampleEntries,
} from '../support/reference-tree.js';
import { buildTree, expectError, sparseTree } from './helpers.js';

const tree = buildTree(sampleEntries(20));
const { leaves, root, readNode } = tree;
const MAX = Number.MAX_SAFE_INTEGER;

function invalid(fn: () => unknown): VerificationError {
  return expectError(fn, VerificationError, 'invalid_proof');
}

function mismatch(fn: () => unknown): VerificationError {
  return expectError(fn, VerificationError, 'root_mismatch');
}

describe('verifyInclusion', () => {
  it('one-leaf tree', () => {
    expect(rootFromInclusionProof(leaves[0]!, 0, 1, [])).toEqual(leaves[0]);
    verifyInclusion(leaves[0]!, 0, 1, [], leaves[0]!);
    mismatch(() => verifyInclusion(leaves[1]!, 0, 1, [], leaves[0]!));
    invalid(() => verifyInclusion(leaves[0]!, 0, 1, [leaves[1]!], leaves[0]!));
  });

  it('index >= size', () => {
    const err = invalid(() => verifyInclusion(leaves[5]!, 5, 5, [], root(5)));
    expect(err.message).toContain('leaf index 5 is not below tree size 5');
    invalid(() => verifyInclusion(leaves[0]!, 0, 0, [], EMPTY_ROOT));
  });

  it('empty and over-long proofs', () => {
    const proof = inclusionProof(3, 11, readNode);
    const short = invalid(() => verifyInclusion(leaves[3]!, 3, 11, [], root(11)));
    expect(short.message).toContain(`must have ${proof.length} hashes, got 0`);
    invalid(() => verifyInclusion(leaves[3]!, 3, 11, [...proof, proof[0]!], root(11)));
    invalid(() => verifyInclusion(leaves[3]!, 3, 11, Array(64).fill(proof[0]!), root(11)));
  });

  it('hash sizes', () => {
    const proof = inclusionProof(3, 11, readNode);
    const cut = leaves[3]!.slice(0, 31);
    invalid(() => verifyInclusion(cut, 3, 11, proof, root(11)));
    invalid(() => verifyInclusion(leaves[3]!, 3, 11, proof, cut));
    invalid(() => verifyInclusion(leaves[3]!, 3, 11, [cut, ...proof.slice(1)], root(11)));
    const notBytes = 'x'.repeat(32) as unknown as Uint8Array;
    invalid(() => verifyInclusion(leaves[3]!, 3, 11, [notBytes, ...proof.slice(1)], root(11)));
    invalid(() => verifyInclusion(leaves[3]!, 3, 11, 'proof' as unknown as Uint8Array[], root(11)));
  });

  it('mismatch names both roots', () => {
    const proof = inclusionProof(3, 11, readNode);
    const err = mismatch(() => verifyInclusion(leaves[4]!, 3, 11, proof, root(11)));
    const computed = rootFromInclusionProof(leaves[4]!, 3, 11, proof);
    expect(err.message).toContain(toHex(computed));
    expect(err.message).toContain(toHex(root(11)));
    expect(err.message).toContain('index 3 in tree size 11');
  });

  it('proof for another size fails with that root', () => {
    const proof = inclusionProof(5, 7, readNode);
    mismatch(() => verifyInclusion(leaves[5]!, 5, 8, proof, root(8)));
    invalid(() => verifyInclusion(leaves[5]!, 5, 6, proof, root(6)));
  });

  it('size is bound by the checkpoint, not the proof', () => {
    // Leaf 5 has the same path shape in trees of 7 and 8 leaves, and RFC 9162
    // 2.1.3.2 hashes no size, so the size-7 proof and root also pass as size 8.
    // Callers must take size and root together from one verified checkpoint.
    verifyInclusion(leaves[5]!, 5, 8, inclusionProof(5, 7, readNode), root(7));
  });

  it('unsafe numbers', () => {
    for (const n of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, 2 ** 64]) {
      invalid(() => verifyInclusion(leaves[0]!, n, 20, [], root(20)));
      const err = invalid(() => verifyInclusion(leaves[0]!, 0, n, [], root(20)));
      expect(err.message).toContain('2^53-1');
    }
    const err = invalid(() => verifyInclusion(leaves[0]!, 0, 2 ** 53, [], root(20)));
    expect(err.message).toContain('tree size 9007199254740992');
  });
});

describe('verifyConsistency', () => {
  it('equal sizes', () => {
    verifyConsistency(11, 11, [], root(11), root(11));
    const err = mismatch(() => verifyConsistency(11, 11, [], root(11), root(12)));
    expect(err.message).toContain(toHex(root(12)));
    invalid(() => verifyConsistency(11, 11, [root(11)], root(11), root(11)));
  });

  it('from size 0 is rejected', () => {
    const err = invalid(() => verifyConsistency(0, 5, [], EMPTY_ROOT, root(5)));
    expect(err.message).toContain('tree size 0 to 5');
    invalid(() => verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT));
    invalid(() => verifyConsistency(0, 1, [], EMPTY_ROOT, root(1)));
  });

  it('old > new', () => {
    const err = invalid(() => verifyConsistency(8, 7, [], root(8), root(7)));
    expect(err.message).toContain('old tree size 8 is larger than new tree size 7');
  });

  it('1 to 2', () => {
    const proof = consistencyProof(1, 2, readNode);
    expect(proof).toEqual([leaves[1]]);
    verifyConsistency(1, 2, proof, root(1), root(2));
    mismatch(() => verifyConsistency(1, 2, proof, root(2), root(1)));
  });

  it('from a power of two', () => {
    for (const [m, n] of [
      [4, 7],
      [8, 13],
      [16, 17],
      [16, 20],
      [2, 3],
    ] as const) {
      const proof = consistencyProof(m, n, readNode);
      verifyConsistency(m, n, proof, root(m), root(n));
      invalid(() => verifyConsistency(m, n, [root(m), ...proof], root(m), root(n)));
    }
  });

  it('empty and over-long proofs', () => {
    const proof = consistencyProof(5, 13, readNode);
    invalid(() => verifyConsistency(5, 13, [], root(5), root(13)));
    invalid(() => verifyConsistency(5, 13, [...proof, root(13)], root(5), root(13)));
  });

  it('old root checked', () => {
    const proof = consistencyProof(5, 13, readNode);
    const err = mismatch(() => verifyConsistency(5, 13, proof, root(6), root(13)));
    expect(err.message).toContain('computed old root');
    expect(err.message).toContain(toHex(root(6)));
  });

  it('hash sizes', () => {
    const proof = consistencyProof(5, 13, readNode);
    const cut = root(5).slice(1);
    invalid(() => verifyConsistency(5, 13, proof, cut, root(13)));
    invalid(() => verifyConsistency(5, 13, proof, root(5), cut));
    invalid(() => verifyConsistency(5, 13, [cut, ...proof.slice(1)], root(5), root(13)));
  });

  it('unsafe numbers', () => {
    for (const n of [-1, 1.5, Number.NaN, 2 ** 53]) {
      invalid(() => verifyConsistency(n, 20, [], root(1), root(20)));
      invalid(() => verifyConsistency(1, n, [], root(1), root(20)));
    }
  });
});

describe('near 2^53', () => {
  const index = 2 ** 52 + 5;
  const { readNode: read, rootOf } = sparseTree(index);
  const leaf = read({ level: 0, index });

  it('inclusion at 2^52+5 in 2^53-1', () => {
    const proof = inclusionProof(index, MAX, read);
    expect(proof).toHaveLength(53);
    verifyInclusion(leaf, index, MAX, proof, rootOf(MAX));
    expect(rootFromPath(index, MAX, leaf, proof)).toEqual(rootOf(MAX));
    mismatch(() => verifyInclusion(leaf, index - 1, MAX, proof, rootOf(MAX)));
    invalid(() => verifyInclusion(leaf, index, MAX, proof.slice(1), rootOf(MAX)));
  });

  it('inclusion of the last leaf', () => {
    const last = sparseTree(MAX - 1);
    const proof = inclusionProof(MAX - 1, MAX, last.readNode);
    expect(proof).toHaveLength(52);
    const lastLeaf = last.readNode({ level: 0, index: MAX - 1 });
    verifyInclusion(lastLeaf, MAX - 1, MAX, proof, last.rootOf(MAX));
  });

  it('consistency up to 2^53-1', () => {
    for (const old of [index + 1, 2 ** 52, 2 ** 40 + 3, 1, MAX - 1]) {
      const proof = consistencyProof(old, MAX, read);
      const oldRoot = rootOf(old);
      verifyConsistency(old, MAX, proof, oldRoot, rootOf(MAX));
      expect(rootsFromProof(old, MAX, proof, oldRoot)).toEqual([oldRoot, rootOf(MAX)]);
      mismatch(() => verifyConsistency(old, MAX, proof, oldRoot, rootOf(MAX - 2)));
    }
  });

  it('sparse tree agrees with reference', () => {
    // The construction matches a real tree where it can be built.
    const sparse = sparseTree(5);
    const entries = Array.from({ length: 13 }, (_, i) => (i === 5 ? 'target' : 'same'));
    const real = new ReferenceTree(entries.map((e) => new TextEncoder().encode(e)));
    expect(sparse.rootOf(13)).toEqual(real.mth(0, 13));
    expect(leafHash(new TextEncoder().encode('same'))).toEqual(real.leaves[0]);
  });
});
