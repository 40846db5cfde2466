/**
 * Offline proofs of inclusion (c2sp.org/tlog-proof): a header line, optional
 * unauthenticated extra data, the entry index, the RFC 9162 inclusion proof as
 * base64 lines, an empty line, then the signed checkpoint verbatim.
 *
 *     c2sp.org/tlog-proof@v1
 *     extra <base64>
 *     index <decimal>
 *     <base64 hash>...
 *
 *     <signed checkpoint>
 */
import { InputError, VerificationError } from './errors.js';
import { fromBase64, parseDecimal, toBase64 } from './encoding.js';
import { HASH_SIZE, leafHash } from './hash.js';
import { openCheckpoint, parseCheckpoint, type SignedCheckpoint } from './checkpoint.js';
import { MAX_NOTE_BYTES, parseNote, type Verifier } from './note.js';
import { verifyInclusion } from './verify.js';

/** First line of every proof (c2sp.org/tlog-proof, "Format"). */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

/** Maximum number of inclusion proof hashes, enough for a tree of 2^64 leaves. */
export const MAX_PROOF_HASHES = 64;

/** Maximum proof length in UTF-16 code units, room for a full-size note and the lines before it. */
export const MAX_TLOG_PROOF_LENGTH = 2 * MAX_NOTE_BYTES;

/** An offline proof. `checkpoint` is the signed checkpoint note, cosignatures included. */
export interface TlogProof {
  extra?: Uint8Array;
  index: number;
  proof: Uint8Array[];
  checkpoint: string;
}

function malformed(reason: string, cause?: unknown): VerificationError {
  return new VerificationError('malformed_receipt', `malformed tlog-proof: ${reason}`, { cause });
}

/** Runs `fn`, turning a parse error of a part into 'malformed_receipt' naming the part. */
function part<T>(label: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof InputError || cause instanceof VerificationError) {
      throw malformed(`${label}: ${cause.message}`, cause);
    }
    throw cause;
  }
}

/** Checks that the embedded checkpoint is a well-formed signed checkpoint note. */
function checkSignedCheckpoint(checkpoint: string): void {
  const { text } = part('checkpoint', () => parseNote(checkpoint));
  part('checkpoint', () => parseCheckpoint(text));
}

function checkHashes(proof: Uint8Array[]): void {
  if (proof.length > MAX_PROOF_HASHES) {
    throw malformed(`${proof.length} proof hashes, more than ${MAX_PROOF_HASHES}`);
  }
  proof.forEach((h, i) => {
    if (h.length !== HASH_SIZE) throw malformed(`proof hash ${i + 1} has ${h.length} bytes`);
  });
}

/** Formats a proof (c2sp.org/tlog-proof, "Format"), checking each part first. */
export function formatTlogProof(p: TlogProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) {
    throw malformed(`index ${p.index} is not an integer from 0 to 2^53-1`);
  }
  checkHashes(p.proof);
  checkSignedCheckpoint(p.checkpoint);
  const lines = [TLOG_PROOF_HEADER];
  if (p.extra) lines.push(`extra ${toBase64(p.extra)}`);
  lines.push(`index ${p.index}`, ...p.proof.map((h) => toBase64(h)));
  return lines.join('\n') + '\n\n' + p.checkpoint;
}

/** Reads LF-terminated lines, counting them for error messages. */
class LineReader {
  private pos = 0;
  line = 0;

  constructor(private readonly text: string) {}

  next(): string {
    const end = this.text.indexOf('\n', this.pos);
    this.line++;
    if (end < 0) throw malformed(`line ${this.line} is missing or has no final newline`);
    const line = this.text.slice(this.pos, end);
    this.pos = end + 1;
    return line;
  }

  rest(): string {
    return this.text.slice(this.pos);
  }
}

function parseHash(line: string, n: number): Uint8Array {
  const hash = part(`line ${n}`, () => fromBase64(line, 'proof hash'));
  if (hash.length !== HASH_SIZE) {
    throw malformed(`line ${n}: proof hash of ${hash.length} bytes, expected ${HASH_SIZE}`);
  }
  return hash;
}

/** Reads proof hash lines up to the empty line before the checkpoint. */
function parseHashes(reader: LineReader): Uint8Array[] {
  const proof: Uint8Array[] = [];
  for (let line = reader.next(); line !== ''; line = reader.next()) {
    if (proof.length === MAX_PROOF_HASHES) {
      throw malformed(`more than ${MAX_PROOF_HASHES} proof hashes`);
    }
    proof.push(parseHash(line, reader.line));
  }
  return proof;
}

/**
 * Parses a proof strictly. It needs the exact header, an optional
 * `extra <base64>`, `index <decimal>` with no sign or leading zeros, 32-byte
 * hashes in standard padded base64, an empty line and a well-formed signed
 * checkpoint. Signatures and the inclusion proof are checked by verifyTlogProof.
 */
export function parseTlogProof(text: string): TlogProof {
  if (text.length > MAX_TLOG_PROOF_LENGTH) {
    throw malformed(`longer than ${MAX_TLOG_PROOF_LENGTH} characters`);
  }
  const reader = new LineReader(text);
  if (reader.next() !== TLOG_PROOF_HEADER) throw malformed(`line 1 is not ${TLOG_PROOF_HEADER}`);
  let line = reader.next();
  let extra: Uint8Array | undefined;
  if (line.startsWith('extra ')) {
    const b64 = line.slice('extra '.length);
    extra = part('line 2', () => fromBase64(b64, 'extra data'));
    line = reader.next();
  }
  if (!line.startsWith('index ')) throw malformed(`line ${reader.line} is not index <decimal>`);
  const index = part(`line ${reader.line}`, () => parseDecimal(line.slice(6), 'index'));
  const proof = parseHashes(reader);
  const checkpoint = reader.rest();
  checkSignedCheckpoint(checkpoint);
  return extra ? { extra, index, proof, checkpoint } : { index, proof, checkpoint };
}

/** A verified proof: the opened checkpoint, the entry's index and the unauthenticated extra data. */
export interface VerifiedTlogProof extends SignedCheckpoint {
  index: number;
  extra?: Uint8Array;
}

/**
 * Verifies a proof for `entry` offline (c2sp.org/tlog-proof, "Verifying a
 * tlog proof"). The checkpoint opens as in openCheckpoint, with cosigner
 * verifiers in `options.extra`. Then SHA-256(0x00 || entry) must be at
 * `index` in the checkpoint's tree (RFC 9162 section 2.1.3.2). Witness quorums
 * are checked by verifyTlogProofWithPolicy in policy.ts.
 *
 * @example
 * const receipt = verifyTlogProof(text, entryBytes, newVerifier(logKey));
 * receipt.checkpoint.size > receipt.index; // true
 */
export function verifyTlogProof(
  text: string,
  entry: Uint8Array,
  log: Verifier,
  options: { origin?: string; extra?: Verifier[] } = {},
): VerifiedTlogProof {
  const p = parseTlogProof(text);
  const signed = openCheckpoint(p.checkpoint, log, options);
  const { size, root } = signed.checkpoint;
  verifyInclusion(leafHash(entry), p.index, size, p.proof, root);
  return p.extra ? { ...signed, index: p.index, extra: p.extra } : { ...signed, index: p.index };
}
