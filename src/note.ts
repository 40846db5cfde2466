/**
 * Signed notes (c2sp.org/signed-note) with Ed25519 keys, in the key string
 * formats of golang.org/x/mod/sumdb/note.
 *
 * A signed note is the text (ending in LF), one empty line, then one line per
 * signature: `— <key name> <base64(key ID[4] || signature)>`. Pure: no I/O, no
 * node: imports, so the SDK and browsers share it.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { InputError, VerificationError } from './errors.js';
import { fromBase64, fromUtf8, toBase64, utf8 } from './encoding.js';
import { sha256 } from './hash.js';

// noble needs a synchronous SHA-512 for ed.sign and ed.verify.
ed.hashes.sha512 ??= sha512;

/** Signature type byte of Ed25519 note signatures (c2sp.org/signed-note, "Signature types"). */
export const ALG_ED25519 = 0x01;

/** Maximum note size in UTF-8 bytes. */
export const MAX_NOTE_BYTES = 1 << 20;

/** Maximum number of signature lines in one note. The spec requires accepting at least 16. */
export const MAX_SIGNATURES = 100;

const SIG_PREFIX = '\u2014 ';
const MIN_SIG_BYTES = 5;

/** Signs a message with one key. */
export interface Signer {
  readonly name: string;
  readonly keyId: number;
  sign(message: Uint8Array): Uint8Array;
}

