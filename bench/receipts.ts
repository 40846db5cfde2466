/**
 * Checks what the server returned during a benchmark: each sampled append
 * receipt and inclusion proof must verify against a checkpoint signed by the
 * log's key, for the leaf hash of the decision that was sent.
 */
import { openCheckpoint } from '../src/checkpoint.js';
import { bytesEqual, fromHex, toHex } from '../src/encoding.js';
import { newVerifier, type Verifier } from '../src/note.js';
import { verifyInclusion } from '../src/verify.js';

interface ProvedEntry {
  index: number;
  leaf_hash: string;
  inclusion_proof: string[];
}

interface AppendResponse {
  checkpoint: string;
  tree_size: number;
  entries: (ProvedEntry & { duplicate: boolean })[];
}

interface ProofResponse extends ProvedEntry {
  tree_size: number;
  checkpoint: string;
}

/** Verifies sampled responses against one log key. */
export class ReceiptChecker {
  private readonly log: Verifier;
  checked = 0;

  constructor(verifierKey: string) {
    this.log = newVerifier(verifierKey);
  }

  /** Verifies one entry's leaf hash and its proof against a signed checkpoint of `size`. */
  private verifyEntry(entry: ProvedEntry, signed: string, size: number, expected: Uint8Array) {
    const { checkpoint } = openCheckpoint(signed, this.log);
    if (checkpoint.size !== size) {
      throw new Error(`tree_size ${size} differs from the checkpoint's size ${checkpoint.size}`);
    }
    const hash = fromHex(entry.leaf_hash, 'leaf_hash');
    if (!bytesEqual(hash, expected)) {
      throw new Error(
        `entry ${entry.index} has leaf hash ${entry.leaf_hash}, expected ${toHex(expected)}`,
      );
    }
    const proof = entry.inclusion_proof.map((h) => fromHex(h, 'inclusion_proof'));
    verifyInclusion(hash, entry.index, checkpoint.size, proof, checkpoint.root);
    this.checked++;
  }

  /**
   * Verifies every receipt of an append response; `expected[i]` is the leaf
   * hash of the i-th decision sent. A duplicate receipt fails the check,
   * because each benchmark decision is new.
   */
  checkAppend(body: string, expected: Uint8Array[]): void {
    const response = JSON.parse(body) as AppendResponse;
    if (response.entries.length !== expected.length) {
      throw new Error(`${response.entries.length} receipts for ${expected.length} decisions`);
    }
    response.entries.forEach((entry, i) => {
      if (entry.duplicate) throw new Error(`decision ${i} came back as a duplicate`);
      this.verifyEntry(entry, response.checkpoint, response.tree_size, expected[i]!);
    });
  }

  /** Verifies an inclusion proof response for entry `index` with leaf hash `expected`. */
  checkProof(body: string, index: number, expected: Uint8Array): void {
    const response = JSON.parse(body) as ProofResponse;
    if (response.index !== index)
      throw new Error(`proof of index ${response.index}, expected ${index}`);
    this.verifyEntry(response, response.checkpoint, response.tree_size, expected);
  }
}
