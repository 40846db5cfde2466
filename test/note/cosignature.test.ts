import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError, VerificationError } from '../../src/errors.js';
import { fromBase64, utf8 } from '../../src/encoding.js';
import { formatCheckpoint } from '../../src/checkpoint.js';
import {
  cosignatureMessage,
  cosignatureTimestamp,
  generateCosignatureKey,
  newCosignatureVerifier,
  newCosigner,
} from '../../src/cosignature.js';
import {
  computeKeyId,
  encodeVerifierKey,
  generateKey,
  newVerifier,
  openNote,
  parseNote,
  signNote,
} from '../../src/note.js';
import { expectError } from './expect-error.js';
import { keyMaterial, loadVector, type C2spExamples } from './vectors.js';

const c2sp = loadVector<C2spExamples>('c2sp-examples.json');
const KEY = generateCosignatureKey('witness.example/w1');
const TEXT = formatCheckpoint({
  origin: 'example.com/log',
  size: 20852163,
  root: fromBase64('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I='),
  extensions: [],
});
const T = 1679315147;

/** Decodes the raw public key of a verifier key string. */
function publicKeyOf(vkey: string): Uint8Array {
  return fromBase64(keyMaterial(vkey)).subarray(1);
}

/** Verifies an Ed25519 signature with OpenSSL through node:crypto, independently of noble. */
function opensslVerify(publicKey: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  // DER SubjectPublicKeyInfo prefix for Ed25519 (RFC 8410 section 4), then the 32-byte key.
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return nodeVerify(null, message, key, sig);
}

describe('cosignatureMessage', () => {
  it('c2sp example bytes', () => {
    const ex = c2sp.cosignature_message;
    const message = cosignatureMessage(ex.timestamp, utf8(ex.text));
    expect(new TextDecoder().decode(message)).toBe(ex.message);
  });

  it('zero time', () => {
    const message = new TextDecoder().decode(cosignatureMessage(0, utf8('a\n')));
    expect(message).toBe('cosignature/v1\ntime 0\na\n');
  });
});

