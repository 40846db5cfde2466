/**
 * Builds inclusion and consistency proofs (RFC 9162 sections 2.1.3.1 and
 * 2.1.4.1) from stored perfect subtrees.
 *
 * Storage contains only perfect subtrees, whose hashes never change. A proof
 * for a tree whose size is not a power of two can also need the root of the
 * incomplete subtree on the right edge of the tree. That "ephemeral" node is
 * described as the perfect subtrees that cover it, and rehash() folds them.
 *
 * Verifiers do not use this module: see verify.ts.
 */
import { InputError } from './errors.js';
import { nodeHash } from './hash.js';
import { rangeNodes, type NodeId } from './range.js';

export type { NodeId } from './range.js';

/**
 * The perfect subtrees a proof needs, in proof order (bottom-up), where
 * ids[begin..end) (left to right, possibly empty) are folded into the one
 * ephemeral node that takes their place in the proof.
 */
export interface ProofNodes {
  ids: NodeId[];
  begin: number;
  end: number;
}

/** Reads the hash of one perfect subtree. */
export type NodeReader = (id: NodeId) => Uint8Array;

/**
 * Lists the nodes of the inclusion proof of leaf `index` in the tree of
 * `size` leaves (RFC 9162 section 2.1.3.1, PATH(m, D[n])). Requires index < size.
 */
export function inclusionNodes(index: number, size: number): ProofNodes {
  checkSize(size, 'tree size');
  checkIndex(index, size);
  return pathNodes({ level: 0, index }, size);
}

/**
 * Lists the nodes of the consistency proof from `oldSize` to `newSize`
 * (RFC 9162 section 2.1.4.1, PROOF(m, D[n])). Requires 0 < oldSize <= newSize.
 * Equal sizes give an empty proof.
 *
 * The proof starts with the last perfect subtree of [0, oldSize), unless that
 * subtree is the whole old tree, whose root the verifier already has. The
 * inclusion path of that subtree in the new tree follows.
 */
export function consistencyNodes(oldSize: number, newSize: number): ProofNodes {
  checkSize(oldSize, 'old tree size');
  checkSize(newSize, 'new tree size');
  if (oldSize === 0) {
    throw new InputError(
      'size_out_of_range',
      `a consistency proof from tree size 0 to ${newSize} proves nothing`,
    );
  }
  if (oldSize > newSize) {
    throw new InputError(
      'size_out_of_range',
      `old tree size ${oldSize} is larger than new tree size ${newSize}`,
    );
  }
  if (oldSize === newSize) return { ids: [], begin: 0, end: 0 };
  const last = rangeNodes(oldSize).at(-1)!;
  const path = pathNodes(last, newSize);
  if (last.index === 0) return path;
  return { ids: [last, ...path.ids], begin: path.begin + 1, end: path.end + 1 };
}

/**
 * Turns the hashes of nodes.ids (same order) into the proof: the hashes of
 * ids[begin..end) become one node, MTH of the range they cover, and every
 * other hash is kept as is.
 */
export function rehash(nodes: ProofNodes, hashes: Uint8Array[]): Uint8Array[] {
  const { ids, begin, end } = nodes;
  if (hashes.length !== ids.length) {
    throw new InputError(
      'invalid_argument',
      `proof needs ${ids.length} node hashes, got ${hashes.length}`,
    );
  }
  if (!(0 <= begin && begin <= end && end <= ids.length)) {
    throw new InputError(
      'invalid_argument',
      `ephemeral range [${begin}, ${end}) is not within the ${ids.length} proof nodes`,
    );
  }
  if (begin === end) return hashes.slice();
  const ephemeral = foldRight(hashes.slice(begin, end));
  return [...hashes.slice(0, begin), ephemeral, ...hashes.slice(end)];
}

/** An ephemeral node of inclusion proofs: the ids [begin, end) whose hashes fold into it. */
export interface EphemeralNode {
  /** Tree level of the proofs' path at which the node is a sibling. */
  level: number;
  begin: number;
  end: number;
}

/**
 * The inclusion proofs of several leaves in one tree, planned together.
 * Neighbouring leaves share their siblings above the level where their
 * paths meet, and all of them share the ephemeral node of each level, so
 * each of those is listed once.
 */
export interface InclusionPlan {
  /** The perfect subtrees to read: siblings on the paths, and the nodes that ephemeral nodes fold. */
  ids: NodeId[];
  ephemerals: EphemeralNode[];
  /**
   * The proof of each leaf in the order given, bottom-up, as positions:
   * p >= 0 is the hash of ids[p], and p < 0 is the hash of ephemerals[-1 - p].
   */
  proofs: number[][];
}

