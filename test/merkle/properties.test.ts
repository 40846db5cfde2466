/**
 * fast-check properties over random trees of up to 3000 leaves: every
 * proof the builder makes verifies, and every change to it fails.
 *
 * The trees are the prefixes of one tree of 3000 leaves, "<seed> <i>" for a
 * random seed: every perfect subtree of a prefix is one of the big tree's,
 * so it is built once. DECLOG_TREE_SEED=<hex> replays a failing seed.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VerificationError } from '../../src/errors.js';
import { consistencyProof, inclusionProof } from '../../src/proof.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { sampleEntries } from '../support/reference-tree.js';
import { expectConsistency, expectInclusion } from '../vectors/merkle/generate.js';
import { buildTree } from './helpers.js';

const MAX_LEAVES = 3000;
const RUNS = 200;
const SEED = process.env.DECLOG_TREE_SEED ?? randomBytes(8).toString('hex');
const tree = buildTree(sampleEntries(MAX_LEAVES, SEED));

/** A leaf index and a size above it. */
const inclusionArb = fc
  .integer({ min: 1, max: MAX_LEAVES })
  .chain((size) => fc.tuple(fc.nat(size - 1), fc.constant(size)));

/** Sizes with 0 < old <= new <= MAX_LEAVES. */
const consistencyArb = fc
  .integer({ min: 1, max: MAX_LEAVES })
  .chain((n) => fc.tuple(fc.integer({ min: 1, max: n }), fc.constant(n)));

function code(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (!(err instanceof VerificationError)) throw err;
    return err.code;
  }
}

function flip(proof: Uint8Array[], i: number, byte: number, bit: number): Uint8Array[] {
  const copy = proof.map((hash) => hash.slice());
  copy[i]![byte]! ^= 1 << bit;
  return copy;
}

/** Picks a size other than `size` that still contains leaf `index`. */
function otherSize(index: number, size: number, pick: number): number {
  const n = MAX_LEAVES;
  const other = index + 1 + (pick % (n - index));
  if (other !== size) return other;
  return size < n ? size + 1 : index + 1;
}