/** Verifies signatures of one key. */
export interface Verifier {
  readonly name: string;
  readonly keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** One signature line. `base64` encodes the key ID followed by the signature. */
export interface NoteSignature {
  name: string;
  keyId: number;
  base64: string;
}

/** An opened note. `sigs` were verified, and `unverifiedSigs` are from keys the caller did not pass. */
export interface Note {
  text: string;
  sigs: NoteSignature[];
  unverifiedSigs: NoteSignature[];
}

// ---------------------------------------------------------------------------
// Key names, key IDs and key strings

const BAD_NAME_CHAR = /[\p{White_Space}\p{Cc}\p{Cs}+]/u;

/** Reports whether `name` is a valid key name: non-empty, no spaces, controls or '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !BAD_NAME_CHAR.test(name);
}

/**
 * Computes a key ID (c2sp.org/signed-note, "Signatures"):
 * SHA-256(key name || 0x0A || signature type || public key)[:4] as a uint32.
 */
export function computeKeyId(name: string, typedKey: Uint8Array): number {
  const nameBytes = utf8(name);
  const buf = new Uint8Array(nameBytes.length + 1 + typedKey.length);
  buf.set(nameBytes, 0);
  buf[nameBytes.length] = 0x0a;
  buf.set(typedKey, nameBytes.length + 1);
  const sum = sha256(buf);
  return ((sum[0]! << 24) | (sum[1]! << 16) | (sum[2]! << 8) | sum[3]!) >>> 0;
}

/** Formats a key ID as 8 lowercase hex digits. */
export function formatKeyId(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

/** A key string split into its parts. `key` is the key material after the type byte. */
interface KeyParts {
  name: string;
  keyId: number;
  alg: number;
  key: Uint8Array;
}

/** Splits `<name>+<hex id>+<base64(type || key)>`, or returns the reason it is malformed. */
function splitKey(text: string): KeyParts | string {
  const plus1 = text.indexOf('+');
  const plus2 = plus1 < 0 ? -1 : text.indexOf('+', plus1 + 1);
  if (plus2 < 0) return 'expected <name>+<key ID>+<key>';
  const name = text.slice(0, plus1);
  const hexId = text.slice(plus1 + 1, plus2);
  if (!isValidKeyName(name)) return 'invalid key name';
  if (!/^[0-9a-f]{8}$/.test(hexId)) return 'key ID is not 8 lowercase hex digits';
  let typed: Uint8Array;
  try {
    typed = fromBase64(text.slice(plus2 + 1));
  } catch {
    return 'key is not standard padded base64';
  }
  if (typed.length === 0) return 'key is empty';
  return { name, keyId: parseInt(hexId, 16), alg: typed[0]!, key: typed.subarray(1) };
}

function typeByte(alg: number): string {
  return '0x' + alg.toString(16).padStart(2, '0');
}

/** Checks the type byte and length of an Ed25519 key, returning the reason if either is wrong. */
function checkEd25519(parts: KeyParts, alg: number): string | undefined {
  if (parts.alg !== alg) return `key type ${typeByte(parts.alg)}, expected ${typeByte(alg)}`;
  if (parts.key.length !== 32) return `key of ${parts.key.length} bytes, expected 32`;
  return undefined;
}

function withType(alg: number, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + key.length);
  out[0] = alg;
  out.set(key, 1);
  return out;
}

/** Rejects public keys that are not canonical curve points or have small order. */
function checkPublicKey(publicKey: Uint8Array): string | undefined {
  try {
    const point = ed.Point.fromBytes(publicKey, false);
    return point.isSmallOrder() ? 'public key has small order' : undefined;
  } catch {
    return 'public key is not a valid Ed25519 point';
  }
}

/** A decoded Ed25519 verifier key of type `alg`. */
export interface PublicKeyParts {
  name: string;
  keyId: number;
  publicKey: Uint8Array;
}

/**
 * Decodes a verifier key `<name>+<hex id>+<base64(alg || public key)>`
 * (c2sp.org/signed-note, "Verifier keys"), checking the type byte, the key
 * length and that the key ID matches the name and key.
 */
export function decodeVerifierKey(vkey: string, alg: number): PublicKeyParts {
  const quotedKey = JSON.stringify(vkey.slice(0, 200));
  const fail = (reason: string) =>
    new VerificationError('malformed_key', `verifier key ${quotedKey}: ${reason}`);
  const parts = splitKey(vkey);
  if (typeof parts === 'string') throw fail(parts);
  const wrong = checkEd25519(parts, alg) ?? checkPublicKey(parts.key);
  if (wrong) throw fail(wrong);
  const expected = computeKeyId(parts.name, withType(alg, parts.key));
  if (expected !== parts.keyId) {
    throw fail(
      `key ID ${formatKeyId(parts.keyId)} does not match the key (${formatKeyId(expected)})`,
    );
  }
  return { name: parts.name, keyId: parts.keyId, publicKey: Uint8Array.from(parts.key) };
}

/** A decoded Ed25519 signer key of type `alg`. `seed` is the 32-byte RFC 8032 private key. */
export interface SecretKeyParts extends PublicKeyParts {
  seed: Uint8Array;
}

/**
 * Decodes a signer key `PRIVATE+KEY+<name>+<hex id>+<base64(alg || seed)>`.
 * Errors never include any part of the key string.
 */
export function decodeSignerKey(skey: string, alg: number): SecretKeyParts {
  const fail = (reason: string) => new VerificationError('malformed_key', `signer key: ${reason}`);
  if (!skey.startsWith('PRIVATE+KEY+')) throw fail('expected PRIVATE+KEY+<name>+<key ID>+<key>');
  const parts = splitKey(skey.slice('PRIVATE+KEY+'.length));
  if (typeof parts === 'string') throw fail(parts);
  const wrong = checkEd25519(parts, alg);
  if (wrong) throw fail(wrong);
  const seed = Uint8Array.from(parts.key);
  const publicKey = ed.getPublicKey(seed);
  if (computeKeyId(parts.name, withType(alg, publicKey)) !== parts.keyId) {
    throw fail('key ID does not match the key');
  }
  return { name: parts.name, keyId: parts.keyId, publicKey, seed };
}

/** Encodes a verifier key string for an Ed25519 public key of type `alg`. */
export function encodeVerifierKey(name: string, alg: number, publicKey: Uint8Array): string {
  const typed = withType(alg, publicKey);
  return `${name}+${formatKeyId(computeKeyId(name, typed))}+${toBase64(typed)}`;
}

/** Encodes a signer key string for an Ed25519 seed of type `alg`. */
export function encodeSignerKey(name: string, alg: number, seed: Uint8Array): string {
  const keyId = computeKeyId(name, withType(alg, ed.getPublicKey(seed)));
  return `PRIVATE+KEY+${name}+${formatKeyId(keyId)}+${toBase64(withType(alg, seed))}`;
}

/** Generates a random Ed25519 key pair of type `alg` as signer and verifier key strings. */
export function generateKeyOfType(
  name: string,
  alg: number,
): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) {
    throw new InputError(
      'invalid_argument',
      `invalid key name ${JSON.stringify(name)}: must be non-empty with no spaces, controls or '+'`,
    );
  }
  const seed = ed.utils.randomSecretKey();
  const verifierKey = encodeVerifierKey(name, alg, ed.getPublicKey(seed));
  return { signerKey: encodeSignerKey(name, alg, seed), verifierKey };
}

