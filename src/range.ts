/**
 * Compact ranges: a log of any size kept as the roots of the perfect subtrees
 * that make up [0, size). Appending a leaf and computing the root of the
 * RFC 9162 section 2.1.1 tree then need O(log n) memory and time.
 *
 * Sizes are JavaScript numbers up to 2^53 - 1, so every computation on them
 * uses arithmetic, never 32-bit bitwise operators.
 */
import { InputError } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.js';
import { MAX_SIZE } from './encoding.js';

/**
 * A perfect subtree: the root of the 2^level leaves starting at leaf
 * index * 2^level. Leaf hashes are level 0.
 */
export interface NodeId {
  level: number;
  index: number;
}

/** Receives each node an append completes: the leaf itself, then its new ancestors. */
export type NodeVisitor = (level: number, index: number, hash: Uint8Array) => void;

/** The subtree roots of [0, size) and the operations that grow them. */
export class CompactRange {
  #size: number;
  #hashes: Uint8Array[];

  private constructor(size: number, hashes: Uint8Array[]) {
    this.#size = size;
    this.#hashes = hashes;
  }

  /** The range of the empty tree. */
  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /**
   * Restores a range from its subtree roots, largest (leftmost) first: one
   * hash per set bit of `size`, in the order rangeNodes(size) lists them.
   */
  static fromHashes(size: number, hashes: Uint8Array[]): CompactRange {
    checkSize(size);
    const want = rangeNodes(size).length;
    if (hashes.length !== want) {
      throw new InputError(
        'invalid_argument',
        `a compact range of size ${size} has ${want} subtree hashes, got ${hashes.length}`,
      );
    }
    hashes.forEach((hash, i) => checkHash(hash, `subtree hash ${i}`));
    return new CompactRange(
      size,
      hashes.map((hash) => hash.slice()),
    );
  }

  /** Number of leaves in the range. */
  get size(): number {
    return this.#size;
  }

  /** Copies of the subtree roots, largest (leftmost) first. */
  get hashes(): readonly Uint8Array[] {
    return this.#hashes.map((hash) => hash.slice());
  }

  /**
   * Appends one leaf hash. Calls visit(level, index, hash) for the leaf
   * itself (level 0) and then for every node the append completes, bottom-up:
   * each is a perfect subtree whose hash never changes again.
   */
  append(leafHash: Uint8Array, visit?: NodeVisitor): void {
    checkHash(leafHash, 'leaf hash');
    if (this.#size >= MAX_SIZE) {
      throw new InputError(
        'size_out_of_range',
        `cannot append: tree size ${this.#size} is already the maximum, 2^53-1`,
      );
    }
    let hash: Uint8Array = leafHash.slice();
    let index = this.#size;
    let level = 0;
    visit?.(level, index, hash);
    // Each trailing 1 bit of the old size is a left sibling waiting for this node.
    while (index % 2 === 1) {
      hash = nodeHash(this.#hashes.pop()!, hash);
      index = (index - 1) / 2;
      level++;
      visit?.(level, index, hash);
    }
    this.#hashes.push(hash);
    this.#size++;
  }

  /**
   * Computes the Merkle Tree Hash of the range (RFC 9162 section 2.1.1) by
   * folding the subtree roots from the right with HASH(0x01 || left || right).
   * The empty tree has SHA-256("").
   */
  root(): Uint8Array {
    const hashes = this.#hashes;
    if (hashes.length === 0) return EMPTY_ROOT.slice();
    let root: Uint8Array = hashes[hashes.length - 1]!.slice();
    for (let i = hashes.length - 2; i >= 0; i--) root = nodeHash(hashes[i]!, root);
    return root;
  }

  /** Returns an independent copy that can grow separately. */
  clone(): CompactRange {
    return new CompactRange(this.#size, this.#hashes.slice());
  }
}

/**
 * Lists the NodeIds of the perfect subtrees that make up [0, size), left to
 * right: one per set bit of size, largest first.
 */
export function rangeNodes(size: number): NodeId[] {
  checkSize(size);
  const ids: NodeId[] = [];
  let start = 0;
  let level = 0;
  while (2 ** (level + 1) <= size) level++;
  for (let width = 2 ** level; start < size; level--, width /= 2) {
    if (size - start < width) continue;
    ids.push({ level, index: start / width });
    start += width;
  }
  return ids;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InputError(
      'size_out_of_range',
      `tree size ${size} is not an integer from 0 to 2^53-1`,
    );
  }
}

function checkHash(hash: Uint8Array, what: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    const got = hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash;
    throw new InputError('invalid_argument', `${what} must be ${HASH_SIZE} bytes, got ${got}`);
  }
}
