import { describe, expect, it } from 'vitest';
import { proofSide, rootFromRange } from '../../src/audit/range-proof.js';
import { leafHash, nodeHash } from '../../src/hash.js';
import { inclusionProof, type NodeId } from '../../src/proof.js';
import { CompactRange } from '../../src/range.js';

/** Leaf i is the 1-byte entry i. */
function leaves(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => leafHash(new Uint8Array([i])));
}

/** Hash of the perfect subtree `id`, straight from the leaves. */
function node(all: Uint8Array[], { level, index }: NodeId): Uint8Array {
  if (level === 0) return all[index]!;
  const left = node(all, { level: level - 1, index: 2 * index });
  return nodeHash(left, node(all, { level: level - 1, index: 2 * index + 1 }));
}

function rootOf(all: Uint8Array[]): Uint8Array {
  const range = CompactRange.empty();
  all.forEach((leaf) => range.append(leaf));
  return range.root();
}

/** Builds the proof of [start, end) in a tree of all.length leaves, as the exporter does. */
function prove(all: Uint8Array[], start: number, end: number) {
  const size = all.length;
  const read = (id: NodeId) => node(all, id);
  const left = start > 0 ? proofSide(start, size, inclusionProof(start, size, read), 'left') : [];
  const right = proofSide(end - 1, size, inclusionProof(end - 1, size, read), 'right');
  return { left: left.reverse(), right };
}

describe('range proof', () => {
  it('recomputes the root for every range of every size up to 33', () => {
    for (let size = 1; size <= 33; size++) {
      const all = leaves(size);
      const root = rootOf(all);
      for (let start = 0; start < size; start++) {
        for (let end = start + 1; end <= size; end++) {
          const { left, right } = prove(all, start, end);
          const got = rootFromRange(left, start, all.slice(start, end), size, right);
          expect(Buffer.from(got)).toEqual(Buffer.from(root));
        }
      }
    }
  });

  it('gives another root when a leaf is dropped or altered', () => {
    const all = leaves(21);
    const root = Buffer.from(rootOf(all));
    const { left, right } = prove(all, 5, 15);
    const range = all.slice(5, 15);
    const dropped = [...range.slice(0, 4), ...range.slice(5)];
    const droppedRoot = rootFromRange(left, 5, dropped, 21, right);
    expect(Buffer.from(droppedRoot)).not.toEqual(root);
    const altered = range.map((h, i) => (i === 3 ? leafHash(new Uint8Array([99])) : h));
    expect(Buffer.from(rootFromRange(left, 5, altered, 21, right))).not.toEqual(root);
  });

  it('rejects a proof with too few right-hand hashes', () => {
    const all = leaves(10);
    const { left, right } = prove(all, 2, 4);
    expect(() => rootFromRange(left, 2, all.slice(2, 4), 10, right.slice(1))).toThrow(
      /right-hand hashes/,
    );
  });
});
