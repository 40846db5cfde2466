/**
 * declog verify-bundle: verifies an export bundle offline, with the log key
 * and no network, and prints what it proves.
 */
import { verifyBundle, type BundleReport } from '../../src/audit/bundle.js';
import { toHex } from '../../src/encoding.js';
import { newVerifier } from '../../src/note.js';
import { out, outJson, readInput, verifierKey } from '../options.js';

export interface VerifyBundleOptions {
  vkey?: string;
  json?: boolean;
}

function claim(r: BundleReport): string {
  const at = `the log ${r.checkpoint.origin} at tree size ${r.checkpoint.size}`;
  if (r.range) {
    return `entries ${r.range.start} to ${r.range.end - 1} are exactly the ${r.entries.length} entries of ${at}; none is left out`;
  }
  const filter = JSON.stringify(r.filter ?? {});
  return `${r.entries.length} decisions matching ${filter} are in ${at}; the bundle does not prove that no other decision matches`;
}

/** declog verify-bundle FILE --vkey K [--json] */
export async function verifyBundleCommand(file: string, opts: VerifyBundleOptions): Promise<void> {
  const verifier = newVerifier(verifierKey(opts.vkey));
  const report = verifyBundle(readInput(file, 'bundle'), verifier);
  if (opts.json) {
    return outJson({
      verified: true,
      kind: report.kind,
      origin: report.checkpoint.origin,
      tree_size: report.checkpoint.size,
      root_hash: toHex(report.checkpoint.root),
      filter: report.filter,
      range: report.range,
      indexes: report.entries.map((e) => e.index),
      proves: claim(report),
      checkpoint: report.signed,
    });
  }
  out(`verified ${file}: ${claim(report)}`);
  out(`root ${toHex(report.checkpoint.root)}`);
}
