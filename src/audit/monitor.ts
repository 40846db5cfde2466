/**
 * The monitor: reads every new entry in order, verifies the entries against
 * the signed checkpoint (the auditor recomputes their root), evaluates the
 * rules on each decision and turns each hit into an alert that stands as
 * evidence on its own: the entry's exact bytes, its inclusion proof
 * (RFC 9162 section 2.1.3) and the signed checkpoint it is proved against.
 */
import type { SignedCheckpoint } from '../checkpoint.js';
import { decisionToJSON, decodeDecision, type Decision } from '../decision.js';
import { toBase64, toHex } from '../encoding.js';
import { leafHash } from '../hash.js';
import { verifyInclusion } from '../verify.js';
import { Auditor, type AuditorOptions } from './auditor.js';
import type { RuleHit, RuleSet } from './rules.js';
import type { TreeState } from './state.js';

/** One alert, printed as one JSON line. */
export interface Alert {
  rule: string;
  kind: string;
  message: string;
  index: number;
  /** The decoded record, or null when the entry does not decode. */
  decision: Record<string, unknown> | null;
  /** Base64 of the entry's exact bytes. */
  entry: string;
  leaf_hash: string;
  /** Inclusion proof of the entry in `checkpoint`, as hex hashes. */
  inclusion_proof: string[];
  tree_size: number;
  /** The signed checkpoint the proof leads to. */
  checkpoint: string;
  /** Decision time, Unix milliseconds. */
  decision_time: number | null;
  detected_at: string;
  /** Time from the decision to this alert, in milliseconds. */
  detection_delay_ms: number | null;
}

export interface MonitorOptions extends Omit<AuditorOptions, 'onEntries'> {
  rules: RuleSet;
  /** Clock for the detection delay (default Date.now). */
  now?: () => number;
}

/** What one monitoring round did. */
export interface MonitorRound {
  checkpoint: SignedCheckpoint;
  state: TreeState;
  entries: number;
  alerts: number;
}

interface Pending {
  index: number;
  entry: Uint8Array;
  decision: Decision | undefined;
  hits: RuleHit[];
}

/** Inclusion proof requests in flight while building alerts. */
const PROOF_CONCURRENCY = 16;

/** Rule hit for an entry that the log serves but that does not decode as a decision. */
const MALFORMED: RuleHit = {
  rule: 'malformed-entry',
  kind: 'match',
  message: 'the entry is not a canonical decision record',
};

/** Follows one log with one rule set. */
export class Monitor {
  private readonly auditor: Auditor;
  private pending: Pending[] = [];

  constructor(private readonly options: MonitorOptions) {
    this.auditor = new Auditor({ ...options, onEntries: (first, e) => this.evaluate(first, e) });
  }

  /**
   * Reads the entries past `previous` up to the latest checkpoint, and
   * calls `onAlert` for each hit, in index order, once the entries are
   * proved to be the log's. Rejects like Auditor.audit.
   */
  async round(
    previous: TreeState | undefined,
    onAlert: (alert: Alert) => void | Promise<void>,
  ): Promise<MonitorRound> {
    this.options.rules.loadState(previous?.extra);
    this.pending = [];
    const result = await this.auditor.audit(previous);
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i += PROOF_CONCURRENCY) {
      const batch = pending.slice(i, i + PROOF_CONCURRENCY);
      const built = await Promise.all(batch.map((p) => this.alerts(p, result.checkpoint)));
      for (const alert of built.flat()) await onAlert(alert);
    }
    const state = { ...result.state, extra: this.options.rules.saveState() };
    return {
      checkpoint: result.checkpoint,
      state,
      entries: result.recomputed,
      alerts: count(pending),
    };
  }

  private evaluate(first: number, entries: Uint8Array[]): void {
    entries.forEach((entry, i) => {
      let decision: Decision | undefined;
      try {
        decision = decodeDecision(entry);
      } catch {
        this.pending.push({ index: first + i, entry, decision, hits: [MALFORMED] });
        return;
      }
      const hits = this.options.rules.evaluate(decision);
      if (hits.length > 0) this.pending.push({ index: first + i, entry, decision, hits });
    });
  }

  /**
   * Builds the alerts of one entry with its proof, verified against the
   * checkpoint. NOTE: each proof is one request to the log, so a round with
   * many alerts is bound by request latency, not by hashing.
   */
  private async alerts(p: Pending, signed: SignedCheckpoint): Promise<Alert[]> {
    const { size, root } = signed.checkpoint;
    const leaf = leafHash(p.entry);
    const proof = await this.options.fetcher.inclusion(p.index, size);
    verifyInclusion(leaf, p.index, size, proof, root);
    const now = (this.options.now ?? Date.now)();
    const time = p.decision?.time ?? null;
    return p.hits.map((hit) => ({
      rule: hit.rule,
      kind: hit.kind,
      message: hit.message,
      index: p.index,
      decision: p.decision ? decisionToJSON(p.decision) : null,
      entry: toBase64(p.entry),
      leaf_hash: toHex(leaf),
      inclusion_proof: proof.map(toHex),
      tree_size: size,
      checkpoint: signed.signed,
      decision_time: time,
      detected_at: new Date(now).toISOString(),
      detection_delay_ms: time === null ? null : now - time,
    }));
  }
}

function count(pending: Pending[]): number {
  return pending.reduce((n, p) => n + p.hits.length, 0);
}
