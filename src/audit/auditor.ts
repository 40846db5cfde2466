/**
 * The auditor: checks that a log only ever grows. Each run opens the latest
 * signed checkpoint (c2sp.org/tlog-checkpoint) and counts its witness
 * cosignatures (c2sp.org/tlog-cosignature). It proves the checkpoint
 * consistent with the one of the previous run (RFC 9162 section 2.1.4.2).
 * Then it recomputes the tree from the entries not seen before (RFC 9162
 * section 2.1.1), so the first run recomputes the whole tree. A rollback, a
 * second root for one size or a failed proof raises MisbehaviourError
 * carrying the evidence.
 */
import { openCheckpoint, type SignedCheckpoint } from '../checkpoint.js';
import { bytesEqual, toHex } from '../encoding.js';
import { InputError, NotFoundError, VerificationError } from '../errors.js';
import { leafHash } from '../hash.js';
import { keyLabel, type Note, type Verifier } from '../note.js';
import { CompactRange, type NodeVisitor } from '../range.js';
import { verifyConsistency } from '../verify.js';
import { DEFAULT_CONCURRENCY, streamEntries } from './entry-stream.js';
import { proofSide, rootFromPrefix } from './range-proof.js';
import { evidenceCheckpoint, makeEvidence, MisbehaviourError } from './evidence.js';
import type { LogFetcher } from './log-fetcher.js';
import type { TreeState } from './state.js';

export interface AuditorOptions {
  fetcher: LogFetcher;
  /** The log's key. */
  verifier: Verifier;
  /** The log's origin line (default: the key name). */
  origin?: string;
  /** Witness cosignature verifiers. */
  witnesses?: Verifier[];
  /** Number of `witnesses` that must have cosigned each checkpoint (default 0). */
  quorum?: number;
  /** Entry bundle requests in flight (default 8). */
  concurrency?: number;
  /**
   * Receives the new entries in index order, a batch at a time, each batch
   * only once it is proved against the signed checkpoint.
   */
  onProved?: (batch: ProvedBatch) => void | Promise<void>;
  /** Entries per batch given to onProved (default 16384). */
  batchEntries?: number;
  /** Receives each node the recomputation completes, before its batch is proved. */
  onNode?: NodeVisitor;
  /** Called after each bundle with the entries recomputed so far and the total of this run. */
  onProgress?: (done: number, total: number) => void;
}

/** Default number of entries in a batch given to onProved. */
export const DEFAULT_BATCH_ENTRIES = 16384;

/** Entries [first, first + entries.length) of the tree of `checkpoint`, proved to be the log's. */
export interface ProvedBatch {
  first: number;
  entries: Uint8Array[];
  /** Compact range of [0, first). */
  before: CompactRange;
  checkpoint: SignedCheckpoint;
}

/** What one verified run found. */
export interface AuditResult {
  checkpoint: SignedCheckpoint;
  /** The state to save: only produced when every check passed. */
  state: TreeState;
  /** Tree size of the previous run, if any. */
  previousSize: number | undefined;
  /** Entries hashed in this run. */
  recomputed: number;
  /** Names of the witnesses whose cosignatures verified. */
  cosigners: string[];
}