/** Verifies an RFC 8032 Ed25519 signature, rejecting non-canonical encodings. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, sig: Uint8Array) {
  if (sig.length !== 64) return false;
  try {
    return ed.verify(sig, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

type Ed25519Sign = (seed: Uint8Array, message: Uint8Array) => Uint8Array;

let signImpl: Ed25519Sign = (seed, message) => ed.sign(message, seed);

/** Replaces the Ed25519 signing implementation (Ed25519 signatures are deterministic, so any correct one gives the same bytes). */
export function setEd25519Sign(fn: Ed25519Sign): void {
  signImpl = fn;
}

/** Signs `message` with an Ed25519 seed (RFC 8032 section 5.1.6). */
export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return signImpl(seed, message);
}

/** Generates an Ed25519 note key pair for `name` (type 0x01). */
export function generateKey(name: string): { signerKey: string; verifierKey: string } {
  return generateKeyOfType(name, ALG_ED25519);
}

/** Builds a signer from a `PRIVATE+KEY+...` string, raising 'malformed_key' on bad input. */
export function newSigner(signerKey: string): Signer {
  const { name, keyId, seed } = decodeSignerKey(signerKey, ALG_ED25519);
  return { name, keyId, sign: (message) => ed25519Sign(seed, message) };
}

/** Builds a verifier from a `<name>+<id>+<key>` string, raising 'malformed_key' on bad input. */
export function newVerifier(verifierKey: string): Verifier {
  const { name, keyId, publicKey } = decodeVerifierKey(verifierKey, ALG_ED25519);
  return { name, keyId, verify: (message, sig) => ed25519Verify(publicKey, message, sig) };
}

/** Returns the verifier key string that matches an Ed25519 signer key string. */
export function verifierKeyFromSigner(signerKey: string): string {
  const { name, publicKey } = decodeSignerKey(signerKey, ALG_ED25519);
  return encodeVerifierKey(name, ALG_ED25519, publicKey);
}

// ---------------------------------------------------------------------------
// Note syntax

function malformed(reason: string, cause?: unknown): VerificationError {
  return new VerificationError('malformed_note', `malformed note: ${reason}`, { cause });
}

function tooLarge(size: number): VerificationError {
  return malformed(`note of at least ${size} bytes exceeds the ${MAX_NOTE_BYTES}-byte limit`);
}

const BAD_TEXT_CHAR = /[\x00-\x09\x0b-\x1f\x7f]|\p{Cs}/u;

/**
 * Returns the offset of the first character a note may not contain (an ASCII
 * control other than LF, DEL included, or an unpaired surrogate), or -1.
 */
export function findForbiddenChar(text: string): number {
  const match = BAD_TEXT_CHAR.exec(text);
  return match ? match.index : -1;
}

function describeChar(text: string, offset: number): string {
  const code = text.codePointAt(offset)!;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')} at offset ${offset}`;
}

