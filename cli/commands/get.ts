/**
 * declog get: prints one logged decision. With --vkey it also verifies the
 * entry's inclusion in the latest checkpoint, and can save the proof as a
 * c2sp.org/tlog-proof file with the entry's bytes beside it.
 */
import { writeFileSync } from 'node:fs';
import {
  DeclogReader,
  toTlogProof,
  type DeclogClient,
  type VerifiedInclusion,
} from '../../src/client.js';
import { decisionToJSON, type Decision } from '../../src/decision.js';
import { bytesEqual, toHex } from '../../src/encoding.js';
import { UsageError, VerificationError } from '../../src/errors.js';
import { ledgerUrl, out, outJson, usage } from '../options.js';
import { verifyingClient } from './checkpoint.js';

export interface GetOptions {
  url?: string;
  vkey?: string;
  policy?: string;
  json?: boolean;
  proofOut?: string;
  entryOut?: string;
}

function writeOutput(path: string, data: string | Uint8Array, what: string): void {
  try {
    writeFileSync(path, data);
  } catch (cause) {
    throw new UsageError(`cannot write ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

function printDecision(index: number, hash: Uint8Array, d: Decision): void {
  out(`index       ${index}`);
  out(`leaf_hash   ${toHex(hash)}`);
  for (const [field, value] of Object.entries(decisionToJSON(d))) {
    const shown =
      field === 'time' ? `${value} (${new Date(value as number).toISOString()})` : value;
    out(`${field.padEnd(11)} ${shown}`);
  }
}

/** Fetches and verifies the entry's inclusion proof in the latest checkpoint, for the entry's own leaf hash. */
async function prove(
  client: DeclogClient,
  index: number,
  hash: Uint8Array,
): Promise<VerifiedInclusion> {
  const proof = await client.inclusionProof(index);
  if (!bytesEqual(proof.leafHash, hash)) {
    throw new VerificationError(
      'entry_mismatch',
      `entry ${index} has leaf hash ${toHex(hash)} but its inclusion proof is for ${toHex(proof.leafHash)}`,
    );
  }
  return proof;
}

/** declog get INDEX [--url URL] [--vkey K] [--json] [--proof-out FILE] [--entry-out FILE] */
export async function get(index: number, opts: GetOptions): Promise<void> {
  if (opts.proofOut !== undefined && opts.vkey === undefined) {
    throw new UsageError('--proof-out needs --vkey: only a verified proof is saved');
  }
  const client = opts.vkey === undefined ? undefined : verifyingClient(opts.url, opts.vkey, opts.policy);
  const reader = client ?? usage(() => new DeclogReader({ url: ledgerUrl(opts.url) }));
  const e = await reader.entry(index);
  const proof = client && (await prove(client, index, e.leafHash));
  if (opts.entryOut !== undefined) writeOutput(opts.entryOut, e.entry, 'entry file');
  if (proof && opts.proofOut !== undefined)
    writeOutput(opts.proofOut, toTlogProof(proof), 'proof file');
  const verified = proof && { tree_size: proof.treeSize, root_hash: toHex(proof.checkpoint.root) };
  if (opts.json) {
    outJson({
      index,
      leaf_hash: toHex(e.leafHash),
      decision: decisionToJSON(e.decision),
      verified,
    });
    return;
  }
  printDecision(index, e.leafHash, e.decision);
  if (verified)
    out(`verified    included at tree size ${verified.tree_size} (root ${verified.root_hash})`);
}
