/**
 * A naive Merkle tree written straight from RFC 9162: MTH (section 2.1.1),
 * PATH (2.1.3.1) and PROOF/SUBPROOF (2.1.4.1) as the recursive definitions
 * read, over an array of entries. It is the oracle the fast code in src/ is
 * checked against, so it favours being obviously right over being fast.
 */
import { EMPTY_ROOT, leafHash, nodeHash } from '../../src/hash.js';

export class ReferenceTree {
  /** The leaf hashes, computed once. */
  readonly leaves: Uint8Array[];
  /** MTH results by "begin:end": a cache only, so the recursion below stays the RFC's. */
  readonly #mth = new Map<string, Uint8Array>();

  constructor(entries: Uint8Array[]) {
    this.leaves = entries.map((entry) => leafHash(entry));
  }

  get size(): number {
    return this.leaves.length;
  }

  /** MTH(D[begin:end]). */
  mth(begin = 0, end = this.size): Uint8Array {
    const n = end - begin;
    if (n === 0) return EMPTY_ROOT;
    if (n === 1) return this.leaves[begin]!;
    const key = `${begin}:${end}`;
    let hash = this.#mth.get(key);
    if (hash === undefined) {
      const k = splitPoint(n);
      hash = nodeHash(this.mth(begin, begin + k), this.mth(begin + k, end));
      this.#mth.set(key, hash);
    }
    return hash;
  }

  /** PATH(m, D[begin:end]): the inclusion proof of leaf begin + m. */
  path(m: number, begin = 0, end = this.size): Uint8Array[] {
    const n = end - begin;
    if (n === 1) return [];
    const k = splitPoint(n);
    if (m < k) return [...this.path(m, begin, begin + k), this.mth(begin + k, end)];
    return [...this.path(m - k, begin + k, end), this.mth(begin, begin + k)];
  }

  /** PROOF(m, D[0:n]): the consistency proof from size m to size n. */
  proof(m: number, n: number): Uint8Array[] {
    return this.subproof(m, 0, n, true);
  }

  /** SUBPROOF(m, D[begin:end], b). */
  private subproof(m: number, begin: number, end: number, b: boolean): Uint8Array[] {
    const n = end - begin;
    if (m === n) return b ? [] : [this.mth(begin, end)];
    const k = splitPoint(n);
    if (m <= k) return [...this.subproof(m, begin, begin + k, b), this.mth(begin + k, end)];
    return [...this.subproof(m - k, begin + k, end, false), this.mth(begin, begin + k)];
  }
}

/**
 * Reads PATH(m, D[n]) backwards: the root that `path` proves for leaf m with
 * `leaf` in a tree of n leaves, or undefined when `path` does not have the
 * length PATH(m, D[n]) has. Requires 0 <= m < n.
 */
export function rootFromPath(
  m: number,
  n: number,
  leaf: Uint8Array,
  path: Uint8Array[],
): Uint8Array | undefined {
  if (n === 1) return path.length === 0 ? leaf : undefined;
  if (path.length === 0) return undefined;
  const k = splitPoint(n);
  const sibling = path[path.length - 1]!;
  const rest = path.slice(0, -1);
  if (m < k) {
    const left = rootFromPath(m, k, leaf, rest);
    return left && nodeHash(left, sibling);
  }
  const right = rootFromPath(m - k, n - k, leaf, rest);
  return right && nodeHash(sibling, right);
}

/**
 * Reads PROOF(m, D[n]) backwards: the [old root, new root] pair that `proof`
 * proves, given the old root (used when SUBPROOF leaves it out), or undefined
 * when `proof` does not have the length PROOF(m, D[n]) has. Requires 0 < m <= n.
 */
export function rootsFromProof(
  m: number,
  n: number,
  proof: Uint8Array[],
  oldRoot: Uint8Array,
): [Uint8Array, Uint8Array] | undefined {
  return rootsFromSubproof(m, n, true, proof, oldRoot);
}

function rootsFromSubproof(
  m: number,
  n: number,
  b: boolean,
  proof: Uint8Array[],
  oldRoot: Uint8Array,
): [Uint8Array, Uint8Array] | undefined {
  if (m === n) {
    if (b) return proof.length === 0 ? [oldRoot, oldRoot] : undefined;
    return proof.length === 1 ? [proof[0]!, proof[0]!] : undefined;
  }
  if (proof.length === 0) return undefined;
  const k = splitPoint(n);
  const sibling = proof[proof.length - 1]!;
  const rest = proof.slice(0, -1);
  if (m <= k) {
    const roots = rootsFromSubproof(m, k, b, rest, oldRoot);
    return roots && [roots[0], nodeHash(roots[1], sibling)];
  }
  const roots = rootsFromSubproof(m - k, n - k, false, rest, oldRoot);
  return roots && [nodeHash(sibling, roots[0]), nodeHash(sibling, roots[1])];
}

/** Returns the largest power of two smaller than n, for n > 1 (RFC 9162 k). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Entries that differ from one another: the UTF-8 text "entry <i>". */
export function sampleEntries(count: number, label = 'entry'): Uint8Array[] {
  const encoder = new TextEncoder();
  return Array.from({ length: count }, (_, i) => encoder.encode(`${label} ${i}`));
}
