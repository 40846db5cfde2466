import { afterAll, describe, expect, it } from 'vitest';
import { useNodeCrypto } from '../../src/crypto-node.js';
import { setSha256, sha256 } from '../../src/hash.js';
import {
  generateKey,
  newSigner,
  newVerifier,
  openNote,
  setEd25519Sign,
  signNote,
} from '../../src/note.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import * as ed from '@noble/ed25519';

afterAll(() => {
  setSha256(nobleSha256);
  setEd25519Sign((seed, message) => ed.sign(message, seed));
});

describe('node:crypto backend', () => {
  it('signs notes byte-identical to noble', () => {
    const { signerKey, verifierKey } = generateKey('example.com/log');
    const text = 'example.com/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
    const portable = signNote(text, [newSigner(signerKey)]);
    useNodeCrypto();
    const native = signNote(text, [newSigner(signerKey)]);
    expect(native).toBe(portable);
    expect(openNote(native, [newVerifier(verifierKey)]).sigs).toHaveLength(1);
  });

  it('hashes like noble', () => {
    useNodeCrypto();
    for (const length of [0, 1, 65, 300, 5000]) {
      const data = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
      expect(Buffer.from(sha256(data)), `${length} bytes`).toEqual(Buffer.from(nobleSha256(data)));
    }
  });

  it('returns a new digest each call', () => {
    useNodeCrypto();
    const first = sha256(new Uint8Array([1]));
    const firstCopy = Uint8Array.from(first);
    const second = sha256(new Uint8Array([2]));
    expect(first).toEqual(firstCopy);
    expect(second).not.toEqual(firstCopy);
    expect(Object.getPrototypeOf(first)).toBe(Uint8Array.prototype);
    expect(first.length).toBe(32);
  });
});