/**
 * Plans the inclusion proofs of the leaves `indexes` in the tree of `size`
 * leaves: the same proofs as inclusionNodes gives for each leaf. A sibling
 * is listed once for a run of leaves that need it one after another, as the
 * leaves of one request do, so ascending indexes list each node once.
 */
export function inclusionPlan(indexes: readonly number[], size: number): InclusionPlan {
  checkSize(size, 'tree size');
  const ids: NodeId[] = [];
  const ephemerals: EphemeralNode[] = [];
  // By tree level: the last sibling listed and its position, and the ephemeral node's position.
  const lastSibling: number[] = [];
  const lastPosition: number[] = [];
  const ephemeralAt: number[] = [];
  const proofs = indexes.map((leaf) => {
    checkIndex(leaf, size);
    const proof: number[] = [];
    // The same walk as pathNodes, from the leaf up to the root.
    let index = leaf;
    for (let level = 0, width = 1; !(index === 0 && width >= size); level++, width *= 2) {
      const sibling = index % 2 === 0 ? index + 1 : index - 1;
      const start = sibling * width;
      if (start + width <= size) {
        if (lastSibling[level] !== sibling) {
          lastSibling[level] = sibling;
          lastPosition[level] = ids.length;
          ids.push({ level, index: sibling });
        }
        proof.push(lastPosition[level]!);
      } else if (start < size) {
        let at = ephemeralAt[level];
        if (at === undefined) {
          const begin = ids.length;
          ids.push(...coverNodes(start, size));
          ephemerals.push({ level, begin, end: ids.length });
          at = ephemeralAt[level] = -ephemerals.length;
        }
        proof.push(at);
      }
      index = Math.floor(index / 2);
    }
    return proof;
  });
  return { ids, ephemerals, proofs };
}

/** Builds the inclusion proof of leaf `index` in the tree of `size` leaves. */
export function inclusionProof(index: number, size: number, readNode: NodeReader): Uint8Array[] {
  const nodes = inclusionNodes(index, size);
  return rehash(nodes, nodes.ids.map(readNode));
}

/** Builds the consistency proof from tree size `oldSize` to `newSize`. */
export function consistencyProof(
  oldSize: number,
  newSize: number,
  readNode: NodeReader,
): Uint8Array[] {
  const nodes = consistencyNodes(oldSize, newSize);
  return rehash(nodes, nodes.ids.map(readNode));
}

/**
 * Lists the siblings of `node` and of each of its ancestors, bottom-up, up to
 * the root of the tree of `size` leaves. A sibling entirely inside [0, size)
 * is a perfect subtree. A sibling that straddles `size` is the ephemeral node,
 * listed as the perfect subtrees covering its part of [0, size). A sibling
 * past `size` is absent, because RFC 9162 promotes a node that has no right
 * sibling.
 */
function pathNodes(node: NodeId, size: number): ProofNodes {
  const ids: NodeId[] = [];
  let [begin, end] = [0, 0];
  let { level, index } = node;
  while (!(index === 0 && 2 ** level >= size)) {
    const sibling = { level, index: index % 2 === 0 ? index + 1 : index - 1 };
    const start = sibling.index * 2 ** level;
    if (start + 2 ** level <= size) {
      ids.push(sibling);
    } else if (start < size) {
      begin = ids.length;
      ids.push(...coverNodes(start, size));
      end = ids.length;
    }
    level++;
    index = Math.floor(index / 2);
  }
  return { ids, begin, end };
}

/** Lists the perfect subtrees covering [start, size), left to right, for an aligned start. */
function coverNodes(start: number, size: number): NodeId[] {
  return rangeNodes(size - start).map(({ level, index }) => ({
    level,
    index: index + start / 2 ** level,
  }));
}

/** Computes MTH of adjacent subtrees given left to right, hashing from the right. */
export function foldRight(hashes: Uint8Array[]): Uint8Array {
  let hash = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) hash = nodeHash(hashes[i]!, hash);
  return hash;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function checkIndex(index: number, size: number): void {
  if (!isCount(index) || index >= size) {
    throw new InputError(
      'index_out_of_range',
      `leaf index ${index} is not below tree size ${size}`,
    );
  }
}

function checkSize(size: number, what: string): void {
  if (!isCount(size)) {
    throw new InputError('size_out_of_range', `${what} ${size} is not an integer from 0 to 2^53-1`);
  }
}
