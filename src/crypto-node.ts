/** Switches hashing to node:crypto, which is faster than pure JavaScript for short inputs. */
import { createHash } from 'node:crypto';
import { setSha256 } from './hash.js';

/** Makes every hash in src/hash.ts use node:crypto. Call once at process start. */
export function useNodeCrypto(): void {
  setSha256((data) => {
    const digest = createHash('sha256').update(data).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
  });
}
