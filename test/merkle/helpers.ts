/** Shared helpers of the Merkle tests: a tree built with CompactRange and error assertions. */
import { expect } from 'vitest';
import { DeclogError, type ErrorCode } from '../../src/errors.js';
import { leafHash, nodeHash } from '../../src/hash.js';
import { CompactRange, rangeNodes, type NodeId } from '../../src/range.js';

/** A log held in memory: every perfect subtree CompactRange reported while appending. */
export interface BuiltTree {
  nodes: Map<string, Uint8Array>;
  leaves: Uint8Array[];
  readNode: (id: NodeId) => Uint8Array;
  /** The root of the first `size` leaves, from the stored subtrees (memoized). */
  root: (size: number) => Uint8Array;
}

/** Appends `entries` one by one, keeping every node the appends report. */
export function buildTree(entries: Uint8Array[]): BuiltTree {
  const range = CompactRange.empty();
  const nodes = new Map<string, Uint8Array>();
  const leaves = entries.map((entry) => leafHash(entry));
  for (const leaf of leaves) {
    range.append(leaf, (level, index, hash) => nodes.set(`${level}/${index}`, hash));
  }
  const readNode = ({ level, index }: NodeId) => {
    const hash = nodes.get(`${level}/${index}`);
    if (hash === undefined) throw new Error(`node ${level}/${index} was never reported`);
    return hash;
  };
  const roots = new Map<number, Uint8Array>();
  const root = (size: number) => {
    if (size > leaves.length) throw new Error(`tree has ${leaves.length} leaves, not ${size}`);
    if (!roots.has(size)) {
      const hashes = rangeNodes(size).map(readNode);
      roots.set(size, CompactRange.fromHashes(size, hashes).root());
    }
    return roots.get(size)!;
  };
  return { nodes, leaves, readNode, root };
}

/** Runs `fn` and returns what it threw, failing the test if it returned. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, none was thrown');
}

/** Asserts that `fn` throws an error of class `type` with `code`, and returns it. */
export function expectError<T extends DeclogError>(
  fn: () => unknown,
  type: new (...args: never[]) => T,
  code: ErrorCode,
): T {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(type);
  expect((err as T).code).toBe(code);
  return err as T;
}

/**
 * Models a tree of any size up to 2^53-1 whose leaves are all
 * leafHash("same") except leaf `target`, which is leafHash("target"). Every
 * node off the path of `target` is the perfect subtree of identical leaves at
 * its level. A node on that path has its special child on the side that the
 * bits of `target` give, so a proof that puts a hash on the wrong side yields
 * another root.
 */
export function sparseTree(target: number): {
  readNode: (id: NodeId) => Uint8Array;
  rootOf: (size: number) => Uint8Array;
} {
  const same = [leafHash(new TextEncoder().encode('same'))];
  const special = [leafHash(new TextEncoder().encode('target'))];
  for (let l = 1; l <= 53; l++) {
    const below = same[l - 1]!;
    same.push(nodeHash(below, below));
    const isRight = Math.floor(target / 2 ** (l - 1)) % 2 === 1;
    special.push(isRight ? nodeHash(below, special[l - 1]!) : nodeHash(special[l - 1]!, below));
  }
  const readNode = ({ level, index }: NodeId) =>
    Math.floor(target / 2 ** level) === index ? special[level]! : same[level]!;
  const rootOf = (size: number) =>
    CompactRange.fromHashes(size, rangeNodes(size).map(readNode)).root();
  return { readNode, rootOf };
}
