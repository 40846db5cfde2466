/**
 * The RFC 6962 test tree published by the Certificate Transparency project
 * (test/vectors/merkle/rfc6962.json) and the mutation vectors derived from it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/encoding.js';
import { VerificationError } from '../../src/errors.js';
import { EMPTY_ROOT } from '../../src/hash.js';
import { consistencyProof, inclusionProof } from '../../src/proof.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import {
  type ConsistencyVector,
  type InclusionVector,
  VECTOR_DIR,
  loadRfc6962,
  mutationVectors,
  writeMutationVectors,
} from '../vectors/merkle/generate.js';
import { buildTree, expectError } from './helpers.js';

const data = loadRfc6962();
const tree = buildTree(data.leaves.map((hex) => fromHex(hex)));
const hex = (hashes: Uint8Array[]) => hashes.map(toHex);
const bytes = (hashes: string[]) => hashes.map((h) => fromHex(h));

describe('rfc6962 vectors', () => {
  it('empty root', () => {
    expect(toHex(EMPTY_ROOT)).toBe(data.roots[0]);
  });

  it('roots 0..8', () => {
    expect(hex(data.roots.map((_, size) => tree.root(size)))).toEqual(data.roots);
  });

  it('node hashes', () => {
    data.nodes.forEach((level, l) =>
      level.forEach((hash, i) => expect(toHex(tree.readNode({ level: l, index: i }))).toBe(hash)),
    );
    expect(tree.nodes.size).toBe(8 + 4 + 2 + 1);
  });

  it.each(data.inclusion)('inclusion $index in $size', ({ index, size, proof }) => {
    expect(hex(inclusionProof(index, size, tree.readNode))).toEqual(proof);
    verifyInclusion(tree.leaves[index]!, index, size, bytes(proof), tree.root(size));
  });

  it.each(data.consistency)('consistency $oldSize to $newSize', ({ oldSize, newSize, proof }) => {
    expect(hex(consistencyProof(oldSize, newSize, tree.readNode))).toEqual(proof);
    verifyConsistency(oldSize, newSize, bytes(proof), tree.root(oldSize), tree.root(newSize));
  });
});

const generated = mutationVectors();
if (process.env.DECLOG_WRITE_VECTORS === '1') await writeMutationVectors();

function stored(dir: string): [string, InclusionVector | ConsistencyVector][] {
  return readdirSync(join(VECTOR_DIR, dir))
    .filter((name) => name.endsWith('.json'))
    .map((name) => [
      `${dir}/${name}`,
      JSON.parse(readFileSync(join(VECTOR_DIR, dir, name), 'utf8')),
    ]);
}

const inclusionFiles = stored('inclusion') as [string, InclusionVector][];
const consistencyFiles = stored('consistency') as [string, ConsistencyVector][];

describe('mutation vectors', () => {
  it('match generator', () => {
    const files = new Map<string, InclusionVector | ConsistencyVector>([
      ...inclusionFiles,
      ...consistencyFiles,
    ]);
    expect([...files.keys()].sort()).toEqual([...generated.keys()].sort());
    for (const [name, vector] of generated) expect(files.get(name), name).toEqual(vector);
  });

  it.each(inclusionFiles)('%s', (_, v) => {
    const run = () =>
      verifyInclusion(fromHex(v.leafHash), v.index, v.size, bytes(v.proof), fromHex(v.root));
    if (v.expectedError === null) run();
    else expectError(run, VerificationError, v.expectedError);
  });

  it.each(consistencyFiles)('%s', (_, v) => {
    const [oldRoot, newRoot] = [fromHex(v.oldRoot), fromHex(v.newRoot)];
    const run = () => verifyConsistency(v.oldSize, v.newSize, bytes(v.proof), oldRoot, newRoot);
    if (v.expectedError === null) run();
    else expectError(run, VerificationError, v.expectedError);
  });
});
