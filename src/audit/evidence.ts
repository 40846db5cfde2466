/**
 * Evidence of a misbehaving log: two signed checkpoints that cannot both be
 * honest, and the proof that failed between them. Both notes carry the log's
 * signature, so a third party can check the evidence with the log key alone.
 */
import { toHex } from '../encoding.js';
import { VerificationError } from '../errors.js';
import type { SignedCheckpoint } from '../checkpoint.js';

/**
 * - rollback: the log served a smaller tree than one it signed before.
 * - fork: one tree size, two roots.
 * - inconsistent: the consistency proof between the two does not verify.
 * - entries_mismatch: the served entries do not hash to the signed root.
 */
export type EvidenceKind = 'rollback' | 'fork' | 'inconsistent' | 'entries_mismatch';

/** A checkpoint as it appears in evidence. */
export interface EvidenceCheckpoint {
  tree_size: number;
  root_hash: string;
  /** The signed note, verbatim. */
  checkpoint: string;
}

/** The JSON document written to an evidence file. */
export interface Evidence {
  type: 'declog-evidence/v1';
  kind: EvidenceKind;
  origin: string;
  detected_at: string;
  message: string;
  /** The checkpoint verified earlier. */
  trusted: EvidenceCheckpoint;
  /** The checkpoint that contradicts it (for entries_mismatch, the one the entries fail). */
  received: EvidenceCheckpoint;
  /** The consistency proof that failed, when one was served. */
  proof?: { old_size: number; new_size: number; consistency_proof: string[]; error: string };
  /** The log's own signed checkpoint at the trusted size, when it differs from the trusted one. */
  log_checkpoint_at_trusted_size?: EvidenceCheckpoint;
  /** The root recomputed from the served entries (entries_mismatch). */
  computed_root?: string;
}

/** A fork, rollback or inconsistency: the run must stop and keep the evidence. */
export class MisbehaviourError extends VerificationError {
  constructor(readonly evidence: Evidence) {
    const code = evidence.kind === 'rollback' ? 'rollback' : 'inconsistent_checkpoints';
    super(evidence.kind === 'entries_mismatch' ? 'root_mismatch' : code, evidence.message);
  }
}

/** Returns the evidence form of an opened checkpoint. */
export function evidenceCheckpoint(c: SignedCheckpoint): EvidenceCheckpoint {
  return {
    tree_size: c.checkpoint.size,
    root_hash: toHex(c.checkpoint.root),
    checkpoint: c.signed,
  };
}

/** Builds the evidence of `kind` between `trusted` and `received`. */
export function makeEvidence(
  kind: EvidenceKind,
  trusted: SignedCheckpoint,
  received: SignedCheckpoint,
  message: string,
  extra: Pick<Evidence, 'proof' | 'log_checkpoint_at_trusted_size' | 'computed_root'> = {},
): Evidence {
  return {
    type: 'declog-evidence/v1',
    kind,
    origin: received.checkpoint.origin,
    detected_at: new Date().toISOString(),
    message,
    trusted: evidenceCheckpoint(trusted),
    received: evidenceCheckpoint(received),
    ...extra,
  };
}