/** Decodes the raw message, rejecting oversized notes, bad UTF-8 and forbidden characters. */
function decodeMessage(message: string | Uint8Array): string {
  if (message.length > MAX_NOTE_BYTES) throw tooLarge(message.length);
  let text: string;
  if (typeof message === 'string') {
    text = message;
  } else {
    try {
      text = fromUtf8(message, 'note');
    } catch (cause) {
      throw malformed('not valid UTF-8', cause);
    }
  }
  const bad = findForbiddenChar(text);
  if (bad >= 0) throw malformed(`forbidden character ${describeChar(text, bad)}`);
  const size = typeof message === 'string' ? utf8(text).length : message.length;
  if (size > MAX_NOTE_BYTES) throw tooLarge(size);
  return text;
}

/** A signature line with its decoded parts. */
interface ParsedSignature extends NoteSignature {
  sig: Uint8Array;
}

/** Parses `— <name> <base64>`, where `n` is the 1-based line number in the signature block. */
function parseSignatureLine(line: string, n: number): ParsedSignature {
  if (!line.startsWith(SIG_PREFIX)) {
    throw malformed(`signature line ${n} does not start with U+2014 and a space`);
  }
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw malformed(`signature line ${n} has no space after the key name`);
  const name = rest.slice(0, space);
  const base64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) throw malformed(`signature line ${n} has an invalid key name`);
  let blob: Uint8Array;
  try {
    blob = fromBase64(base64, `signature on line ${n}`);
  } catch (cause) {
    throw malformed(`signature line ${n} is not standard padded base64`, cause);
  }
  if (blob.length < MIN_SIG_BYTES) {
    throw malformed(
      `signature line ${n} decodes to ${blob.length} bytes, expected a 4-byte key ID and a signature`,
    );
  }
  const keyId = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0;
  return { name, keyId, base64, sig: blob.subarray(4) };
}

/** Splits the signature block into lines, bounding their number and rejecting repeats. */
function parseSignatureBlock(block: string): ParsedSignature[] {
  if (block.length === 0) throw malformed('no signature lines after the last empty line');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) {
    throw malformed(`${lines.length} signature lines, more than ${MAX_SIGNATURES}`);
  }
  const seen = new Map<string, number>();
  return lines.map((line, i) => {
    const first = seen.get(line);
    if (first !== undefined) throw malformed(`signature line ${i + 1} repeats line ${first}`);
    seen.set(line, i + 1);
    return parseSignatureLine(line, i + 1);
  });
}

/** Splits a note at its last empty line (c2sp.org/signed-note, "Format"). */
function parseMessage(message: string | Uint8Array): { text: string; sigs: ParsedSignature[] } {
  const msg = decodeMessage(message);
  if (!msg.endsWith('\n')) throw malformed('missing final newline');
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no empty line before the signatures');
  const text = msg.slice(0, split + 1);
  return { text, sigs: parseSignatureBlock(msg.slice(split + 2)) };
}

function publicSig(s: ParsedSignature): NoteSignature {
  return { name: s.name, keyId: s.keyId, base64: s.base64 };
}

/** Parses a signed note without verifying it; every rule but the signatures is checked. */
export function parseNote(message: string | Uint8Array): { text: string; sigs: NoteSignature[] } {
  const { text, sigs } = parseMessage(message);
  return { text, sigs: sigs.map(publicSig) };
}

// ---------------------------------------------------------------------------
// Signing and opening

/** Names a key as `<name>+<hex key ID>` in messages. */
export function keyLabel(k: { name: string; keyId: number }): string {
  return `${k.name}+${formatKeyId(k.keyId)}`;
}

/** Checks a text to be signed: non-empty, LF-terminated, no forbidden characters. */
function checkText(text: string): void {
  if (!text.endsWith('\n')) throw malformed('text must end with a newline');
  const bad = findForbiddenChar(text);
  if (bad >= 0) throw malformed(`text has forbidden character ${describeChar(text, bad)}`);
}

