/**
 * RFC 9162 section 2.1.1 hashing: SHA-256 with domain separation between
 * leaves (prefix 0x00) and interior nodes (prefix 0x01).
 *
 * The SHA-256 function is replaceable so that a Node.js process can use
 * node:crypto on its hot path while this module stays portable.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

export const HASH_SIZE = 32;

type Sha256 = (data: Uint8Array) => Uint8Array;

let sha256Impl: Sha256 = nobleSha256;

/** Replaces the SHA-256 implementation used by every hash in this module. */
export function setSha256(fn: Sha256): void {
  sha256Impl = fn;
}

/** Returns SHA-256(data). */
export function sha256(data: Uint8Array): Uint8Array {
  return sha256Impl(data);
}

/** SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT: Uint8Array = nobleSha256(new Uint8Array(0));

/**
 * Input buffers reused by every hash, since the hash functions are synchronous:
 * a new buffer per leaf cost an allocation outside the JavaScript heap.
 */
let leafInput = new Uint8Array(1024);
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

/** Returns the leaf hash SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Uint8Array {
  if (leafInput.length < 1 + entry.length) leafInput = new Uint8Array(2 * (1 + entry.length));
  leafInput[0] = 0x00;
  leafInput.set(entry, 1);
  return sha256Impl(leafInput.subarray(0, 1 + entry.length));
}

/** Returns the interior node hash SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256Impl(nodeInput);
}
