/**
 * declog verify consistency: checks that a newer checkpoint extends an older
 * one (RFC 9162 section 2.1.4.2), online from the ledger's proof or offline
 * from two signed checkpoint files and a proof file.
 */
import { openCheckpoint, type SignedCheckpoint } from '../../src/checkpoint.js';
import { openCheckpointWithPolicy } from '../../src/policy.js';
import { readPolicy } from './policy.js';
import { fromBase64, fromHex, fromUtf8, toHex } from '../../src/encoding.js';
import { UsageError, VerificationError } from '../../src/errors.js';
import { HASH_SIZE } from '../../src/hash.js';
import { newVerifier, type Verifier } from '../../src/note.js';
import { verifyConsistency } from '../../src/verify.js';
import { out, outJson, readInput, verifierKey } from '../options.js';
import { verifyingClient } from './checkpoint.js';

export interface VerifyConsistencyOptions {
  url?: string;
  old?: number;
  new?: number;
  oldCheckpoint?: string;
  checkpoint?: string;
  proof?: string;
  vkey?: string;
  policy?: string;
  json?: boolean;
}

interface Verified {
  origin: string;
  oldSize: number;
  oldRoot: Uint8Array;
  size: number;
  root: Uint8Array;
  proof: Uint8Array[];
  oldSigned: string;
  signed: string;
}

function report(v: Verified, json: boolean | undefined): void {
  const [oldRoot, root] = [toHex(v.oldRoot), toHex(v.root)];
  if (json) {
    outJson({
      verified: true,
      origin: v.origin,
      old_size: v.oldSize,
      old_root_hash: oldRoot,
      tree_size: v.size,
      root_hash: root,
      consistency_proof: v.proof.map(toHex),
      old_checkpoint: v.oldSigned,
      checkpoint: v.signed,
    });
    return;
  }
  out(`verified: ${v.origin} at tree size ${v.size} (root ${root})`);
  out(`extends tree size ${v.oldSize} (root ${oldRoot})`);
}

function damaged(path: string, reason: string, cause?: unknown): VerificationError {
  return new VerificationError('invalid_proof', `${path}: ${reason}`, { cause });
}

/** Parses one proof line: a 32-byte hash as 64 hex digits or as base64. */
function parseHashLine(line: string, n: number, path: string): Uint8Array {
  let hash: Uint8Array;
  try {
    hash = /^[0-9a-fA-F]{64}$/.test(line) ? fromHex(line) : fromBase64(line);
  } catch (cause) {
    throw damaged(path, `line ${n} is neither hex nor base64`, cause);
  }
  if (hash.length !== HASH_SIZE) {
    throw damaged(path, `line ${n} contains ${hash.length} bytes, expected ${HASH_SIZE}`);
  }
  return hash;
}

/** Reads a proof file of one hash per line. A final newline and trailing empty lines are allowed. */
function readProof(path: string): Uint8Array[] {
  const lines = readText(path, 'proof file').split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.map((line, i) => parseHashLine(line.trim(), i + 1, path));
}

function readText(path: string, what: string): string {
  const bytes = readInput(path, what);
  try {
    return fromUtf8(bytes, `${what} ${path}`);
  } catch (cause) {
    throw damaged(path, 'not valid UTF-8', cause);
  }
}

function openFile(path: string, verifier: Verifier): SignedCheckpoint {
  return openCheckpoint(readText(path, 'checkpoint file'), verifier);
}

function offline(opts: VerifyConsistencyOptions): Verified {
  const verifier = newVerifier(verifierKey(opts.vkey));
  const older = openFile(opts.oldCheckpoint!, verifier);
  const newer = openFile(opts.checkpoint!, verifier);
  if (opts.policy) {
    const policy = readPolicy(opts.policy);
    for (const cp of [older, newer]) openCheckpointWithPolicy(cp.signed, policy);
  }
  const proof = readProof(opts.proof!);
  const [o, n] = [older.checkpoint, newer.checkpoint];
  verifyConsistency(o.size, n.size, proof, o.root, n.root);
  return {
    origin: n.origin,
    oldSize: o.size,
    oldRoot: o.root,
    size: n.size,
    root: n.root,
    proof,
    oldSigned: older.signed,
    signed: newer.signed,
  };
}

async function online(opts: VerifyConsistencyOptions): Promise<Verified> {
  const client = verifyingClient(opts.url, opts.vkey, opts.policy);
  const v = await client.consistencyProof(opts.old!, opts.new);
  const { origin, size, root, signed } = v.checkpoint;
  const { size: oldSize, root: oldRoot, signed: oldSigned } = v.oldCheckpoint;
  return { origin, oldSize, oldRoot, size, root, proof: v.consistencyProof, oldSigned, signed };
}

function checkMode(opts: VerifyConsistencyOptions): 'online' | 'offline' {
  const files = [opts.oldCheckpoint, opts.checkpoint, opts.proof];
  const filesGiven = files.filter((f) => f !== undefined).length;
  if (filesGiven === 0) {
    if (opts.old === undefined) {
      throw new UsageError(
        'give --old N to verify online, or --old-checkpoint, --checkpoint and --proof files to verify offline',
      );
    }
    return 'online';
  }
  if (filesGiven !== files.length) {
    throw new UsageError(
      'offline verification needs all of --old-checkpoint, --checkpoint and --proof',
    );
  }
  if (opts.old !== undefined || opts.new !== undefined || opts.url !== undefined) {
    throw new UsageError('the offline files do not combine with --url, --old or --new');
  }
  return 'offline';
}

/** declog verify consistency: online with --old, offline with the three files. */
export async function verifyConsistencyCommand(opts: VerifyConsistencyOptions): Promise<void> {
  const mode = checkMode(opts);
  report(mode === 'offline' ? offline(opts) : await online(opts), opts.json);
}
