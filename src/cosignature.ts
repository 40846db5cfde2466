/**
 * Ed25519 witness cosignatures (c2sp.org/tlog-cosignature, cosignature/v1):
 * note signatures of type 0x04 whose blob is key ID || uint64 big-endian
 * Unix seconds || Ed25519 signature over
 * `cosignature/v1\ntime <seconds>\n` followed by the checkpoint note text.
 */
import { InputError, VerificationError } from './errors.js';
import { fromBase64, fromUtf8, utf8 } from './encoding.js';
import { parseCheckpoint } from './checkpoint.js';
import {
  decodeSignerKey,
  decodeVerifierKey,
  ed25519Sign,
  ed25519Verify,
  generateKeyOfType,
  type NoteSignature,
  type Signer,
  type Verifier,
} from './note.js';

// TODO: ML-DSA-44 cosignatures (type 0x06, subtree/v1) are not supported; add them when a
// witness that declog trusts signs with ML-DSA-44.

/** Signature type byte of Ed25519 cosignatures (c2sp.org/signed-note, "Signature types"). */
export const ALG_COSIGNATURE_V1 = 0x04;

const TIMESTAMP_BYTES = 8;
const ED25519_SIG_BYTES = 64;
const COSIG_BYTES = TIMESTAMP_BYTES + ED25519_SIG_BYTES;

/** A note signer that also signs at a given time. */
export interface Cosigner extends Signer {
  /** Cosigns checkpoint note text at `timestamp` (Unix seconds): uint64 BE time || signature. */
  signAt(message: Uint8Array, timestamp: number): Uint8Array;
}

/** A cosignature verifier that can also read the time out of a signature. */
export interface CosignatureVerifier extends Verifier {
  /** Returns the Unix seconds of a cosignature (the bytes after the key ID). */
  timestampOf(sig: Uint8Array): number;
}

/**
 * Builds the signed message (c2sp.org/tlog-cosignature, "Ed25519 signed
 * message"): `cosignature/v1` LF `time <seconds>` LF, then the note text.
 */
export function cosignatureMessage(timestamp: number, text: Uint8Array): Uint8Array {
  const header = utf8(`cosignature/v1\ntime ${timestamp}\n`);
  const out = new Uint8Array(header.length + text.length);
  out.set(header, 0);
  out.set(text, header.length);
  return out;
}

/** Generates an Ed25519 cosigner key pair (type 0x04) for the witness `name`. */
export function generateCosignatureKey(name: string): { signerKey: string; verifierKey: string } {
  return generateKeyOfType(name, ALG_COSIGNATURE_V1);
}

function currentSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function checkTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InputError(
      'invalid_argument',
      `cosignature timestamp ${timestamp} is not an integer from 0 to 2^53-1`,
    );
  }
}

/**
 * Builds a cosigner from `PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>`.
 * `sign` stamps the time from `now` (Unix seconds). Only checkpoint text is
 * signed: anything else is 'malformed_checkpoint'.
 */
export function newCosigner(signerKey: string, now: () => number = currentSeconds): Cosigner {
  const { name, keyId, seed } = decodeSignerKey(signerKey, ALG_COSIGNATURE_V1);
  const signAt = (message: Uint8Array, timestamp: number): Uint8Array => {
    checkTimestamp(timestamp);
    parseCheckpoint(fromUtf8(message, 'checkpoint'));
    const out = new Uint8Array(COSIG_BYTES);
    new DataView(out.buffer).setBigUint64(0, BigInt(timestamp));
    out.set(ed25519Sign(seed, cosignatureMessage(timestamp, message)), TIMESTAMP_BYTES);
    return out;
  };
  return { name, keyId, signAt, sign: (message) => signAt(message, now()) };
}

/** Reads the uint64 big-endian timestamp at the start of a cosignature, or undefined. */
function readTimestamp(sig: Uint8Array): number | undefined {
  if (sig.length !== COSIG_BYTES) return undefined;
  const value = new DataView(sig.buffer, sig.byteOffset, TIMESTAMP_BYTES).getBigUint64(0);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function timestampOrThrow(sig: Uint8Array): number {
  const timestamp = readTimestamp(sig);
  if (timestamp === undefined) {
    throw new VerificationError(
      'malformed_note',
      `cosignature of ${sig.length} bytes: expected ${COSIG_BYTES} with a timestamp up to 2^53-1`,
    );
  }
  return timestamp;
}

/** Builds a cosignature verifier from `<name>+<id>+<base64(0x04 || public key)>`. */
export function newCosignatureVerifier(verifierKey: string): CosignatureVerifier {
  const { name, keyId, publicKey } = decodeVerifierKey(verifierKey, ALG_COSIGNATURE_V1);
  const verify = (message: Uint8Array, sig: Uint8Array): boolean => {
    const timestamp = readTimestamp(sig);
    if (timestamp === undefined) return false;
    const signed = cosignatureMessage(timestamp, message);
    return ed25519Verify(publicKey, signed, sig.subarray(TIMESTAMP_BYTES));
  };
  return { name, keyId, verify, timestampOf: timestampOrThrow };
}

/** Returns the Unix seconds of a cosignature line, without verifying it. */
export function cosignatureTimestamp(sig: NoteSignature): number {
  return timestampOrThrow(fromBase64(sig.base64, 'cosignature').subarray(4));
}
