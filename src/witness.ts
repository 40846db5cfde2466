/**
 * The witness side of c2sp.org/tlog-witness: the add-checkpoint request
 * body, and the checks a witness makes before it cosigns a checkpoint
 * (c2sp.org/tlog-cosignature). Pure: the state is passed in and the new
 * state handed back, so the caller stores it with a compare-and-swap.
 *
 * Request body (tlog-witness, "add-checkpoint"):
 *
 *     old <size>
 *     <base64 consistency proof hash>      (0 to 63 lines)
 *
 *     <signed checkpoint>
 */
import { bytesEqual, fromBase64, parseDecimal, toBase64, toHex } from './encoding.js';
import { DeclogError, InputError, NotFoundError, VerificationError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';
import {
  formatSignatureLine,
  noteSignature,
  openNote,
  parseNote,
  type Signer,
  type Verifier,
} from './note.js';
import { verifyConsistency } from './verify.js';

/** Most consistency proof lines a request may carry (tlog-witness, "add-checkpoint"). */
export const MAX_PROOF_LINES = 63;

/** Largest request body a witness reads: a 1 MiB note plus the old size and proof lines. */
export const MAX_REQUEST_BYTES = (1 << 20) + 4096;

/** Media type of the 409 response that carries the witness's tree size. */
export const TLOG_SIZE_MEDIA_TYPE = 'text/x.tlog.size';

/** A parsed add-checkpoint request. */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Uint8Array[];
  /** The signed checkpoint note, as sent. */
  checkpoint: string;
}

/** The latest checkpoint a witness cosigned for one origin. */
export interface TreeHead {
  size: number;
  root: Uint8Array;
}

/** The witness's record of a log disagrees with the request: a 409 response with `size`. */
export class TreeSizeConflictError extends VerificationError {
  constructor(
    message: string,
    /** The size of the latest checkpoint the witness cosigned for this origin. */
    readonly size: number,
  ) {
    super('tree_size_conflict', message);
  }
}

function malformed(why: string, cause?: unknown): InputError {
  return new InputError('invalid_argument', `malformed add-checkpoint body: ${why}`, { cause });
}

/** Parses `old <size>`: a decimal with no sign or leading zeros. */
function parseOldLine(line: string): number {
  if (!line.startsWith('old ')) throw malformed(`first line does not start with "old "`);
  try {
    return parseDecimal(line.slice(4), 'old size');
  } catch (cause) {
    throw malformed((cause as Error).message, cause);
  }
}

function parseProofLine(line: string, n: number): Uint8Array {
  let hash: Uint8Array;
  try {
    hash = fromBase64(line, `proof line ${n}`);
  } catch (cause) {
    throw malformed(`proof line ${n} is not standard padded base64`, cause);
  }
  if (hash.length !== HASH_SIZE) {
    throw malformed(`proof line ${n} holds ${hash.length} bytes, expected ${HASH_SIZE}`);
  }
  return hash;
}

/**
 * Parses an add-checkpoint body (c2sp.org/tlog-witness): the old size line,
 * up to 63 base64 proof lines, an empty line, then the signed checkpoint,
 * every line ending in LF. Errors are 'invalid_argument' (HTTP 400).
 */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  if (body.length > MAX_REQUEST_BYTES) {
    throw malformed(`longer than ${MAX_REQUEST_BYTES} characters`);
  }
  const blank = body.indexOf('\n\n');
  if (blank < 0) throw malformed('no empty line before the checkpoint');
  const [oldLine, ...proofLines] = body.slice(0, blank).split('\n');
  const oldSize = parseOldLine(oldLine!);
  if (proofLines.length > MAX_PROOF_LINES) {
    throw malformed(`${proofLines.length} proof lines, at most ${MAX_PROOF_LINES} allowed`);
  }
  const proof = proofLines.map((line, i) => parseProofLine(line, i + 1));
  return { oldSize, proof, checkpoint: body.slice(blank + 2) };
}

/** Formats an add-checkpoint body, the inverse of parseAddCheckpoint. */
export function formatAddCheckpoint(req: AddCheckpointRequest): string {
  const lines = [`old ${req.oldSize}`, ...req.proof.map(toBase64)];
  return lines.join('\n') + '\n\n' + req.checkpoint;
}