describe('cosigner', () => {
  const cosigner = newCosigner(KEY.signerKey);
  const verifier = newCosignatureVerifier(KEY.verifierKey);

  it('key id uses type 0x04', () => {
    const publicKey = publicKeyOf(KEY.verifierKey);
    const typed = new Uint8Array([0x04, ...publicKey]);
    expect(verifier.keyId).toBe(computeKeyId('witness.example/w1', typed));
    expect(cosigner.keyId).toBe(verifier.keyId);
    const asNoteKey = encodeVerifierKey('witness.example/w1', 0x01, publicKey);
    expect(newVerifier(asNoteKey).keyId).not.toBe(verifier.keyId);
  });

  it('sign and verify', () => {
    const sig = cosigner.signAt(utf8(TEXT), T);
    expect(sig).toHaveLength(72);
    expect(new DataView(sig.buffer).getBigUint64(0)).toBe(BigInt(T));
    expect(verifier.verify(utf8(TEXT), sig)).toBe(true);
    expect(verifier.timestampOf(sig)).toBe(T);
  });

  it('signed bytes per spec', () => {
    const sig = cosigner.signAt(utf8(TEXT), T);
    const message = utf8(`cosignature/v1\ntime ${T}\n${TEXT}`);
    expect(opensslVerify(publicKeyOf(KEY.verifierKey), message, sig.subarray(8))).toBe(true);
  });

  it('sign uses now', () => {
    const fixed = newCosigner(KEY.signerKey, () => 1234);
    expect(verifier.timestampOf(fixed.sign(utf8(TEXT)))).toBe(1234);
  });

  it('default now is current time', () => {
    const before = Math.floor(Date.now() / 1000);
    const stamp = verifier.timestampOf(cosigner.sign(utf8(TEXT)));
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('changed time fails', () => {
    const sig = cosigner.signAt(utf8(TEXT), T);
    new DataView(sig.buffer).setBigUint64(0, BigInt(T + 1));
    expect(verifier.verify(utf8(TEXT), sig)).toBe(false);
  });

  it('changed extension fails', () => {
    const text = TEXT + 'extension\n';
    const sig = cosigner.signAt(utf8(text), T);
    expect(verifier.verify(utf8(text), sig)).toBe(true);
    expect(verifier.verify(utf8(TEXT + 'extensioN\n'), sig)).toBe(false);
  });

  it('wrong lengths fail', () => {
    const sig = cosigner.signAt(utf8(TEXT), T);
    expect(verifier.verify(utf8(TEXT), sig.subarray(8))).toBe(false);
    expect(verifier.verify(utf8(TEXT), sig.subarray(0, 71))).toBe(false);
    expectError(() => verifier.timestampOf(sig.subarray(8)), VerificationError, 'malformed_note');
  });

  it('time past 2^53 fails', () => {
    const sig = cosigner.signAt(utf8(TEXT), T);
    new DataView(sig.buffer).setBigUint64(0, 2n ** 53n);
    expect(verifier.verify(utf8(TEXT), sig)).toBe(false);
    expectError(() => verifier.timestampOf(sig), VerificationError, 'malformed_note');
  });

  it.each([-1, 1.5, 2 ** 53, NaN])('rejects time %d', (t) => {
    expectError(() => cosigner.signAt(utf8(TEXT), t), InputError, 'invalid_argument');
  });

  it('signs only checkpoints', () => {
    expectError(
      () => cosigner.signAt(utf8('hello\n'), T),
      VerificationError,
      'malformed_checkpoint',
    );
  });

  it('note key rejected', () => {
    const noteKey = generateKey('witness.example/w1');
    expectError(() => newCosigner(noteKey.signerKey), VerificationError, 'malformed_key');
    expectError(
      () => newCosignatureVerifier(noteKey.verifierKey),
      VerificationError,
      'malformed_key',
    );
  });
});

describe('cosigned note', () => {
  it('opens with cosignature verifier', () => {
    const cosigner = newCosigner(KEY.signerKey, () => T);
    const signed = signNote(TEXT, [cosigner]);
    const note = openNote(signed, [newCosignatureVerifier(KEY.verifierKey)]);
    expect(note.sigs).toHaveLength(1);
    expect(cosignatureTimestamp(note.sigs[0]!)).toBe(T);
    expect(fromBase64(note.sigs[0]!.base64)).toHaveLength(4 + 8 + 64);
  });

  it('note verifier ignores it', () => {
    const signed = signNote(TEXT, [newCosigner(KEY.signerKey)]);
    const asNoteKey = encodeVerifierKey('witness.example/w1', 0x01, publicKeyOf(KEY.verifierKey));
    expectError(
      () => openNote(signed, [newVerifier(asNoteKey)]),
      VerificationError,
      'no_known_signature',
    );
  });

  it('c2sp example timestamp', () => {
    const ex = c2sp.cosigned_checkpoint;
    const witness = parseNote(ex.signed).sigs[1]!;
    expect(witness.keyId.toString(16)).toBe(ex.witness_key_id);
    expect(cosignatureTimestamp(witness)).toBe(ex.witness_timestamp);
  });

  it.each(c2sp.cosignature_timestamps)('formats vector: $description', (v) => {
    const sig = { name: 'w', keyId: 0, base64: v.base64 };
    if (v.timestamp === null) {
      expectError(() => cosignatureTimestamp(sig), VerificationError, 'malformed_note');
    } else {
      expect(cosignatureTimestamp(sig)).toBe(v.timestamp);
    }
  });

  it.each(c2sp.cosignature_verifier_keys)('formats key: $description', (v) => {
    if (v.cosignature) {
      expect(newCosignatureVerifier(v.key).name).toBe(v.key.split('+')[0]);
    } else {
      expectError(() => newCosignatureVerifier(v.key), VerificationError, 'malformed_key');
    }
  });

  it('key round trip', () => {
    const verifier = newCosignatureVerifier(KEY.verifierKey);
    const encoded = encodeVerifierKey(verifier.name, 0x04, publicKeyOf(KEY.verifierKey));
    expect(encoded).toBe(KEY.verifierKey);
    expect(fromBase64(keyMaterial(KEY.verifierKey))[0]).toBe(0x04);
  });
});
