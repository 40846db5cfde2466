/**
 * Verifies inclusion and consistency proofs, RFC 9162 sections 2.1.3.2 and
 * 2.1.4.2, for trees of up to 2^53 - 1 leaves.
 *
 * Every check fails closed with a VerificationError. The code is
 * 'invalid_proof' when the arguments cannot describe a valid proof: an index
 * past the size, a proof whose length is not the one the sizes imply, a hash
 * that is not 32 bytes, or a consistency check from size 0. The code is
 * 'root_mismatch' when the proof is well formed but yields another root.
 */
import { bytesEqual, toHex } from './encoding.js';
import { VerificationError } from './errors.js';
import { HASH_SIZE, nodeHash } from './hash.js';

/** Side of a proof hash relative to the hash computed so far. */
type Side = 'left' | 'right';

/**
 * Recomputes the root of the tree of `size` leaves from the hash of leaf
 * `index` and its inclusion proof (RFC 9162 section 2.1.3.2).
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
): Uint8Array {
  checkCount(size, 'tree size');
  checkCount(index, 'leaf index');
  if (index >= size) throw invalid(`leaf index ${index} is not below tree size ${size}`);
  checkHash(leafHash, 'leaf hash');
  const sides = pathSides(index, size - 1);
  checkProof(proof, sides.length, `inclusion proof of index ${index} in tree size ${size}`);
  let root = leafHash;
  sides.forEach((side, i) => (root = hashSide(side, proof[i]!, root)));
  return root;
}

/** Checks that leaf `index` with `leafHash` is in the tree of `size` leaves with `root`. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, 'root');
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  const what = `inclusion proof of index ${index} in tree size ${size}`;
  checkRoot(computed, root, `${what}: computed root`);
}

/**
 * Checks that the tree of `newSize` leaves with `newRoot` extends the tree of
 * `oldSize` leaves with `oldRoot` (RFC 9162 section 2.1.4.2). Requires
 * 0 < oldSize <= newSize; equal sizes need an empty proof and equal roots.
 * A check from size 0 always fails: it would prove nothing about the new tree.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): void {
  checkSizes(oldSize, newSize);
  checkHash(oldRoot, 'old root');
  checkHash(newRoot, 'new root');
  const what = `consistency proof from tree size ${oldSize} to ${newSize}`;
  if (oldSize === newSize) {
    checkProof(proof, 0, what);
    checkRoot(newRoot, oldRoot, `${what}: new root`);
    return;
  }
  const [computedOld, computedNew] = rootsFromConsistencyProof(oldSize, newSize, proof, oldRoot);
  checkRoot(computedOld, oldRoot, `${what}: computed old root`);
  checkRoot(computedNew, newRoot, `${what}: computed new root`);
}

/** RFC 9162 section 2.1.4.2 steps 2 to 6, for 0 < oldSize < newSize: [fr, sr]. */
function rootsFromConsistencyProof(
  oldSize: number,
  newSize: number,
  proof: Uint8Array[],
  oldRoot: Uint8Array,
): [Uint8Array, Uint8Array] {
  // Steps 3 and 4: start from the last perfect subtree of the old tree.
  let [fn, sn] = [oldSize - 1, newSize - 1];
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  const sides = pathSides(fn, sn);
  // Step 2: when that subtree is the whole old tree, its root is not sent.
  const seeded = fn === 0;
  const what = `consistency proof from tree size ${oldSize} to ${newSize}`;
  checkProof(proof, sides.length + (seeded ? 0 : 1), what);
  const path = seeded ? [oldRoot, ...proof] : proof;
  // Steps 5 and 6: left siblings go into both roots, right ones into the new root only.
  let [fr, sr] = [path[0]!, path[0]!];
  sides.forEach((side, i) => {
    const hash = path[i + 1]!;
    if (side === 'left') fr = nodeHash(hash, fr);
    sr = hashSide(side, hash, sr);
  });
  return [fr, sr];
}

/**
 * Lists the side of each proof hash on the path from node `fn` up to the
 * root, where `sn` is the index of the last node on the same level (RFC 9162
 * section 2.1.3.2 step 4, and step 6 of 2.1.4.2). The number of sides is the
 * exact proof length, because the loop ends when sn reaches 0.
 */
function pathSides(fn: number, sn: number): Side[] {
  const sides: Side[] = [];
  while (sn > 0) {
    if (isOdd(fn) || fn === sn) {
      sides.push('left');
      // A node with no right sibling is promoted: skip the levels until it is a right child.
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sides.push('right');
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sides;
}

/** HASH(0x01 || sibling || hash) for a left sibling, HASH(0x01 || hash || sibling) for a right one. */
function hashSide(side: Side, sibling: Uint8Array, hash: Uint8Array): Uint8Array {
  return side === 'left' ? nodeHash(sibling, hash) : nodeHash(hash, sibling);
}

function checkSizes(oldSize: number, newSize: number): void {
  checkCount(oldSize, 'old tree size');
  checkCount(newSize, 'new tree size');
  if (oldSize === 0) {
    throw invalid(
      `consistency from tree size 0 to ${newSize} proves nothing, ` +
        'so a first checkpoint must be trusted on its signature alone',
    );
  }
  if (oldSize > newSize) {
    throw invalid(`old tree size ${oldSize} is larger than new tree size ${newSize}`);
  }
}

function checkProof(proof: Uint8Array[], want: number, what: string): void {
  if (!Array.isArray(proof) || proof.length !== want) {
    const got = Array.isArray(proof) ? proof.length : typeof proof;
    throw invalid(`${what} must have ${want} hashes, got ${got}`);
  }
  proof.forEach((hash, i) => checkHash(hash, `${what}: hash ${i}`));
}

function checkRoot(computed: Uint8Array, expected: Uint8Array, what: string): void {
  if (!bytesEqual(computed, expected)) {
    throw new VerificationError(
      'root_mismatch',
      `${what} ${toHex(computed)} differs from ${toHex(expected)}`,
    );
  }
}

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw invalid(`${what} ${n} is not an integer from 0 to 2^53-1`);
  }
}

function checkHash(hash: Uint8Array, what: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    const got = hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash;
    throw invalid(`${what} must be ${HASH_SIZE} bytes, got ${got}`);
  }
}

function invalid(message: string): VerificationError {
  return new VerificationError('invalid_proof', message);
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}