describe(`inclusion properties (seed ${SEED})`, () => {
  it('every proof verifies', () => {
    fc.assert(
      fc.property(inclusionArb, ([index, size]) => {
        const proof = inclusionProof(index, size, tree.readNode);
        verifyInclusion(tree.leaves[index]!, index, size, proof, tree.root(size));
      }),
      { numRuns: RUNS },
    );
  });

  it('any changed bit fails', () => {
    fc.assert(
      fc.property(inclusionArb, fc.nat(), fc.nat(31), fc.nat(7), ([index, size], i, b, bit) => {
        const proof = inclusionProof(index, size, tree.readNode);
        fc.pre(proof.length > 0);
        const bad = flip(proof, i % proof.length, b, bit);
        const run = () => verifyInclusion(tree.leaves[index]!, index, size, bad, tree.root(size));
        expect(code(run)).toBe('root_mismatch');
      }),
      { numRuns: RUNS },
    );
  });

  it('extra or missing hash fails', () => {
    fc.assert(
      fc.property(inclusionArb, fc.nat(), ([index, size], at) => {
        const proof = inclusionProof(index, size, tree.readNode);
        const { leaves, root } = tree;
        const extra = [...proof];
        extra.splice(at % (proof.length + 1), 0, root(size));
        expect(code(() => verifyInclusion(leaves[index]!, index, size, extra, root(size)))).toBe(
          'invalid_proof',
        );
        if (proof.length === 0) return;
        const missing = proof.filter((_, i) => i !== at % proof.length);
        const run = () => verifyInclusion(leaves[index]!, index, size, missing, root(size));
        expect(code(run)).toBe('invalid_proof');
      }),
      { numRuns: RUNS },
    );
  });

  it('wrong leaf or index fails', () => {
    fc.assert(
      fc.property(inclusionArb, fc.nat(), ([index, size], pick) => {
        fc.pre(size > 1);
        const other = (index + 1 + (pick % (size - 1))) % size;
        const proof = inclusionProof(index, size, tree.readNode);
        const { leaves, root } = tree;
        expect(
          code(() => verifyInclusion(leaves[index]!, other, size, proof, root(size))),
        ).not.toBeNull();
        expect(
          code(() => verifyInclusion(leaves[other]!, index, size, proof, root(size))),
        ).not.toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('wrong size fails', () => {
    fc.assert(
      fc.property(inclusionArb, fc.nat(), ([index, size], pick) => {
        fc.pre(tree.leaves.length > index + 1);
        const other = otherSize(index, size, pick);
        const proof = inclusionProof(index, size, tree.readNode);
        const run = () =>
          verifyInclusion(tree.leaves[index]!, index, other, proof, tree.root(other));
        expect(code(run)).not.toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('agrees with reference verifier', () => {
    const mutate = fc.record({
      indexDelta: fc.integer({ min: -2, max: 2 }),
      sizeDelta: fc.integer({ min: -2, max: 2 }),
      drop: fc.option(fc.nat()),
      flipAt: fc.option(fc.nat()),
    });
    fc.assert(
      fc.property(inclusionArb, mutate, ([index, size], m) => {
        let proof = inclusionProof(index, size, tree.readNode);
        if (m.drop !== null && proof.length > 0)
          proof = proof.filter((_, i) => i !== m.drop! % proof.length);
        if (m.flipAt !== null && proof.length > 0)
          proof = flip(proof, m.flipAt % proof.length, 0, 0);
        const c = {
          leafHash: tree.leaves[index]!,
          index: index + m.indexDelta,
          size: size + m.sizeDelta,
          proof,
          root: tree.root(size),
        };
        const got = code(() => verifyInclusion(c.leafHash, c.index, c.size, c.proof, c.root));
        expect(got).toBe(expectInclusion(c));
      }),
      { numRuns: RUNS * 2 },
    );
  });
});

describe(`consistency properties (seed ${SEED})`, () => {
  it('every proof verifies', () => {
    fc.assert(
      fc.property(consistencyArb, ([m, n]) => {
        const proof = consistencyProof(m, n, tree.readNode);
        verifyConsistency(m, n, proof, tree.root(m), tree.root(n));
      }),
      { numRuns: RUNS },
    );
  });

  it('any changed bit fails', () => {
    fc.assert(
      fc.property(consistencyArb, fc.nat(), fc.nat(31), fc.nat(7), ([m, n], i, b, bit) => {
        fc.pre(m < n);
        const valid = consistencyProof(m, n, tree.readNode);
        const proof = flip(valid, i % valid.length, b, bit);
        const run = () => verifyConsistency(m, n, proof, tree.root(m), tree.root(n));
        expect(code(run)).toBe('root_mismatch');
      }),
      { numRuns: RUNS },
    );
  });

  it('extra or missing hash fails', () => {
    fc.assert(
      fc.property(consistencyArb, fc.nat(), ([m, n], at) => {
        const proof = consistencyProof(m, n, tree.readNode);
        const { root } = tree;
        const extra = [...proof];
        extra.splice(at % (proof.length + 1), 0, root(n));
        expect(code(() => verifyConsistency(m, n, extra, root(m), root(n)))).toBe('invalid_proof');
        if (proof.length === 0) return;
        const missing = proof.filter((_, i) => i !== at % proof.length);
        expect(code(() => verifyConsistency(m, n, missing, root(m), root(n)))).toBe(
          'invalid_proof',
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('wrong sizes or roots fail', () => {
    fc.assert(
      fc.property(consistencyArb, fc.integer({ min: 1, max: 3 }), ([m, n], d) => {
        const proof = consistencyProof(m, n, tree.readNode);
        const { root } = tree;
        if (m > d)
          expect(
            code(() => verifyConsistency(m - d, n, proof, root(m - d), root(n))),
          ).not.toBeNull();
        if (n + d <= tree.leaves.length) {
          expect(
            code(() => verifyConsistency(m, n + d, proof, root(m), root(n + d))),
          ).not.toBeNull();
        }
        if (m < n)
          expect(code(() => verifyConsistency(m, n, proof, root(n), root(m)))).not.toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('agrees with reference verifier', () => {
    const mutate = fc.record({
      oldDelta: fc.integer({ min: -2, max: 2 }),
      newDelta: fc.integer({ min: -2, max: 2 }),
      drop: fc.option(fc.nat()),
    });
    fc.assert(
      fc.property(consistencyArb, mutate, ([m, n], x) => {
        let proof = consistencyProof(m, n, tree.readNode);
        if (x.drop !== null && proof.length > 0)
          proof = proof.filter((_, i) => i !== x.drop! % proof.length);
        const c = {
          oldSize: m + x.oldDelta,
          newSize: n + x.newDelta,
          proof,
          oldRoot: tree.root(m),
          newRoot: tree.root(n),
        };
        const got = code(() =>
          verifyConsistency(c.oldSize, c.newSize, c.proof, c.oldRoot, c.newRoot),
        );
        expect(got).toBe(expectConsistency(c));
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
