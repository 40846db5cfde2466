/**
 * Checkpoints (c2sp.org/tlog-checkpoint): the signed note whose text is the
 * log origin, the tree size, the base64 root hash and optional extension
 * lines, each ending in LF.
 */
import { InputError, VerificationError } from './errors.js';
import { fromBase64, fromUtf8, parseDecimal, toBase64 } from './encoding.js';
import { HASH_SIZE } from './hash.js';
import { findForbiddenChar, keyLabel, openNote, type Note, type Verifier } from './note.js';

/** A log's tree head at one size. */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions: string[];
}

/** An opened checkpoint: the parsed text, the verified note and the note as received. */
export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  note: Note;
  signed: string;
}

function malformed(reason: string, cause?: unknown): VerificationError {
  return new VerificationError('malformed_checkpoint', `malformed checkpoint: ${reason}`, {
    cause,
  });
}

/** Checks one text line: non-empty, with no LF and no character a note may not contain. */
function checkLine(line: string, label: string): void {
  if (line.length === 0) throw malformed(`${label} is empty`);
  if (line.includes('\n')) throw malformed(`${label} contains a newline`);
  const bad = findForbiddenChar(line);
  if (bad >= 0) throw malformed(`${label} has a forbidden character at offset ${bad}`);
}

/**
 * Formats the note text of a checkpoint (c2sp.org/tlog-checkpoint, "Note
 * text"): `<origin>\n<size>\n<base64(root)>\n` then one line per extension.
 */
export function formatCheckpoint(c: Checkpoint): string {
  checkLine(c.origin, 'origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0) {
    throw malformed(`tree size ${c.size} is not an integer from 0 to 2^53-1`);
  }
  if (c.root.length !== HASH_SIZE) {
    throw malformed(`root hash of ${c.root.length} bytes, expected ${HASH_SIZE}`);
  }
  c.extensions.forEach((ext, i) => checkLine(ext, `extension line ${i + 1}`));
  const lines = [c.origin, String(c.size), toBase64(c.root), ...c.extensions];
  return lines.join('\n') + '\n';
}

function parseSize(line: string): number {
  try {
    return parseDecimal(line, 'tree size');
  } catch (cause) {
    if (cause instanceof InputError) throw malformed(cause.message, cause);
    throw cause;
  }
}

function parseRoot(line: string): Uint8Array {
  let root: Uint8Array;
  try {
    root = fromBase64(line, 'root hash');
  } catch (cause) {
    if (cause instanceof InputError) throw malformed(cause.message, cause);
    throw cause;
  }
  if (root.length !== HASH_SIZE) {
    throw malformed(`root hash of ${root.length} bytes, expected ${HASH_SIZE}`);
  }
  return root;
}

/**
 * Parses checkpoint note text strictly. It needs at least three non-empty,
 * LF-terminated lines. The size has no sign or leading zeros and is at most
 * 2^53-1, and the root is exactly 32 bytes in standard padded base64.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw malformed('missing final newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) {
    throw malformed(`${lines.length} lines, expected origin, tree size and root hash`);
  }
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  checkLine(origin, 'origin');
  extensions.forEach((ext, i) => checkLine(ext, `extension line ${i + 1}`));
  return { origin, size: parseSize(size), root: parseRoot(root), extensions };
}

/**
 * Opens a signed checkpoint, which must carry a valid signature by `log`.
 * Verifiers of witness cosignatures may be passed in `options.extra`. The
 * origin must equal `options.origin`, by default the log key's name, or the
 * call raises 'wrong_origin'.
 *
 * @example
 * const log = newVerifier('example.com/log+12345678+AQ...');
 * const { checkpoint } = openCheckpoint(signed, log);
 * checkpoint.size; // the tree size the log signed
 */
export function openCheckpoint(
  signed: string | Uint8Array,
  log: Verifier,
  options: { origin?: string; extra?: Verifier[] } = {},
): SignedCheckpoint {
  const note = openNote(signed, [log, ...(options.extra ?? [])]);
  if (!note.sigs.some((s) => s.name === log.name && s.keyId === log.keyId)) {
    const found = [...note.sigs, ...note.unverifiedSigs].map(keyLabel).join(', ');
    throw new VerificationError(
      'no_known_signature',
      `checkpoint has no signature by log key ${keyLabel(log)}: signed by [${found}]`,
    );
  }
  const checkpoint = parseCheckpoint(note.text);
  const origin = options.origin ?? log.name;
  if (checkpoint.origin !== origin) {
    throw new VerificationError(
      'wrong_origin',
      `checkpoint origin ${JSON.stringify(checkpoint.origin)}, expected ${JSON.stringify(origin)}`,
    );
  }
  const text = typeof signed === 'string' ? signed : fromUtf8(signed, 'checkpoint');
  return { checkpoint, note, signed: text };
}
