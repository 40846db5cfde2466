/**
 * declog verify inclusion: checks that an entry is in the log, online from
 * the ledger's proof or offline from a c2sp.org/tlog-proof file and the
 * entry's exact bytes (RFC 9162 section 2.1.3.2).
 */
import { bytesEqual, fromBase64, fromUtf8, toHex } from '../../src/encoding.js';
import { UsageError, VerificationError } from '../../src/errors.js';
import { leafHash } from '../../src/hash.js';
import { newVerifier } from '../../src/note.js';
import { verifyTlogProofWithPolicy } from '../../src/policy.js';
import { readPolicy } from './policy.js';
import { verifyTlogProof } from '../../src/tlog-proof.js';
import { out, outJson, readInput, usage, verifierKey } from '../options.js';
import { verifyingClient } from './checkpoint.js';

export interface VerifyInclusionOptions {
  url?: string;
  index?: number;
  treeSize?: number;
  proof?: string;
  entry?: string;
  entryBase64?: string;
  vkey?: string;
  policy?: string;
  json?: boolean;
}

interface Verified {
  origin: string;
  index: number;
  treeSize: number;
  leafHash: Uint8Array;
  root: Uint8Array;
}

function report(v: Verified, json: boolean | undefined): void {
  const leaf = toHex(v.leafHash);
  const root = toHex(v.root);
  if (json) {
    outJson({
      verified: true,
      origin: v.origin,
      index: v.index,
      tree_size: v.treeSize,
      leaf_hash: leaf,
      root_hash: root,
    });
    return;
  }
  out(
    `verified: entry ${v.index} (leaf hash ${leaf}) is in ${v.origin} at tree size ${v.treeSize} (root ${root})`,
  );
}

/** Reads the entry bytes of --entry FILE or --entry-base64 STRING. */
function entryBytes(opts: VerifyInclusionOptions): Uint8Array {
  if ((opts.entry === undefined) === (opts.entryBase64 === undefined)) {
    throw new UsageError(
      'offline verification needs exactly one of --entry FILE and --entry-base64 STRING',
    );
  }
  if (opts.entry !== undefined) return new Uint8Array(readInput(opts.entry, 'entry file'));
  return usage(() => fromBase64(opts.entryBase64!, '--entry-base64'));
}

async function online(opts: VerifyInclusionOptions): Promise<Verified> {
  const client = verifyingClient(opts.url, opts.vkey, opts.policy);
  const proof = await client.inclusionProof(opts.index!, opts.treeSize);
  const { leafHash: entryHash } = await client.entry(opts.index!);
  if (!bytesEqual(entryHash, proof.leafHash)) {
    throw new VerificationError(
      'entry_mismatch',
      `entry ${opts.index} has leaf hash ${toHex(entryHash)} but its proof is for ${toHex(proof.leafHash)}`,
    );
  }
  const { origin, root } = proof.checkpoint;
  return { origin, index: proof.index, treeSize: proof.treeSize, leafHash: proof.leafHash, root };
}

/** Reads a proof file. Bytes that are not UTF-8 fail verification like any other damage. */
function proofText(path: string): string {
  const bytes = readInput(path, 'proof file');
  try {
    return fromUtf8(bytes, `proof file ${path}`);
  } catch (cause) {
    throw new VerificationError('malformed_receipt', (cause as Error).message, { cause });
  }
}

function offline(opts: VerifyInclusionOptions): Verified {
  const verifier = newVerifier(verifierKey(opts.vkey));
  const entry = entryBytes(opts);
  const text = proofText(opts.proof!);
  const v = verifyTlogProof(text, entry, verifier);
  if (opts.policy) verifyTlogProofWithPolicy(text, entry, readPolicy(opts.policy));
  const { origin, size, root } = v.checkpoint;
  return { origin, index: v.index, treeSize: size, leafHash: leafHash(entry), root };
}

/** declog verify inclusion: online with --index, offline with --proof. */
export async function verifyInclusionCommand(opts: VerifyInclusionOptions): Promise<void> {
  const isOffline = opts.proof !== undefined;
  if (
    isOffline &&
    (opts.index !== undefined || opts.treeSize !== undefined || opts.url !== undefined)
  ) {
    throw new UsageError('--proof (offline) does not combine with --url, --index or --tree-size');
  }
  if (!isOffline && opts.index === undefined) {
    throw new UsageError(
      'give --index N to verify online, or --proof FILE with --entry FILE to verify offline',
    );
  }
  if (!isOffline && (opts.entry !== undefined || opts.entryBase64 !== undefined)) {
    throw new UsageError('--entry and --entry-base64 go with --proof (offline verification)');
  }
  report(isOffline ? offline(opts) : await online(opts), opts.json);
}
