/**
 * Generates the mutation vectors in inclusion/ and consistency/ beside this
 * file: one valid proof from the RFC 6962 test tree (rfc6962.json), then one
 * file per way of breaking it, named after the mutation.
 *
 * The expected error of each case comes from the naive RFC 9162 reference in
 * test/support/reference-tree.ts, never from src/verify.ts:
 *   - 'invalid_proof' when an index or size is out of range (index >= size,
 *     old size 0, old size > new size, not an integer from 0 to 2^53-1), a
 *     hash is not 32 bytes, or the proof length is not the one PATH or PROOF
 *     has for those sizes;
 *   - 'root_mismatch' when the proof, read backwards through PATH or PROOF,
 *     gives another root;
 *   - null when it verifies.
 *
 * Regenerate: DECLOG_WRITE_VECTORS=1 npx vitest run test/merkle/vectors.test.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { bytesEqual, fromHex, toHex } from '../../../src/encoding.js';
import { ReferenceTree, rootFromPath, rootsFromProof } from '../../support/reference-tree.js';

export const VECTOR_DIR = dirname(fileURLToPath(import.meta.url));

export type ExpectedError = 'invalid_proof' | 'root_mismatch' | null;

export interface InclusionVector {
  description: string;
  leafHash: string;
  index: number;
  size: number;
  proof: string[];
  root: string;
  expectedError: ExpectedError;
}

export interface ConsistencyVector {
  description: string;
  oldSize: number;
  newSize: number;
  proof: string[];
  oldRoot: string;
  newRoot: string;
  expectedError: ExpectedError;
}

/** The RFC 6962 test data, as stored in rfc6962.json. */
export interface Rfc6962Data {
  leaves: string[];
  nodes: string[][];
  roots: string[];
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { oldSize: number; newSize: number; proof: string[] }[];
}

export function loadRfc6962(): Rfc6962Data {
  return JSON.parse(readFileSync(join(VECTOR_DIR, 'rfc6962.json'), 'utf8')) as Rfc6962Data;
}

type Bytes = Uint8Array;
type Inclusion = { leafHash: Bytes; index: number; size: number; proof: Bytes[]; root: Bytes };
type Consistency = {
  oldSize: number;
  newSize: number;
  proof: Bytes[];
  oldRoot: Bytes;
  newRoot: Bytes;
};

const MAX_SAFE_PLUS_1 = 2 ** 53;

/** Flips bit `bit` of the first byte of proof[i], in a copy. */
function flipBit(proof: Bytes[], i: number, bit: number): Bytes[] {
  return proof.map((hash, j) => {
    if (j !== i) return hash;
    const copy = hash.slice();
    copy[0] = copy[0]! ^ (1 << bit);
    return copy;
  });
}

