/**
 * Typed errors with stable codes. The codes are API: the server maps them to
 * HTTP status codes, the CLI to exit codes, and metrics use them as labels.
 */

/** Every error code declog raises, grouped by the class that carries it. */
export const ErrorCodes = {
  input: [
    'invalid_argument',
    'invalid_number',
    'invalid_hex',
    'invalid_base64',
    'malformed_json',
    'malformed_cbor',
    'non_canonical',
    'invalid_decision',
    'entry_too_large',
    'body_too_large',
    'unsupported_media_type',
    'index_out_of_range',
    'duplicate_id',
    'size_out_of_range',
    'invalid_tile_path',
    'malformed_bundle',
  ],
  verification: [
    'malformed_note',
    'malformed_checkpoint',
    'malformed_key',
    'unknown_key',
    'bad_signature',
    'no_known_signature',
    'wrong_origin',
    'invalid_proof',
    'root_mismatch',
    'inconsistent_checkpoints',
    'rollback',
    'malformed_receipt',
    'entry_mismatch',
    'quorum_not_met',
    'rule_violation',
    'tree_size_conflict',
    'gate_check_failed',
  ],
  auth: ['missing_token', 'invalid_token'],
  notFound: ['not_found', 'checkpoint_not_found', 'entry_not_found'],
  storage: [
    'storage_failed',
    'corrupt_store',
    'key_file_permissions',
    'schema_too_new',
    'spool_full',
    'not_sequencer',
  ],
  network: ['network_error', 'server_error', 'timeout', 'budget_exceeded'],
  usage: ['usage'],
} as const;

type Group = keyof typeof ErrorCodes;
type CodeOf<G extends Group> = (typeof ErrorCodes)[G][number];
export type ErrorCode = CodeOf<Group>;

/** Base class of every error declog raises on purpose. */
export class DeclogError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad input from a caller: malformed bytes, a schema violation, a value out of range. */
export class InputError extends DeclogError {
  constructor(code: CodeOf<'input'>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A signature, proof or checkpoint that does not verify: evidence, never retried. */
export class VerificationError extends DeclogError {
  constructor(code: CodeOf<'verification'>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A missing or unknown bearer token. */
export class AuthError extends DeclogError {
  constructor(code: CodeOf<'auth'>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A checkpoint, entry or other object that does not exist (yet). */
export class NotFoundError extends DeclogError {
  constructor(code: CodeOf<'notFound'>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A failure of the store or of the files beside it. */
export class StorageError extends DeclogError {
  constructor(code: CodeOf<'storage'>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A ledger that could not be reached or answered with a server error. */
export class NetworkError extends DeclogError {
  constructor(code: CodeOf<'network'>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A command line that cannot be run as written. */
export class UsageError extends DeclogError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
  }
}