/** Verifies one log, run after run. */
export class Auditor {
  constructor(private readonly options: AuditorOptions) {
    const quorum = options.quorum ?? 0;
    const count = options.witnesses?.length ?? 0;
    if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > count) {
      throw new VerificationError(
        'quorum_not_met',
        `quorum ${quorum} cannot be met by ${count} witness key(s)`,
      );
    }
    const batch = options.batchEntries;
    if (batch !== undefined && (!Number.isSafeInteger(batch) || batch < 1)) {
      throw new InputError(
        'invalid_argument',
        `batch of ${batch} entries is not a positive integer`,
      );
    }
  }

  /** Opens a signed checkpoint with the log key and the witness keys. */
  open(text: string): SignedCheckpoint {
    const { verifier, origin, witnesses } = this.options;
    return openCheckpoint(text, verifier, { origin, extra: witnesses });
  }

  /**
   * Runs one audit from `previous` (undefined on the first run). Resolves
   * with the new state, or rejects with MisbehaviourError, VerificationError
   * or NetworkError; the previous state is then still the one to keep.
   */
  async audit(previous?: TreeState): Promise<AuditResult> {
    const received = this.open(await this.options.fetcher.checkpoint());
    const cosigners = this.checkQuorum(received.note);
    const trusted = previous ? this.open(previous.checkpoint) : undefined;
    const range = previous?.range.clone() ?? CompactRange.empty();
    if (trusted && range.size !== trusted.checkpoint.size) {
      throw new VerificationError(
        'root_mismatch',
        `saved state covers ${range.size} entries but its checkpoint has tree size ${trusted.checkpoint.size}`,
      );
    }
    // The consistency proof is fetched while the first bundles are, and checked before any entry is used.
    const consistent = trusted ? this.checkConsistent(trusted, received) : Promise.resolve();
    const from = range.size;
    // A rollback or a fork at one size is reported first, because there is nothing to read.
    if (received.checkpoint.size <= from) await consistent;
    await this.recompute(range, received, trusted, consistent);
    return {
      checkpoint: received,
      state: { checkpoint: received.signed, range },
      previousSize: trusted?.checkpoint.size,
      recomputed: received.checkpoint.size - from,
      cosigners,
    };
  }

  private checkQuorum(note: Note): string[] {
    const witnesses = this.options.witnesses ?? [];
    const quorum = this.options.quorum ?? 0;
    const signed = witnesses.filter((w) =>
      note.sigs.some((s) => s.name === w.name && s.keyId === w.keyId),
    );
    if (signed.length < quorum) {
      throw new VerificationError(
        'quorum_not_met',
        `checkpoint cosigned by ${signed.length} of the ${witnesses.length} witnesses ` +
          `[${signed.map(keyLabel).join(', ')}], quorum is ${quorum}`,
      );
    }
    return signed.map((w) => w.name);
  }

  /** Raises MisbehaviourError unless `received` extends `trusted`. */
  private async checkConsistent(trusted: SignedCheckpoint, received: SignedCheckpoint) {
    const [t, r] = [trusted.checkpoint, received.checkpoint];
    if (r.size < t.size) {
      const message = `rollback: the log served tree size ${r.size} after signing tree size ${t.size}`;
      throw new MisbehaviourError(makeEvidence('rollback', trusted, received, message));
    }
    if (r.size === t.size) {
      if (bytesEqual(r.root, t.root)) return;
      const message = `fork: two signed checkpoints of tree size ${r.size} with roots ${toHex(t.root)} and ${toHex(r.root)}`;
      throw new MisbehaviourError(makeEvidence('fork', trusted, received, message));
    }
    if (t.size === 0) return;
    const served = await this.options.fetcher.consistency(t.size, r.size).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
      // The log keeps every checkpoint it signed, so denying this one contradicts its signature.
      const message = `fork: the log serves no consistency proof from tree size ${t.size}, which it signed, to ${r.size}: ${err.message}`;
      throw new MisbehaviourError(makeEvidence('inconsistent', trusted, received, message));
    });
    try {
      verifyConsistency(t.size, r.size, served.proof, t.root, r.root);
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      throw this.inconsistent(trusted, received, served.proof, served.oldCheckpoint, err);
    }
  }

  private inconsistent(
    trusted: SignedCheckpoint,
    received: SignedCheckpoint,
    proof: Uint8Array[],
    logOld: string,
    err: VerificationError,
  ): MisbehaviourError {
    const [t, r] = [trusted.checkpoint, received.checkpoint];
    const message = `fork: tree size ${r.size} (root ${toHex(r.root)}) does not extend tree size ${t.size} (root ${toHex(t.root)}): ${err.message}`;
    const proofJson = {
      old_size: t.size,
      new_size: r.size,
      consistency_proof: proof.map(toHex),
      error: err.message,
    };
    const other = this.tryOpen(logOld);
    const differs = other && !bytesEqual(other.checkpoint.root, t.root);
    return new MisbehaviourError(
      makeEvidence('inconsistent', trusted, received, message, {
        proof: proofJson,
        ...(differs ? { log_checkpoint_at_trusted_size: evidenceCheckpoint(other) } : {}),
      }),
    );
  }

  private tryOpen(text: string): SignedCheckpoint | undefined {
    try {
      return this.open(text);
    } catch {
      return undefined;
    }
  }

  /**
   * Appends the leaf hash of every entry in [range.size, checkpoint size) to
   * `range` and checks the root. With onProved, every batch is first checked
   * against the checkpoint on its own, so that no entry reaches onProved
   * unproved and no more than a batch of entries is held.
   */
  private async recompute(
    range: CompactRange,
    received: SignedCheckpoint,
    trusted: SignedCheckpoint | undefined,
    consistent: Promise<void>,
  ): Promise<void> {
    const { fetcher, concurrency, onProgress, onProved, onNode } = this.options;
    // A failed consistency check stops the stream at the next bundle instead of after the last one.
    let inconsistent = false;
    consistent.catch(() => (inconsistent = true));
    const limit = onProved ? (this.options.batchEntries ?? DEFAULT_BATCH_ENTRIES) : Infinity;
    const from = range.size;
    const size = received.checkpoint.size;
    const total = size - from;
    let before = range.clone();
    let batch: Uint8Array[] = [];
    const prove = async () => {
      await consistent;
      if (range.size < size) await this.checkPrefix(range, received, trusted);
      else this.checkRoot(range, received, trusted);
      const done = { first: before.size, entries: batch, before, checkpoint: received };
      [before, batch] = [range.clone(), []];
      await onProved?.(done);
    };
    onProgress?.(0, total);
    const sink = async (_first: number, entries: Uint8Array[]) => {
      if (inconsistent) await consistent;
      for (const entry of entries) range.append(leafHash(entry), onNode);
      if (onProved) for (const entry of entries) batch.push(entry);
      onProgress?.(range.size - from, total);
      if (batch.length >= limit) await prove();
    };
    await streamEntries(
      fetcher,
      { from, to: size, size },
      sink,
      concurrency ?? DEFAULT_CONCURRENCY,
    );
    await consistent;
    if (batch.length > 0) await prove();
    else this.checkRoot(range, received, trusted);
  }

  /**
   * Checks the entries [0, range.size) against the signed root before the
   * rest of the tree is read: their compact range and the right-hand
   * siblings of the inclusion proof of the last one must give the root.
   */
  private async checkPrefix(
    range: CompactRange,
    received: SignedCheckpoint,
    trusted: SignedCheckpoint | undefined,
  ): Promise<void> {
    const { size, root } = received.checkpoint;
    const last = range.size - 1;
    const proof = await this.options.fetcher.inclusion(last, size);
    const computed = rootFromPrefix(range, size, proofSide(last, size, proof, 'right'));
    if (bytesEqual(computed, root)) return;
    const message = `the entries served for [0, ${range.size}) and the inclusion proof of index ${last} in tree size ${size} give root ${toHex(computed)}, not the signed root ${toHex(root)}`;
    throw new MisbehaviourError(
      makeEvidence('entries_mismatch', trusted ?? received, received, message, {
        computed_root: toHex(computed),
      }),
    );
  }

  private checkRoot(range: CompactRange, received: SignedCheckpoint, trusted?: SignedCheckpoint) {
    const computed = range.root();
    if (bytesEqual(computed, received.checkpoint.root)) return;
    const message = `the entries served for tree size ${received.checkpoint.size} hash to root ${toHex(computed)}, not the signed root ${toHex(received.checkpoint.root)}`;
    throw new MisbehaviourError(
      makeEvidence('entries_mismatch', trusted ?? received, received, message, {
        computed_root: toHex(computed),
      }),
    );
  }
}