/** A checkpoint whose log signature verified, ready to be checked against the witness state. */
export interface OpenedRequest {
  oldSize: number;
  proof: Uint8Array[];
  checkpoint: Checkpoint;
  /** The checkpoint's note text, which the cosignature signs. */
  text: string;
}

function parseCheckpointNote(signed: string): { text: string; checkpoint: Checkpoint } {
  try {
    const { text } = parseNote(signed);
    return { text, checkpoint: parseCheckpoint(text) };
  } catch (cause) {
    if (!(cause instanceof DeclogError)) throw cause;
    throw malformed(cause.message, cause);
  }
}

/** Verifies the log signature: any failure of a known key, or no known key, is 'bad_signature'. */
function checkLogSignature(signed: string, verifiers: Verifier[], origin: string): void {
  try {
    openNote(signed, verifiers);
  } catch (cause) {
    if (!(cause instanceof VerificationError)) throw cause;
    throw new VerificationError(
      'bad_signature',
      `checkpoint of ${origin} has no valid signature by a log key this witness trusts: ${cause.message}`,
      { cause },
    );
  }
}

/**
 * Opens a request against the logs the witness knows, in the order of the
 * spec's checks: the origin must be known ('not_found', HTTP 404), a
 * trusted key of that origin must have signed the checkpoint
 * ('bad_signature', HTTP 403), and the old size must not exceed the
 * checkpoint's ('invalid_argument', HTTP 400).
 */
export function openRequest(
  req: AddCheckpointRequest,
  logs: ReadonlyMap<string, Verifier[]>,
): OpenedRequest {
  const { text, checkpoint } = parseCheckpointNote(req.checkpoint);
  const verifiers = logs.get(checkpoint.origin);
  if (!verifiers) {
    const origin = JSON.stringify(checkpoint.origin.slice(0, 200));
    throw new NotFoundError('not_found', `unknown log origin ${origin}: add its key with --log`);
  }
  checkLogSignature(req.checkpoint, verifiers, checkpoint.origin);
  if (req.oldSize > checkpoint.size) {
    throw malformed(
      `old size ${req.oldSize} is larger than the checkpoint size ${checkpoint.size}`,
    );
  }
  return { oldSize: req.oldSize, proof: req.proof, checkpoint, text };
}

function invalidProof(why: string, cause?: unknown): VerificationError {
  return new VerificationError('invalid_proof', why, { cause });
}

/**
 * Checks an opened request against the latest checkpoint the witness
 * cosigned for its origin (undefined: none yet, size 0), and returns the
 * new state to store. The old size must be the stored size, else
 * TreeSizeConflictError (HTTP 409). Equal sizes need equal roots, else
 * 'invalid_proof' (HTTP 422). Otherwise the proof must be a
 * consistency proof from the stored tree to the new one (RFC 9162 section
 * 2.1.4.2), empty when the old size is 0, else 'invalid_proof' (HTTP 422).
 */
export function checkConsistent(req: OpenedRequest, state: TreeHead | undefined): TreeHead {
  const known = state?.size ?? 0;
  const { size, root } = req.checkpoint;
  if (req.oldSize !== known) {
    throw new TreeSizeConflictError(
      `old size ${req.oldSize} is not ${known}, the size this witness last cosigned`,
      known,
    );
  }
  if (state && state.size === size && !bytesEqual(state.root, root)) {
    // NOTE: the C2SP tlog-witness text returns 409 for this fork; declog returns 422,
    // because resending from the witness's size cannot resolve it: the checkpoint is rejected.
    throw invalidProof(
      `checkpoint of size ${size} has root ${toHex(root)}, but this witness cosigned root ${toHex(state.root)} at that size`,
    );
  }
  if (req.oldSize === 0 || req.oldSize === size) {
    if (req.proof.length > 0) {
      throw invalidProof(`a proof from size ${req.oldSize} to ${size} must be empty`);
    }
    return { size, root };
  }
  try {
    verifyConsistency(req.oldSize, size, req.proof, state!.root, root);
  } catch (cause) {
    if (!(cause instanceof VerificationError)) throw cause;
    throw invalidProof(
      `consistency proof from size ${req.oldSize} to ${size}: ${cause.message}`,
      cause,
    );
  }
  return { size, root };
}

/** Formats the 200 answer: one cosignature line per key of the witness (tlog-cosignature). */
export function cosignatureLines(text: string, cosigners: Signer[]): string {
  return cosigners.map((c) => formatSignatureLine(noteSignature(text, c))).join('');
}