/** Signs `text` with one signer, returning the signature as it appears in a note. */
export function noteSignature(text: string, signer: Signer): NoteSignature {
  checkText(text);
  if (!isValidKeyName(signer.name)) {
    throw new InputError(
      'invalid_argument',
      `invalid signer key name ${JSON.stringify(signer.name)}`,
    );
  }
  const sig = signer.sign(utf8(text));
  const blob = new Uint8Array(4 + sig.length);
  new DataView(blob.buffer).setUint32(0, signer.keyId);
  blob.set(sig, 4);
  return { name: signer.name, keyId: signer.keyId, base64: toBase64(blob) };
}

/** Formats one signature line: `— <name> <base64>` and LF. */
export function formatSignatureLine(sig: NoteSignature): string {
  return `${SIG_PREFIX}${sig.name} ${sig.base64}\n`;
}

/**
 * Signs `text` (LF-terminated, c2sp.org/signed-note "Format") with each
 * signer and returns the signed note: text, an empty line, one line per
 * signature.
 */
export function signNote(text: string, signers: Signer[]): string {
  if (signers.length === 0 || signers.length > MAX_SIGNATURES) {
    throw new InputError('invalid_argument', `${signers.length} signers, expected 1 to 100`);
  }
  const labels = new Set(signers.map(keyLabel));
  if (labels.size !== signers.length) {
    throw new InputError('invalid_argument', 'two signers share a key name and key ID');
  }
  const lines = signers.map((s) => formatSignatureLine(noteSignature(text, s)));
  const note = text + '\n' + lines.join('');
  const size = utf8(note).length;
  if (size > MAX_NOTE_BYTES) throw tooLarge(size);
  return note;
}

/** Indexes verifiers by name and key ID. The same object passed twice counts once. */
function indexVerifiers(verifiers: readonly Verifier[]): Map<string, Verifier[]> {
  const byKey = new Map<string, Verifier[]>();
  for (const v of verifiers) {
    const list = byKey.get(keyLabel(v)) ?? [];
    if (!list.includes(v)) list.push(v);
    byKey.set(keyLabel(v), list);
  }
  return byKey;
}

function findVerifier(byKey: Map<string, Verifier[]>, label: string): Verifier | undefined {
  const list = byKey.get(label);
  if (list && list.length > 1) {
    throw new VerificationError(
      'malformed_key',
      `ambiguous key ${label}: ${list.length} verifiers`,
    );
  }
  return list?.[0];
}

function noKnownSignature(note: Note, verifiers: readonly Verifier[]): VerificationError {
  const found = note.unverifiedSigs.map(keyLabel).join(', ');
  const known = verifiers.map(keyLabel).join(', ');
  return new VerificationError(
    'no_known_signature',
    `no signature from a known key: note signed by [${found}], known keys [${known}]`,
  );
}

/**
 * Parses and verifies a signed note like Go's note.Open (c2sp.org/signed-note,
 * "Signatures"). A signature from an unknown key (name and ID) goes to
 * `unverifiedSigs`. A known key's signature that fails to verify raises
 * 'bad_signature', and a note with no verified signature raises
 * 'no_known_signature'. Syntax errors raise 'malformed_note'.
 *
 * @example
 * const { signerKey, verifierKey } = generateKey('example.com/log');
 * const signed = signNote('hello\n', [newSigner(signerKey)]);
 * openNote(signed, [newVerifier(verifierKey)]).text; // 'hello\n'
 */
export function openNote(message: string | Uint8Array, verifiers: Verifier[]): Note {
  const { text, sigs } = parseMessage(message);
  const byKey = indexVerifiers(verifiers);
  const textBytes = utf8(text);
  const note: Note = { text, sigs: [], unverifiedSigs: [] };
  const verified = new Set<string>();
  for (const s of sigs) {
    const label = keyLabel(s);
    const v = findVerifier(byKey, label);
    if (!v) {
      note.unverifiedSigs.push(publicSig(s));
    } else if (!v.verify(textBytes, s.sig)) {
      throw new VerificationError('bad_signature', `signature by key ${label} does not verify`);
    } else if (!verified.has(label)) {
      verified.add(label);
      note.sigs.push(publicSig(s));
    }
  }
  if (note.sigs.length === 0) throw noKnownSignature(note, verifiers);
  return note;
}
