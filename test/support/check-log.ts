/**
 * Whole-log checker: re-verifies a store from scratch. It recomputes the
 * root of every stored checkpoint from the entries, verifies each signature,
 * proves each checkpoint consistent with the newest one, and checks sampled
 * inclusion proofs built from the stored tiles.
 */
import { expect } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint.js';
import { leafHash } from '../../src/hash.js';
import { newVerifier } from '../../src/note.js';
import { consistencyProof, inclusionProof } from '../../src/proof.js';
import { CompactRange } from '../../src/range.js';
import type { Store } from '../../src/store/store.js';
import { TileReader } from '../../src/store/tile-reader.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';

/** Returns the sizes of all stored checkpoints, in increasing order. */
async function checkpointSizes(store: Store, latest: number): Promise<number[]> {
  const sizes: number[] = [];
  for (let size = 0; size <= latest; size++) {
    if (await store.checkpoint(size)) sizes.push(size);
  }
  return sizes;
}

export async function checkLog(store: Store, verifierKey: string): Promise<number> {
  const verifier = newVerifier(verifierKey);
  const latest = await store.latestCheckpoint();
  expect(latest, 'the store has a checkpoint').toBeDefined();
  const size = latest!.size;
  const entries = await store.readEntries(0, size);
  expect(entries.length).toBe(size);

  // Roots: recompute every stored checkpoint's root from the entries.
  const sizes = await checkpointSizes(store, size);
  const range = CompactRange.empty();
  const leaves = entries.map(leafHash);
  const roots = new Map<number, Uint8Array>();
  if (sizes.includes(0)) roots.set(0, range.root());
  for (const [i, leaf] of leaves.entries()) {
    range.append(leaf);
    if (sizes.includes(i + 1)) roots.set(i + 1, range.root());
  }
  for (const s of sizes) {
    const stored = (await store.checkpoint(s))!;
    const opened = openCheckpoint(stored.note, verifier);
    expect(opened.checkpoint.size).toBe(s);
    expect(Buffer.from(opened.checkpoint.root)).toEqual(Buffer.from(roots.get(s)!));
    expect(Buffer.from(stored.root)).toEqual(Buffer.from(roots.get(s)!));
  }

  // Proofs from the stored tiles, read synchronously after a prefetch.
  const reader = new TileReader(store);
  const readAll = async (ids: { level: number; index: number }[]) => reader.readNodes(ids);
  const nodeCache = new Map<string, Uint8Array>();
  const readNode = (id: { level: number; index: number }) =>
    nodeCache.get(`${id.level}/${id.index}`)!;
  const prefetch = async (ids: { level: number; index: number }[]) => {
    const hashes = await readAll(ids);
    ids.forEach((id, i) => nodeCache.set(`${id.level}/${id.index}`, hashes[i]!));
  };
  const { inclusionNodes, consistencyNodes } = await import('../../src/proof.js');
  for (const s of sizes.filter((x) => x > 0)) {
    await prefetch(consistencyNodes(s, size).ids);
    const proof = consistencyProof(s, size, readNode);
    verifyConsistency(s, size, proof, roots.get(s)!, roots.get(size)!);
  }
  const step = Math.max(1, Math.floor(size / 50));
  for (let index = 0; index < size; index += step) {
    await prefetch(inclusionNodes(index, size).ids);
    const proof = inclusionProof(index, size, readNode);
    verifyInclusion(leaves[index]!, index, size, proof, roots.get(size)!);
  }
  return size;
}
