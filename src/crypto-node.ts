/**
 * Switches SHA-256 and Ed25519 signing to node:crypto (OpenSSL), which is
 * faster than the portable JavaScript code for the server's hot path.
 * Verification stays on the portable code that the SDK and CLI share.
 */
import { createHash, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { setSha256 } from './hash.js';
import { setEd25519Sign } from './note.js';

/** DER prefix of a PKCS #8 Ed25519 private key (RFC 8410 section 7), followed by the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const keyObjects = new Map<string, KeyObject>();

function privateKeyOf(seed: Uint8Array): KeyObject {
  const id = Buffer.from(seed).toString('base64');
  let key = keyObjects.get(id);
  if (!key) {
    key = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    // A process holds one or two signing keys; the bound only guards against misuse.
    if (keyObjects.size >= 16) keyObjects.clear();
    keyObjects.set(id, key);
  }
  return key;
}

/** Makes src/hash.ts hash and src/note.ts sign with node:crypto. Call once at process start. */
export function useNodeCrypto(): void {
  setSha256((data) => {
    const digest = createHash('sha256').update(data).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
  });
  setEd25519Sign((seed, message) => new Uint8Array(sign(null, message, privateKeyOf(seed))));
}
