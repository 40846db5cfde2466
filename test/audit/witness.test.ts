import { describe, expect, it } from 'vitest';
import { proofSide, rootFromPrefix } from '../../src/audit/range-proof.js';
import { InclusionWitnesses } from '../../src/audit/witness.js';
import { toHex } from '../../src/encoding.js';
import { CompactRange } from '../../src/range.js';
import { ReferenceTree, sampleEntries } from '../support/reference-tree.js';

const hex = (hashes: Uint8Array[]) => hashes.map(toHex);

/** Returns the compact range of the first `size` leaves of `tree`. */
function prefix(tree: ReferenceTree, size: number): CompactRange {
  const range = CompactRange.empty();
  for (let i = 0; i < size; i++) range.append(tree.leaves[i]!);
  return range;
}

/**
 * Recomputes [from, size) in batches of `batch` leaves the way the monitor
 * does, tracks every leaf whose index `pick` accepts, and returns the proofs.
 */
function witnessProofs(
  tree: ReferenceTree,
  from: number,
  batch: number,
  pick: (index: number) => boolean,
): Map<number, Uint8Array[]> {
  const witnesses = new InclusionWitnesses();
  const range = prefix(tree, from);
  const proofs = new Map<number, Uint8Array[]>();
  for (let start = from; start < tree.size; start += batch) {
    const before = range.clone();
    const end = Math.min(tree.size, start + batch);
    for (let i = start; i < end; i++) range.append(tree.leaves[i]!, witnesses.node);
    for (let i = start; i < end; i++) {
      if (pick(i)) proofs.set(i, witnesses.track(i, tree.size, before));
    }
    witnesses.forgetRecent();
  }
  witnesses.finish(range);
  return proofs;
}

describe('inclusion witnesses', () => {
  it('match PATH for every start and batch', () => {
    for (let size = 1; size <= 40; size++) {
      const tree = new ReferenceTree(sampleEntries(size));
      for (let from = 0; from < size; from++) {
        for (const batch of [1, 3, 8, 64]) {
          const proofs = witnessProofs(tree, from, batch, () => true);
          expect(proofs.size).toBe(size - from);
          for (const [index, proof] of proofs) {
            expect(hex(proof), `leaf ${index} of ${size}, from ${from}, batch ${batch}`).toEqual(
              hex(tree.path(index)),
            );
          }
        }
      }
    }
  });

  it('prove chosen leaves of 3000', () => {
    const tree = new ReferenceTree(sampleEntries(3000));
    const picked = (i: number) => i % 97 === 5 || i === 2999 || i === 1000;
    const proofs = witnessProofs(tree, 1000, 256, picked);
    expect([...proofs.keys()]).toEqual(
      Array.from({ length: 2000 }, (_, i) => 1000 + i).filter(picked),
    );
    for (const [index, proof] of proofs) expect(hex(proof)).toEqual(hex(tree.path(index)));
  });

  it('reject a leaf with unseen siblings', () => {
    const tree = new ReferenceTree(sampleEntries(10));
    const witnesses = new InclusionWitnesses();
    const range = prefix(tree, 4);
    range.append(tree.leaves[4]!);
    range.append(tree.leaves[5]!, witnesses.node);
    expect(() => witnesses.track(5, 10, prefix(tree, 4))).toThrow(/was not recomputed/);
  });
});

describe('rootFromPrefix', () => {
  it('gives the root up to size 40', () => {
    for (let size = 2; size <= 40; size++) {
      const tree = new ReferenceTree(sampleEntries(size));
      for (let end = 1; end < size; end++) {
        const right = proofSide(end - 1, size, tree.path(end - 1), 'right');
        expect(toHex(rootFromPrefix(prefix(tree, end), size, right))).toBe(toHex(tree.mth()));
      }
    }
  });

  it('gives another root for other entries', () => {
    const tree = new ReferenceTree(sampleEntries(21));
    const other = new ReferenceTree([...sampleEntries(21).slice(0, 7), ...sampleEntries(14, 'x')]);
    const right = proofSide(12, 21, tree.path(12), 'right');
    expect(toHex(rootFromPrefix(prefix(other, 13), 21, right))).not.toBe(toHex(tree.mth()));
    expect(() => rootFromPrefix(prefix(tree, 13), 21, right.slice(1))).toThrow(/right-hand hashes/);
  });
});
