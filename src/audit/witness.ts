/**
 * Inclusion proofs (RFC 9162 section 2.1.3) built from the nodes that a
 * recomputation of the tree completes, so that a reader who hashes every
 * entry anyway can prove a few chosen entries without requests to the log.
 *
 * A leaf's left-hand siblings are the subtrees of [0, index). Each is a
 * subtree of the compact range at the start of the batch that contains the
 * leaf, or was completed within that batch. Its right-hand siblings are
 * completed later, except the last one of a tree whose size is not a power
 * of two, which is folded from the final compact range.
 */
import { VerificationError } from '../errors.js';
import { nodeHash } from '../hash.js';
import { CompactRange, rangeNodes } from '../range.js';

/** A proof being filled in; `hashes` is complete once `missing` is 0. */
interface Witness {
  index: number;
  hashes: (Uint8Array | undefined)[];
  missing: number;
}

/** The sibling at `slot` of `witness`: the subtree of [start, size) at `level`, not a perfect one. */
interface Tail {
  witness: Witness;
  slot: number;
  level: number;
}

/** Collects the inclusion proofs of chosen leaves in one tree. */
export class InclusionWitnesses {
  /**
   * Nodes completed since the last forgetRecent(), by level. The nodes of a
   * level are completed left to right, so each level is a run from `first`.
   */
  private recent: { first: number; hashes: Uint8Array[] }[] = [];
  /** Perfect right-hand siblings not completed yet, by level, then by index. */
  private wanted: Map<number, { witness: Witness; slot: number }[]>[] = [];
  private tails: Tail[] = [];
  private witnesses: Witness[] = [];
  private size: number | undefined;

  /** Records a node the recomputation completed (a CompactRange.append visitor). */
  readonly node = (level: number, index: number, hash: Uint8Array): void => {
    const run = (this.recent[level] ??= { first: index, hashes: [] });
    if (run.first + run.hashes.length !== index) [run.first, run.hashes] = [index, []];
    run.hashes.push(hash);
    const waiting = this.wanted[level];
    if (waiting === undefined || waiting.size === 0) return;
    const slots = waiting.get(index);
    if (slots === undefined) return;
    waiting.delete(index);
    for (const { witness, slot } of slots) {
      witness.hashes[slot] = hash;
      witness.missing--;
    }
  };

  /**
   * Starts the proof of leaf `index` in the tree of `size` leaves. The leaf
   * must lie in the current batch: `before` is the compact range at the
   * batch start, and every node completed since then has been passed to
   * node(). Every proof is of the same tree.
   */
  track(index: number, size: number, before: CompactRange): Uint8Array[] {
    if (this.size !== undefined && this.size !== size) {
      throw new VerificationError(
        'invalid_proof',
        `proofs of tree sizes ${this.size} and ${size} mixed`,
      );
    }
    this.size = size;
    // The compact range contains at most one subtree per level.
    const frontier = new Map<number, { index: number; hash: Uint8Array }>();
    const hashes = before.hashes;
    rangeNodes(before.size).forEach((id, i) => frontier.set(id.level, { ...id, hash: hashes[i]! }));
    const witness: Witness = { index, hashes: [], missing: 0 };
    const known = (level: number, at: number) => {
      const run = this.recent[level];
      return run && at >= run.first ? run.hashes[at - run.first] : undefined;
    };
    // The node walk of RFC 9162 section 2.1.3.2: fn is the node on the path, sn the last node of its level.
    let [fn, sn, level] = [index, size - 1, 0];
    while (sn > 0) {
      const slot = witness.hashes.length;
      if (fn % 2 === 1 || fn === sn) {
        while (fn % 2 === 0 && fn !== 0) [fn, sn, level] = [fn / 2, Math.floor(sn / 2), level + 1];
        const old = frontier.get(level);
        const left = known(level, fn - 1) ?? (old?.index === fn - 1 ? old.hash : undefined);
        if (left === undefined) throw missingNode(index, level, fn - 1);
        witness.hashes.push(left);
      } else if ((fn + 2) * 2 ** level <= size) {
        const right = known(level, fn + 1);
        witness.hashes.push(right);
        if (right === undefined) {
          witness.missing++;
          const waiting = (this.wanted[level] ??= new Map());
          const slots = waiting.get(fn + 1) ?? [];
          slots.push({ witness, slot });
          waiting.set(fn + 1, slots);
        }
      } else {
        witness.hashes.push(undefined);
        witness.missing++;
        this.tails.push({ witness, slot, level });
      }
      [fn, sn, level] = [Math.floor(fn / 2), Math.floor(sn / 2), level + 1];
    }
    this.witnesses.push(witness);
    return witness.hashes as Uint8Array[];
  }

  /** Drops the nodes of the batch just handled; the ones still wanted are kept by their proofs. */
  forgetRecent(): void {
    this.recent = [];
  }

  /**
   * Fills the siblings that are not perfect subtrees from `range`, the
   * compact range of the whole tree, and checks that every proof is complete.
   */
  finish(range: CompactRange): void {
    if (this.size !== undefined && range.size !== this.size) {
      throw new VerificationError(
        'invalid_proof',
        `range of ${range.size} entries given for tree size ${this.size}`,
      );
    }
    const ids = rangeNodes(range.size);
    const hashes = range.hashes;
    for (const { witness, slot, level } of this.tails) {
      // The subtrees below `level` cover [start, size) exactly; fold them from the right.
      let fold: Uint8Array | undefined;
      for (let i = ids.length - 1; i >= 0 && ids[i]!.level < level; i--) {
        fold = fold === undefined ? hashes[i]! : nodeHash(hashes[i]!, fold);
      }
      witness.hashes[slot] = fold;
      witness.missing--;
    }
    this.tails = [];
    for (const w of this.witnesses) {
      if (w.missing !== 0 || w.hashes.some((h) => h === undefined)) {
        throw new VerificationError(
          'invalid_proof',
          `inclusion proof of index ${w.index} in tree size ${range.size} is incomplete`,
        );
      }
    }
  }
}

function missingNode(index: number, level: number, at: number): VerificationError {
  return new VerificationError(
    'invalid_proof',
    `inclusion proof of index ${index}: node ${at} at level ${level} was not recomputed`,
  );
}
