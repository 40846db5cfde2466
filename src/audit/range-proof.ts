/**
 * Completeness proofs of a contiguous range of entries [start, end) in the
 * tree of `size` leaves. The proof is the compact range of [0, start) and
 * the right-hand siblings of the inclusion path of leaf end - 1
 * (RFC 9162 section 2.1.3). The verifier rebuilds the left-hand siblings of
 * that path from the compact range and the range's own leaves, so the
 * checkpoint root comes out only if the range holds exactly the log's
 * entries start..end-1: none altered, dropped, added or reordered.
 */
import { VerificationError } from '../errors.js';
import { nodeHash } from '../hash.js';
import { CompactRange } from '../range.js';
import { rootFromInclusionProof } from '../verify.js';

type Side = 'left' | 'right';

/**
 * Lists the side of each inclusion proof hash of leaf `index` in the tree of
 * `size` leaves, bottom-up (RFC 9162 section 2.1.3.2 steps 3 and 4). The
 * left ones are the subtrees of [0, index), smallest first.
 */
export function inclusionSides(index: number, size: number): Side[] {
  const sides: Side[] = [];
  let [fn, sn] = [index, size - 1];
  while (sn > 0) {
    if (fn % 2 === 1 || fn === sn) {
      sides.push('left');
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else {
      sides.push('right');
    }
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  return sides;
}

/** Returns the hashes of `proof` on `side`, in proof order. */
export function proofSide(index: number, size: number, proof: Uint8Array[], side: Side) {
  const sides = inclusionSides(index, size);
  if (sides.length !== proof.length) {
    throw new VerificationError(
      'invalid_proof',
      `inclusion proof of index ${index} in tree size ${size} must have ${sides.length} hashes, got ${proof.length}`,
    );
  }
  return proof.filter((_, i) => sides[i] === side);
}

/**
 * Recomputes the root of the tree of `size` leaves from the compact range
 * of [0, start) (`left`, largest subtree first), the leaf hashes of
 * [start, start + leaves.length) and the right-hand siblings of the last
 * leaf's inclusion path (`right`, bottom-up).
 */
export function rootFromRange(
  left: Uint8Array[],
  start: number,
  leaves: Uint8Array[],
  size: number,
  right: Uint8Array[],
): Uint8Array {
  const end = start + leaves.length;
  if (leaves.length === 0 || end > size) {
    throw new VerificationError(
      'invalid_proof',
      `range [${start}, ${end}) is empty or past tree size ${size}`,
    );
  }
  const range = CompactRange.fromHashes(start, left);
  for (const leaf of leaves.slice(0, -1)) range.append(leaf);
  const lefts = range.hashes.slice().reverse();
  const sides = inclusionSides(end - 1, size);
  const wantRight = sides.filter((s) => s === 'right').length;
  if (right.length !== wantRight) {
    throw new VerificationError(
      'invalid_proof',
      `range proof has ${right.length} right-hand hashes, tree size ${size} needs ${wantRight}`,
    );
  }
  let [l, r] = [0, 0];
  const proof = sides.map((side) => (side === 'left' ? lefts[l++]! : right[r++]!));
  return rootFromInclusionProof(leaves[leaves.length - 1]!, end - 1, size, proof);
}

/**
 * Recomputes the root of the tree of `size` leaves from `prefix`, the compact
 * range of its first entries [0, end), and `right`, the right-hand siblings
 * of the inclusion path of leaf end - 1 (bottom-up). The smallest subtree of
 * `prefix` ends with leaf end - 1, so its hash replaces the path's lower
 * levels. The other subtrees of `prefix` are the path's left-hand siblings
 * above it. The root comes out only if `prefix` contains the log's entries.
 */
export function rootFromPrefix(
  prefix: CompactRange,
  size: number,
  right: Uint8Array[],
): Uint8Array {
  const end = prefix.size;
  if (end === 0 || end > size) {
    throw new VerificationError(
      'invalid_proof',
      `prefix of ${end} entries does not fit tree size ${size}`,
    );
  }
  const subtrees = prefix.hashes;
  const sides = inclusionSides(end - 1, size);
  // Leaf end - 1 closes a perfect subtree of 2^low leaves: the path's first `low` hashes lie in it.
  let low = 0;
  while ((end / 2 ** low) % 2 === 0) low++;
  if (sides.slice(0, low).some((s) => s !== 'left')) {
    throw new VerificationError('invalid_proof', `no subtree of tree size ${size} ends at ${end}`);
  }
  const upper = sides.slice(low);
  const lefts = upper.filter((s) => s === 'left').length;
  if (lefts !== subtrees.length - 1 || right.length !== upper.length - lefts) {
    throw new VerificationError(
      'invalid_proof',
      `range proof has ${right.length} right-hand hashes, tree size ${size} needs ${upper.length - lefts}`,
    );
  }
  let [l, r] = [subtrees.length - 2, 0];
  let root = subtrees[subtrees.length - 1]!;
  for (const side of upper) {
    root = side === 'left' ? nodeHash(subtrees[l--]!, root) : nodeHash(root, right[r++]!);
  }
  return root;
}
