/**
 * declog audit: verifies that a log only grows. Each round opens the latest
 * checkpoint, proves it consistent with the saved one and recomputes the
 * tree from the new entries; the state file is replaced only after every
 * check passed. A fork or rollback writes an evidence file and exits 1.
 */
import { resolve } from 'node:path';
import { Auditor, type AuditResult } from '../../src/audit/auditor.js';
import { MisbehaviourError } from '../../src/audit/evidence.js';
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { loadState, saveState, writeAtomic, type TreeState } from '../../src/audit/state.js';
import { newCosignatureVerifier } from '../../src/cosignature.js';
import { toHex } from '../../src/encoding.js';
import { NetworkError, UsageError, VerificationError } from '../../src/errors.js';
import { newVerifier } from '../../src/note.js';
import { ledgerUrl, note, out, outJson, usage, verifierKey } from '../options.js';
import { progressBar, sleep } from './progress-bar.js';

export interface AuditOptions {
  vkey?: string;
  state?: string;
  witness?: string[];
  quorum?: number;
  follow?: boolean;
  interval: number;
  evidence?: string;
  concurrency: number;
  json?: boolean;
}

function buildAuditor(url: string | undefined, opts: AuditOptions, onProgress?: Progress) {
  const verifier = newVerifier(verifierKey(opts.vkey));
  const witnesses = (opts.witness ?? []).map((k) => usage(() => newCosignatureVerifier(k)));
  const quorum = opts.quorum ?? witnesses.length;
  if (quorum > witnesses.length) {
    throw new UsageError(`--quorum ${quorum} needs at least ${quorum} --witness keys`);
  }
  const fetcher = usage(() => new LogFetcher({ url: ledgerUrl(url) }));
  return new Auditor({
    fetcher,
    verifier,
    witnesses,
    quorum,
    concurrency: opts.concurrency,
    onProgress,
  });
}

type Progress = (done: number, total: number) => void;

function report(result: AuditResult, seconds: number, json: boolean | undefined): void {
  const { checkpoint, previousSize, recomputed, cosigners } = result;
  const { origin, size, root } = checkpoint.checkpoint;
  const rate = seconds > 0 ? Math.round(recomputed / seconds) : 0;
  if (json) {
    return outJson({
      verified: true,
      origin,
      tree_size: size,
      root_hash: toHex(root),
      previous_size: previousSize ?? null,
      recomputed,
      entries_per_second: rate,
      cosigners,
      checkpoint: checkpoint.signed,
    });
  }
  const from =
    previousSize === undefined ? 'first audit' : `consistent with tree size ${previousSize}`;
  out(`verified ${origin} at tree size ${size} (root ${toHex(root)}): ${from}`);
  out(`recomputed ${recomputed} entries in ${seconds.toFixed(2)} s (${rate} entries/s)`);
  if (cosigners.length > 0) out(`cosigned by ${cosigners.join(', ')}`);
}

/** Writes the evidence, prints what was found and raises the error that exits 1. */
function reportMisbehaviour(err: MisbehaviourError, opts: AuditOptions): never {
  const path = resolve(opts.evidence ?? `declog-evidence-${Date.now()}.json`);
  writeAtomic(path, JSON.stringify(err.evidence, null, 2) + '\n');
  const { kind, message } = err.evidence;
  if (opts.json) outJson({ verified: false, kind, message, evidence: path });
  else out(`${kind.toUpperCase()} DETECTED: ${message}\nevidence written to ${path}`);
  throw new VerificationError(err.code as 'rollback', `${message} (evidence in ${path})`);
}

/** Runs one round: audit from `state`, save the new state, report. */
async function round(auditor: Auditor, state: TreeState | undefined, opts: AuditOptions) {
  const start = performance.now();
  const result = await auditor.audit(state);
  if (opts.state) saveState(opts.state, result.state);
  report(result, (performance.now() - start) / 1000, opts.json);
  return result.state;
}

/** declog audit [URL] --vkey K [--state FILE] [--witness K --quorum N] [--follow] */
export async function audit(url: string | undefined, opts: AuditOptions): Promise<void> {
  const bar = progressBar('recomputing');
  const auditor = buildAuditor(url, opts, bar.update);
  let state = opts.state ? loadState(opts.state) : undefined;
  try {
    for (;;) {
      try {
        state = await round(auditor, state, opts);
      } catch (err) {
        if (!opts.follow || !(err instanceof NetworkError)) throw err;
        note(`declog: ${err.message}; retrying in ${opts.interval} s`);
      } finally {
        bar.end();
      }
      if (!opts.follow) return;
      await sleep(opts.interval * 1000);
    }
  } catch (err) {
    if (err instanceof MisbehaviourError) reportMisbehaviour(err, opts);
    throw err;
  }
}