function swap(proof: Bytes[], i: number, j: number): Bytes[] {
  const copy = proof.slice();
  [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  return copy;
}

/**
 * Inclusion of leaf 5 ("40414243") in the tree of size 7: its proof contains a
 * left leaf, the right-edge subtree [6, 7) and the left subtree [0, 4).
 */
function inclusionCases(tree: ReferenceTree): Record<string, [string, Inclusion]> {
  const base: Inclusion = {
    leafHash: tree.leaves[5]!,
    index: 5,
    size: 7,
    proof: tree.path(5, 0, 7),
    root: tree.mth(0, 7),
  };
  const { proof, root } = base;
  const cases: Record<string, [string, Inclusion]> = {
    'happy-path': ['the valid proof of leaf 5 in the tree of size 7', base],
    'wrong-leaf': [
      'the hash of leaf 4 presented as leaf 5',
      { ...base, leafHash: tree.leaves[4]! },
    ],
    'wrong-index-minus-1': ['the proof of leaf 5 presented for index 4', { ...base, index: 4 }],
    'wrong-index-plus-1': ['the proof of leaf 5 presented for index 6', { ...base, index: 6 }],
    'index-equals-size': ['index 7 in a tree of size 7', { ...base, index: 7 }],
    'index-negative': ['index -1', { ...base, index: -1 }],
    'index-fractional': ['index 5.5', { ...base, index: 5.5 }],
    'wrong-size-minus-1': [
      'the proof for size 7 presented with size 6 and its root',
      { ...base, size: 6, root: tree.mth(0, 6) },
    ],
    'wrong-size-plus-1': [
      'the proof for size 7 presented with size 8 and its root',
      { ...base, size: 8, root: tree.mth(0, 8) },
    ],
    'wrong-size-times-2': ['the proof for size 7 presented for size 14', { ...base, size: 14 }],
    'wrong-size-half': [
      'the proof for size 7 presented with size 3 and its root',
      { ...base, size: 3, root: tree.mth(0, 3) },
    ],
    'size-2-pow-53': [
      'tree size 2^53, past the largest safe integer',
      { ...base, size: MAX_SAFE_PLUS_1 },
    ],
    'truncated-proof': ['the last proof hash removed', { ...base, proof: proof.slice(0, -1) }],
    'missing-first-hash': ['the first proof hash removed', { ...base, proof: proof.slice(1) }],
    'extra-hash': ['the root appended to the proof', { ...base, proof: [...proof, root] }],
    'preceding-hash': ['the root put before the proof', { ...base, proof: [root, ...proof] }],
    'empty-proof': ['no proof hashes at all', { ...base, proof: [] }],
    'swapped-proof-hashes': ['proof hashes 0 and 1 swapped', { ...base, proof: swap(proof, 0, 1) }],
    'short-proof-hash': [
      'proof hash 0 cut to 31 bytes',
      { ...base, proof: [proof[0]!.slice(1), ...proof.slice(1)] },
    ],
    'long-proof-hash': [
      'a zero byte appended to proof hash 2',
      { ...base, proof: [...proof.slice(0, 2), new Uint8Array([...proof[2]!, 0])] },
    ],
    'short-leaf-hash': [
      'the leaf hash cut to 31 bytes',
      { ...base, leafHash: base.leafHash.slice(1) },
    ],
    'short-root': ['the root cut to 31 bytes', { ...base, root: root.slice(1) }],
    'wrong-root': [
      'the root of the tree of size 6 instead of 7',
      { ...base, root: tree.mth(0, 6) },
    ],
    'empty-tree-root': ['the empty tree root SHA-256("")', { ...base, root: tree.mth(0, 0) }],
  };
  proof.forEach((_, i) => {
    cases[`modified-proof-${i}-bit-3`] = [
      `bit 3 of the first byte of proof hash ${i} flipped`,
      { ...base, proof: flipBit(proof, i, 3) },
    ];
  });
  return cases;
}

/**
 * Consistency from size 3 to size 7: the old tree's last subtree [2, 3) is
 * sent, and the proof ends with the right-edge subtree [4, 7), which is not
 * perfect. 'power-of-two-old-size' covers the case where the old root is
 * the whole subtree and is not sent.
 */
function consistencyCases(tree: ReferenceTree): Record<string, [string, Consistency]> {
  const base: Consistency = {
    oldSize: 3,
    newSize: 7,
    proof: tree.proof(3, 7),
    oldRoot: tree.mth(0, 3),
    newRoot: tree.mth(0, 7),
  };
  const { proof, oldRoot, newRoot } = base;
  const cases: Record<string, [string, Consistency]> = {
    'happy-path': ['the valid proof from size 3 to size 7', base],
    'power-of-two-old-size': [
      'the valid proof from size 4 to size 7, which omits the old root',
      { ...base, oldSize: 4, proof: tree.proof(4, 7), oldRoot: tree.mth(0, 4) },
    ],
    'equal-sizes': [
      'size 3 to size 3 with the same root and no proof',
      { ...base, newSize: 3, proof: [], newRoot: oldRoot },
    ],
    'equal-sizes-different-roots': [
      'size 3 to size 3 with two different roots',
      { ...base, newSize: 3, proof: [] },
    ],
    'equal-sizes-with-proof': [
      'size 3 to size 3 with a non-empty proof',
      { ...base, newSize: 3, newRoot: oldRoot },
    ],
    'swapped-roots': [
      'old and new roots exchanged',
      { ...base, oldRoot: newRoot, newRoot: oldRoot },
    ],
    'wrong-old-root': ['the root of size 2 as the old root', { ...base, oldRoot: tree.mth(0, 2) }],
    'wrong-new-root': ['the root of size 8 as the new root', { ...base, newRoot: tree.mth(0, 8) }],
    'wrong-old-size-minus-1': [
      'the proof presented from size 2 and its root',
      { ...base, oldSize: 2, oldRoot: tree.mth(0, 2) },
    ],
    'wrong-old-size-plus-1': [
      'the proof presented from size 4 and its root',
      { ...base, oldSize: 4, oldRoot: tree.mth(0, 4) },
    ],
    'wrong-new-size-minus-1': [
      'the proof presented to size 6 and its root',
      { ...base, newSize: 6, newRoot: tree.mth(0, 6) },
    ],
    'wrong-new-size-plus-1': [
      'the proof presented to size 8 and its root',
      { ...base, newSize: 8, newRoot: tree.mth(0, 8) },
    ],
    'wrong-new-size-times-2': ['the proof presented to size 14', { ...base, newSize: 14 }],
    'old-size-zero': [
      'a check from size 0, which proves nothing',
      { ...base, oldSize: 0, proof: [], oldRoot: tree.mth(0, 0) },
    ],
    'old-size-zero-to-zero': [
      'size 0 to size 0',
      {
        ...base,
        oldSize: 0,
        newSize: 0,
        proof: [],
        oldRoot: tree.mth(0, 0),
        newRoot: tree.mth(0, 0),
      },
    ],
    'old-greater-than-new': [
      'sizes exchanged: 7 to 3',
      { ...base, oldSize: 7, newSize: 3, oldRoot: newRoot, newRoot: oldRoot },
    ],
    'size-2-pow-53': [
      'new size 2^53, past the largest safe integer',
      { ...base, newSize: MAX_SAFE_PLUS_1 },
    ],
    'truncated-proof': ['the last proof hash removed', { ...base, proof: proof.slice(0, -1) }],
    'missing-first-hash': ['the first proof hash removed', { ...base, proof: proof.slice(1) }],
    'extra-hash': ['the new root appended to the proof', { ...base, proof: [...proof, newRoot] }],
    'preceding-hash': [
      'the old root put before the proof',
      { ...base, proof: [oldRoot, ...proof] },
    ],
    'empty-proof': ['no proof hashes at all', { ...base, proof: [] }],
    'swapped-proof-hashes': ['proof hashes 1 and 2 swapped', { ...base, proof: swap(proof, 1, 2) }],
    'short-proof-hash': [
      'proof hash 1 cut to 31 bytes',
      { ...base, proof: proof.map((h, i) => (i === 1 ? h.slice(1) : h)) },
    ],
    'short-old-root': ['the old root cut to 31 bytes', { ...base, oldRoot: oldRoot.slice(1) }],
  };
  proof.forEach((_, i) => {
    cases[`modified-proof-${i}-bit-4`] = [
      `bit 4 of the first byte of proof hash ${i} flipped`,
      { ...base, proof: flipBit(proof, i, 4) },
    ];
  });
  return cases;
}

const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;
const allHashes = (hashes: Bytes[]) => hashes.every((h) => h.length === 32);

/** The error an RFC 9162 verifier must report for an inclusion case. */
export function expectInclusion(c: Inclusion): ExpectedError {
  if (!isCount(c.index) || !isCount(c.size) || c.index >= c.size) return 'invalid_proof';
  if (!allHashes([c.leafHash, c.root, ...c.proof])) return 'invalid_proof';
  const root = rootFromPath(c.index, c.size, c.leafHash, c.proof);
  if (root === undefined) return 'invalid_proof';
  return bytesEqual(root, c.root) ? null : 'root_mismatch';
}

/** The error an RFC 9162 verifier must report for a consistency case. */
export function expectConsistency(c: Consistency): ExpectedError {
  if (!isCount(c.oldSize) || !isCount(c.newSize)) return 'invalid_proof';
  if (c.oldSize === 0 || c.oldSize > c.newSize) return 'invalid_proof';
  if (!allHashes([c.oldRoot, c.newRoot, ...c.proof])) return 'invalid_proof';
  const roots = rootsFromProof(c.oldSize, c.newSize, c.proof, c.oldRoot);
  if (roots === undefined) return 'invalid_proof';
  const ok = bytesEqual(roots[0], c.oldRoot) && bytesEqual(roots[1], c.newRoot);
  return ok ? null : 'root_mismatch';
}

function checkExpectation(name: string, expected: ExpectedError): void {
  const valid = name === 'happy-path' || name === 'power-of-two-old-size' || name === 'equal-sizes';
  if ((expected === null) !== valid) {
    throw new Error(`vector ${name}: the reference gives ${expected}, not what the case is for`);
  }
}

/** Builds every mutation vector, keyed by its path relative to this directory. */
export function mutationVectors(): Map<string, InclusionVector | ConsistencyVector> {
  const data = loadRfc6962();
  const tree = new ReferenceTree(data.leaves.map((hex) => fromHex(hex)));
  const out = new Map<string, InclusionVector | ConsistencyVector>();
  for (const [name, [description, c]] of Object.entries(inclusionCases(tree))) {
    const expectedError = expectInclusion(c);
    checkExpectation(name, expectedError);
    const { leafHash, index, size, proof, root } = c;
    out.set(`inclusion/${name}.json`, {
      description,
      ...{ leafHash: toHex(leafHash), index, size, proof: proof.map(toHex), root: toHex(root) },
      expectedError,
    });
  }
  for (const [name, [description, c]] of Object.entries(consistencyCases(tree))) {
    const expectedError = expectConsistency(c);
    checkExpectation(name, expectedError);
    const { oldSize, newSize, proof, oldRoot, newRoot } = c;
    out.set(`consistency/${name}.json`, {
      description,
      ...{ oldSize, newSize, proof: proof.map(toHex), oldRoot: toHex(oldRoot) },
      ...{ newRoot: toHex(newRoot), expectedError },
    });
  }
  return out;
}

/**
 * Writes every mutation vector under `dir`, formatted as the repository's
 * prettier configuration formats JSON, and returns the paths written.
 */
export async function writeMutationVectors(dir = VECTOR_DIR): Promise<string[]> {
  const written: string[] = [];
  for (const [name, vector] of mutationVectors()) {
    const path = join(dir, name);
    const options = await prettier.resolveConfig(path);
    const text = await prettier.format(JSON.stringify(vector), { ...options, parser: 'json' });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(path);
  }
  return written;
}
