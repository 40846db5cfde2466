/**
 * Vectors written by Go's golang.org/x/mod/sumdb/tlog (test/vectors/go,
 * made by the `vectors` command of test/interop/go): leaf hashes, roots,
 * inclusion and consistency proofs and tile paths, checked against declog's
 * own hashing, proofs, verifiers and tile paths. No Go toolchain is needed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/encoding.js';
import { leafHash, nodeHash } from '../../src/hash.js';
import { consistencyProof, inclusionProof, type NodeId } from '../../src/proof.js';
import { CompactRange } from '../../src/range.js';
import { entriesPath, parseTilePath, tilePath } from '../../src/tiles.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';

const VECTORS = new URL('../vectors/go/', import.meta.url);

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, VECTORS), 'utf8')) as T;
}

interface TreeVector {
  entries: string[];
  leaf_hashes: string[];
  roots: { size: number; root: string }[];
}
interface InclusionCase {
  index: number;
  size: number;
  leaf_hash: string;
  root: string;
  proof: string[];
}
interface ConsistencyCase {
  old: number;
  new: number;
  old_root: string;
  new_root: string;
  proof: string[];
}
interface TilePathCase {
  level: number;
  index: number;
  width: number;
  go_path: string;
  path: string;
}

const tree = load<TreeVector>('tree.json');
const inclusion = load<{ cases: InclusionCase[] }>('inclusion.json').cases;
const consistency = load<{ cases: ConsistencyCase[] }>('consistency.json').cases;
const tilePaths = load<{ cases: TilePathCase[] }>('tile-paths.json').cases;

/** Hashes of perfect subtrees of the vector tree, computed from its leaves by RFC 9162 2.1.1. */
function nodeReader(leaves: Uint8Array[]): (id: NodeId) => Uint8Array {
  const memo = new Map<string, Uint8Array>();
  const read = (id: NodeId): Uint8Array => {
    if (id.level === 0) return leaves[id.index]!;
    const key = `${id.level}/${id.index}`;
    let hash = memo.get(key);
    if (!hash) {
      const below = { level: id.level - 1, index: 2 * id.index };
      hash = nodeHash(read(below), read({ ...below, index: below.index + 1 }));
      memo.set(key, hash);
    }
    return hash;
  };
  return read;
}

const leaves = tree.entries.map((e) => leafHash(fromHex(e)));
const readNode = nodeReader(leaves);
const hexList = (list: Uint8Array[]) => list.map(toHex);

describe('go tree vectors', () => {
  it('leaf hashes', () => {
    expect(hexList(leaves)).toEqual(tree.leaf_hashes);
  });

  it('roots of every size', () => {
    const range = CompactRange.empty();
    const roots = leaves.map((leaf) => {
      range.append(leaf);
      return { size: range.size, root: toHex(range.root()) };
    });
    expect(roots).toEqual(tree.roots);
  });
});

describe('go inclusion vectors', () => {
  it.each(inclusion.map((c) => [`${c.index} in ${c.size}`, c] as const))('verify %s', (_, c) => {
    const proof = c.proof.map((h) => fromHex(h));
    expect(() =>
      verifyInclusion(fromHex(c.leaf_hash), c.index, c.size, proof, fromHex(c.root)),
    ).not.toThrow();
  });

  it('proofs equal go', () => {
    const ours = inclusion.map((c) => hexList(inclusionProof(c.index, c.size, readNode)));
    expect(ours).toEqual(inclusion.map((c) => c.proof));
  });
});

describe('go consistency vectors', () => {
  it.each(consistency.map((c) => [`${c.old} to ${c.new}`, c] as const))('verify %s', (_, c) => {
    const proof = c.proof.map((h) => fromHex(h));
    expect(() =>
      verifyConsistency(c.old, c.new, proof, fromHex(c.old_root), fromHex(c.new_root)),
    ).not.toThrow();
  });

  it('proofs equal go', () => {
    const ours = consistency.map((c) => hexList(consistencyProof(c.old, c.new, readNode)));
    expect(ours).toEqual(consistency.map((c) => c.proof));
  });

  it('tampered proofs fail', () => {
    const failures = consistency
      .filter((c) => c.proof.length > 0)
      .filter((c) => {
        const proof = c.proof.map((h) => fromHex(h));
        proof[0]![0]! ^= 1;
        const check = () =>
          verifyConsistency(c.old, c.new, proof, fromHex(c.old_root), fromHex(c.new_root));
        return throwsCode(check, 'root_mismatch');
      });
    expect(failures.length).toBe(consistency.filter((c) => c.proof.length > 0).length);
  });
});

function throwsCode(fn: () => void, code: string): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return (err as { code?: string }).code === code;
  }
}

describe('go tile paths', () => {
  it('format', () => {
    const ours = tilePaths.map((c) => (c.level < 0 ? entriesPath(c.index, c.width) : tilePath(c)));
    expect(ours).toEqual(tilePaths.map((c) => c.path));
  });

  it('parse', () => {
    const parsed = tilePaths.map((c) => parseTilePath(c.path));
    const want = tilePaths.map((c) => ({
      kind: c.level < 0 ? 'entries' : 'hashes',
      level: Math.max(c.level, 0),
      index: c.index,
      width: c.width,
    }));
    expect(parsed).toEqual(want);
  });

  it('sumdb layout differs', () => {
    const go = tilePaths.find((c) => c.level === 1 && c.index === 1234067 && c.width === 255)!;
    expect({ go: go.go_path, c2sp: go.path }).toEqual({
      go: 'tile/8/1/x001/x234/067.p/255',
      c2sp: 'tile/1/x001/x234/067.p/255',
    });
  });
});
