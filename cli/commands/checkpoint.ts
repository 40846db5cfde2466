/** declog checkpoint: fetches the latest checkpoint and verifies its signature and origin. */
import { DeclogClient, type VerifiedCheckpoint } from '../../src/client.js';
import { toBase64, toHex } from '../../src/encoding.js';
import { ledgerUrl, out, outJson, usage, verifierKey } from '../options.js';
import { readPolicy } from './policy.js';

export interface CheckpointOptions {
  vkey?: string;
  /** c2sp.org/tlog-policy file whose witness quorum the checkpoint must carry. */
  policy?: string;
  json?: boolean;
}

/**
 * Builds a verifying client from --url and --vkey. Each run starts with no
 * trusted checkpoint, so a rollback is only detected within one run.
 */
// TODO: keep the newest verified checkpoint in a state file to detect rollbacks between runs.
export function verifyingClient(
  url: string | undefined,
  vkey: string | undefined,
  policyFile?: string,
): DeclogClient {
  const key = verifierKey(vkey);
  const policy = policyFile === undefined ? undefined : readPolicy(policyFile);
  return usage(() => new DeclogClient({ url: ledgerUrl(url), verifierKey: key, policy }));
}

/** Returns the JSON form of a verified checkpoint. */
export function checkpointJson(cp: VerifiedCheckpoint) {
  return {
    origin: cp.origin,
    tree_size: cp.size,
    root_hash: toHex(cp.root),
    checkpoint: cp.signed,
  };
}

/** declog checkpoint [URL] --vkey K [--json] */
export async function checkpoint(url: string | undefined, opts: CheckpointOptions): Promise<void> {
  const cp = await verifyingClient(url, opts.vkey, opts.policy).checkpoint();
  if (opts.json) return outJson(checkpointJson(cp));
  out(`verified checkpoint of ${cp.origin}`);
  out(`tree size  ${cp.size}`);
  out(`root hash  ${toHex(cp.root)} (base64 ${toBase64(cp.root)})`);
}
