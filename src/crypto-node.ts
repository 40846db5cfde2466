/**
 * Switches SHA-256 and Ed25519 signing to node:crypto (OpenSSL), which is
 * faster than the portable JavaScript code for the server's hot path.
 * Verification stays on the portable code that the SDK and CLI share.
 */
import * as nodeCrypto from 'node:crypto';
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

function hashObjectSha256(data: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(data).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
}

/**
 * Returns SHA-256 through crypto.hash (Node.js 20.12 and later), which skips
 * the Hash object and so costs less per call for the short inputs of tree
 * hashing. The digest comes as a latin1 string, one character per byte, and
 * is copied into a Uint8Array: on Node.js 20 that took 360 ns for a
 * 65-byte input, and a digest returned as a Buffer took 1,100 ns.
 */
function oneShotSha256(): ((data: Uint8Array) => Uint8Array) | undefined {
  const hash = (nodeCrypto as Partial<typeof nodeCrypto>).hash;
  if (typeof hash !== 'function') return undefined;
  return (data) => {
    // 'binary' is Node.js's other name for latin1.
    const digest = hash('sha256', data, 'binary');
    const out = new Uint8Array(digest.length);
    for (let i = 0; i < digest.length; i++) out[i] = digest.charCodeAt(i);
    return out;
  };
}

/** Makes src/hash.ts hash and src/note.ts sign with node:crypto. Call once at process start. */
export function useNodeCrypto(): void {
  setSha256(oneShotSha256() ?? hashObjectSha256);
  setEd25519Sign((seed, message) => new Uint8Array(sign(null, message, privateKeyOf(seed))));
}
