/**
 * The public surface of the declog package: the verifying SDK client, the
 * decision record, and everything needed to verify notes, checkpoints,
 * proofs and offline receipts. Every module here is portable (no node:
 * imports), so the same verification runs in browsers. The server, the
 * store and the data folder are not part of it.
 */
export {
  CheckpointConflictError,
  DEFAULT_TIMEOUT_MS,
  DeclogClient,
  DeclogReader,
  toTlogProof,
  type AppendReceipt,
  type DeclogClientOptions,
  type DeclogReaderOptions,
  type DecisionHit,
  type DecisionQuery,
  type SearchResult,
  type VerifiedCheckpoint,
  type VerifiedConsistency,
  type VerifiedEntry,
  type VerifiedInclusion,
} from './client.js';
export { type RecordInput, type RecorderMetrics, type RecorderOptions } from './client/recorder.js';
export { HttpStatusError, type BackoffOptions } from './client/retry.js';
export {
  AuthError,
  DeclogError,
  ErrorCodes,
  InputError,
  NetworkError,
  NotFoundError,
  StorageError,
  UsageError,
  VerificationError,
  type ErrorCode,
} from './errors.js';
export {
  DECISION_VERSION,
  MAX_ENTRY_SIZE,
  REASONS,
  decisionFromJSON,
  decisionToJSON,
  decodeDecision,
  encodeDecision,
  type Decision,
  type DecisionInput,
} from './decision.js';
export {
  keyLabel,
  newVerifier,
  openNote,
  parseNote,
  type Note,
  type NoteSignature,
  type Verifier,
} from './note.js';
export {
  cosignatureTimestamp,
  newCosignatureVerifier,
  type CosignatureVerifier,
} from './cosignature.js';
export {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  type Checkpoint,
  type SignedCheckpoint,
} from './checkpoint.js';
export {
  openCheckpointWithPolicy,
  parsePolicy,
  quorumSatisfied,
  verifyTlogProofWithPolicy,
  type Policy,
  type PolicyCheckpoint,
} from './policy.js';
export { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './verify.js';
export {
  TLOG_PROOF_HEADER,
  formatTlogProof,
  parseTlogProof,
  verifyTlogProof,
  type TlogProof,
  type VerifiedTlogProof,
} from './tlog-proof.js';
export { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from './hash.js';
export { fromBase64, fromHex, toBase64, toHex } from './encoding.js';
export {
  createTokenGate,
  type GateResult,
  type TokenGate,
  type TokenGateOptions,
  type TrustConfig,
} from './token-gate.js';
