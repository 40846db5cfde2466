/**
 * The monitor: reads every new entry in order and verifies it against the
 * signed checkpoint (the auditor recomputes the root, a batch at a time).
 * Only then does it evaluate the rules on each decision. Each hit becomes an
 * alert that is evidence on its own: the entry's exact bytes, its
 * inclusion proof (RFC 9162 section 2.1.3) and the signed checkpoint it is
 * proved against. The proofs are built from the nodes the recomputation
 * completes, so an alert costs no request to the log.
 */
import type { SignedCheckpoint } from '../checkpoint.js';
import { decisionToJSON, decodeDecision, type Decision } from '../decision.js';
import { toBase64, toHex } from '../encoding.js';
import { leafHash } from '../hash.js';
import { verifyInclusion } from '../verify.js';
import { Auditor, type AuditorOptions, type ProvedBatch } from './auditor.js';
import type { RuleHit, RuleSet } from './rules.js';
import type { TreeState } from './state.js';
import { InclusionWitnesses } from './witness.js';

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

export interface MonitorOptions extends Omit<AuditorOptions, 'onProved' | 'onNode'> {
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
  /** Inclusion proof in the round's checkpoint, complete at the end of the round. */
  proof: Uint8Array[];
}

/** The hits and proofs of the round under way. */
interface Round {
  witnesses: InclusionWitnesses;
  pending: Pending[];
}

/** Rule hit for an entry that the log serves but that does not decode as a decision. */
const MALFORMED: RuleHit = {
  rule: 'malformed-entry',
  kind: 'match',
  message: 'the entry is not a canonical decision record',
};

/** Follows one log with one rule set. */
export class Monitor {
  private readonly auditor: Auditor;
  private current: Round = newRound();

  constructor(private readonly options: MonitorOptions) {
    this.auditor = new Auditor({
      ...options,
      onNode: (level, index, hash) => this.current.witnesses.node(level, index, hash),
      onProved: (batch) => this.evaluate(batch),
    });
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
    const round = newRound();
    this.current = round;
    let result;
    try {
      result = await this.auditor.audit(previous);
    } finally {
      this.current = newRound();
    }
    round.witnesses.finish(result.state.range);
    const { size, root } = result.checkpoint.checkpoint;
    for (const p of round.pending) {
      verifyInclusion(leafHash(p.entry), p.index, size, p.proof, root);
      for (const alert of this.alerts(p, result.checkpoint)) await onAlert(alert);
    }
    const state = { ...result.state, extra: this.options.rules.saveState() };
    return {
      checkpoint: result.checkpoint,
      state,
      entries: result.recomputed,
      alerts: count(round.pending),
    };
  }

  /** Evaluates the rules on one proved batch and starts the proof of each entry with a hit. */
  private evaluate({ first, entries, before, checkpoint }: ProvedBatch): void {
    const { pending, witnesses } = this.current;
    const { size } = checkpoint.checkpoint;
    entries.forEach((entry, i) => {
      let decision: Decision | undefined;
      try {
        decision = decodeDecision(entry);
      } catch {
        decision = undefined;
      }
      const hits = decision ? this.options.rules.evaluate(decision) : [MALFORMED];
      if (hits.length === 0) return;
      const proof = witnesses.track(first + i, size, before);
      pending.push({ index: first + i, entry, decision, hits, proof });
    });
    witnesses.forgetRecent();
  }

  /** Builds the alerts of one entry, whose proof has been verified against the checkpoint. */
  private alerts(p: Pending, signed: SignedCheckpoint): Alert[] {
    const { size } = signed.checkpoint;
    const leaf = leafHash(p.entry);
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
      inclusion_proof: p.proof.map(toHex),
      tree_size: size,
      checkpoint: signed.signed,
      decision_time: time,
      detected_at: new Date(now).toISOString(),
      detection_delay_ms: time === null ? null : now - time,
    }));
  }
}

function newRound(): Round {
  return { witnesses: new InclusionWitnesses(), pending: [] };
}

function count(pending: Pending[]): number {
  return pending.reduce((n, p) => n + p.hits.length, 0);
}
