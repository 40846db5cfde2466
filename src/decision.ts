/**
 * The decision record: one log entry, one token-validation decision.
 *
 * An entry is a CBOR map (RFC 8949) in the core deterministic encoding of
 * RFC 8949 section 4.2.1. Its text keys are sorted by the bytes of their
 * encodings (shorter keys first, then bytewise). Integers and lengths take
 * their shortest form, and lengths are definite. It has no floats, no tags
 * and no duplicate keys, and absent optional fields are omitted, never null.
 * `encodeDecision` is the only way to produce an entry, and `decodeDecision`
 * accepts only bytes that re-encode to themselves, so each decision has
 * exactly one entry.
 */
import { Decoder, Encoder, FLOAT32_OPTIONS } from 'cbor-x';
import { InputError } from './errors.js';
import { bytesEqual, fromHex, toHex, utf8 } from './encoding.js';

export const DECISION_VERSION = 1;

/** Maximum size of an encoded entry, in bytes. */
export const MAX_ENTRY_SIZE = 16384;

/** Reason codes with a fixed meaning. Any other reason must be an `x-` custom code. */
export const REASONS: readonly string[] = Object.freeze([
  'ok',
  'unknown_kid',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'issuer_not_allowed',
  'audience_mismatch',
  'key_domain_mismatch',
  'tenant_mismatch',
  'malformed',
]);

/** One decision as stored in the log. */
export interface Decision {
  v: 1;
  id: string;
  time: number;
  decision: 'accept' | 'reject';
  reason: string;
  iss: string;
  aud: string;
  key_domain: string;
  kid: string;
  alg?: string;
  tenant?: string;
  rp: string;
  validator: string;
  policy?: string;
  token_hash?: Uint8Array;
}

/** Fields that a validator submits: all but `validator`, which the ledger sets, and with `v` optional. */
export type DecisionInput = Omit<Decision, 'validator' | 'v'> & { v?: 1 };

type Field = keyof Decision;

/** Wire names in the order of the schema table, which JSON output follows. */
const TABLE_ORDER: readonly Field[] = [
  'v',
  'id',
  'time',
  'decision',
  'reason',
  'iss',
  'aud',
  'key_domain',
  'kid',
  'alg',
  'tenant',
  'rp',
  'validator',
  'policy',
  'token_hash',
];

/**
 * Wire names in RFC 8949 section 4.2.1 order. Every key is ASCII text shorter
 * than 24 bytes, so it encodes as one header byte 0x60 + length and then its
 * characters. Bytewise order is therefore by length first, then alphabetical.
 */
export const CBOR_KEY_ORDER: readonly Field[] = [
  'v',
  'id',
  'rp',
  'alg',
  'aud',
  'iss',
  'kid',
  'time',
  'policy',
  'reason',
  'tenant',
  'decision',
  'validator',
  'key_domain',
  'token_hash',
];

const OPTIONAL: ReadonlySet<Field> = new Set<Field>(['alg', 'tenant', 'policy', 'token_hash']);
const FIELDS: ReadonlySet<string> = new Set<string>(TABLE_ORDER);

const MAX_TEXT_BYTES = 1024;
const MAX_VALIDATOR_BYTES = 128;
const MAX_REASON_CHARS = 64;
const TOKEN_HASH_SIZE = 32;
const MAX_UINT32 = 0xffffffff;

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const KEY_DOMAIN_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const CUSTOM_REASON_PATTERN = /^x-[a-z0-9_-]+$/;
const HASH_HEX_PATTERN = /^[0-9a-f]{64}$/;
/**
 * C0 and C1 controls and DEL, lone surrogates, and U+FFFD. Decoders (cbor-x,
 * TextDecoder) put U+FFFD in place of invalid UTF-8, so rejecting it rejects
 * bad bytes in a body. NOTE: a genuine U+FFFD in a claim is rejected too.
 */
const BAD_TEXT_PATTERN = /[\p{Cc}\p{Cs}\uFFFD]/u;

/** Origin of a value, which decides how time, token_hash and undefined fields are read. */
interface Source {
  /** Form of token_hash: 64 lowercase hex characters (JSON) or 32 bytes (CBOR, records). */
  hashAs: 'hex' | 'bytes';
  /** Whether an unsigned integer may arrive as a bigint (cbor-x decodes 0x1b as one). */
  bigints: boolean;
  /** Whether a key holding `undefined` counts as absent (records built in code). */
  undefinedIsAbsent: boolean;
}

const JSON_BODY: Source = {
  hashAs: 'hex',
  bigints: false,
  undefinedIsAbsent: false,
};
const CBOR_BODY: Source = {
  hashAs: 'bytes',
  bigints: true,
  undefinedIsAbsent: false,
};
const RECORD: Source = {
  hashAs: 'bytes',
  bigints: false,
  undefinedIsAbsent: true,
};
const ENTRY: Source = {
  hashAs: 'bytes',
  bigints: true,
  undefinedIsAbsent: false,
};

/**
 * Encoder whose output is canonical for decision maps (checked against cbor-x
 * 1.6.9). Plain objects become maps with a shortest-form count
 * (variableMapSize) in insertion order. Uint8Array becomes an untagged byte
 * string, strings get their shortest length form, and numbers up to 2^32-1
 * become shortest uints. Larger integers are passed as bigint, which cbor-x
 * writes as 0x1b and 8 bytes, because it writes such a number as a float64.
 */
const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
  useFloat32: FLOAT32_OPTIONS.NEVER,
  alwaysUseFloat: false,
  pack: false,
  bundleStrings: false,
  structuredClone: false,
  useSelfDescribedHeader: false,
  useToJSON: false,
});

/** Decoder for entries. It returns maps as Map, so non-text keys stay visible instead of becoming strings. */
const entryDecoder = new Decoder({ useRecords: false, mapsAsObjects: false });

/**
 * Decoder that returns maps as plain objects, like JSON.parse: for request
 * bodies, and for entries the ledger wrote, whose keys were checked when they
 * were appended (1.7 times faster than decoding them as Maps).
 */
const objectDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/**
 * Validates an untrusted JSON-shaped value (token_hash as 64 lowercase hex
 * characters) and stamps the validator. A body that contains a `validator`
 * field is rejected, because the ledger never takes it from the body.
 * Throws InputError 'invalid_decision' naming the field and the rule broken,
 * or 'entry_too_large' when the encoding exceeds MAX_ENTRY_SIZE bytes.
 */
export function decisionFromJSON(value: unknown, validator: string): Decision {
  return fromSubmitted(value, validator, JSON_BODY, undefined).decision;
}

/** Validates a value decoded from an application/cbor body (token_hash as bytes), like decisionFromJSON. */
export function decisionFromCBORValue(value: unknown, validator: string): Decision {
  return fromSubmitted(value, validator, CBOR_BODY, undefined).decision;
}

/** A validated decision with its canonical entry, so the entry is encoded once. */
export interface SubmittedDecision {
  decision: Decision;
  entry: Uint8Array;
}

/**
 * Holds the entries of one request in shared buffers, so that a request of
 * many decisions makes a few allocations outside the JavaScript heap instead
 * of one per decision. Each entry is a view of its own bytes in a chunk.
 */
export class EntryBuffer {
  private chunk: Uint8Array;
  private used = 0;

  /** `chunkBytes` is the size of each chunk, such as the request body's. */
  constructor(private readonly chunkBytes: number) {
    this.chunk = new Uint8Array(Math.max(1, chunkBytes));
  }

  /** Returns a copy of `bytes` in the current chunk, or in a new one when it is full. */
  copy(bytes: Uint8Array): Uint8Array {
    if (this.used + bytes.length > this.chunk.length) {
      this.chunk = new Uint8Array(Math.max(this.chunkBytes, bytes.length));
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + bytes.length);
    out.set(bytes);
    this.used += bytes.length;
    return out;
  }
}

/** Like decisionFromJSON, and also returns the entry bytes, copied into `into` when given. */
export function submittedFromJSON(
  value: unknown,
  validator: string,
  into?: EntryBuffer,
): SubmittedDecision {
  return fromSubmitted(value, validator, JSON_BODY, into);
}

/** Like decisionFromCBORValue, and also returns the entry bytes, copied into `into` when given. */
export function submittedFromCBORValue(
  value: unknown,
  validator: string,
  into?: EntryBuffer,
): SubmittedDecision {
  return fromSubmitted(value, validator, CBOR_BODY, into);
}

/** Converts the decision to a JSON-ready object with token_hash as lowercase hex. */
export function decisionToJSON(d: Decision): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of TABLE_ORDER) {
    const value = d[field];
    if (value === undefined) continue;
    out[field] = value instanceof Uint8Array ? toHex(value) : value;
  }
  return out;
}

/** Validates the decision and returns its canonical CBOR entry (RFC 8949 section 4.2.1). */
export function encodeDecision(d: Decision): Uint8Array {
  const checked = parseFields(recordFields(d, 'decision'), RECORD);
  return encodeChecked(checked);
}

/**
 * Decodes an entry. Throws InputError 'entry_too_large' past MAX_ENTRY_SIZE,
 * 'malformed_cbor' when the bytes are not exactly one CBOR item,
 * 'invalid_decision' when the schema is broken, and 'non_canonical' when the
 * bytes differ from what encodeDecision returns for the decoded decision.
 */
export function decodeDecision(bytes: Uint8Array): Decision {
  requireBytes(bytes, 'entry');
  if (bytes.length > MAX_ENTRY_SIZE) throw tooLarge(bytes.length);
  const item = decodeWith(entryDecoder, bytes, 'entry');
  const d = parseFields(recordFields(item, 'entry'), ENTRY);
  const canonical = encodeChecked(d);
  if (!bytesEqual(canonical, bytes)) throw notCanonical(firstDifference(canonical, bytes));
  return d;
}

/**
 * Decodes an entry that the ledger wrote and checked when it was appended,
 * without decodeDecision's scan, schema checks and canonical re-encoding:
 * for rebuilding the search index from the log. Throws InputError
 * 'malformed_cbor' when the bytes are not one CBOR map.
 */
export function decodeLoggedDecision(bytes: Uint8Array): Decision {
  let item: unknown;
  try {
    item = objectDecoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InputError('malformed_cbor', `malformed CBOR entry: ${detail}`, { cause });
  }
  if (!isPlainObject(item)) {
    throw new InputError('malformed_cbor', `CBOR entry must be a map, got ${describe(item)}`);
  }
  // Times past 2^32 - 1 are written as 64-bit integers, which decode as bigint.
  if (typeof item.time === 'bigint') item.time = Number(item.time);
  return item as unknown as Decision;
}

/**
 * Decodes an application/cbor request body: one decision map, or a map
 * {"decisions": [maps]}. Trailing bytes, duplicate map keys, tags other than
 * 64, indefinite lengths and anything cbor-x cannot decode raise InputError
 * 'malformed_cbor'.
 * A top level that is not a map raises 'invalid_decision'. The caller checks
 * each decision with decisionFromCBORValue.
 */
export function decodeCBORBody(bytes: Uint8Array): unknown {
  requireBytes(bytes, 'body');
  const item = decodeWith(objectDecoder, bytes, 'body');
  if (!isPlainObject(item)) {
    throw invalid(
      `CBOR body must be a map (a decision or {"decisions": [...]}), got ${describe(item)}`,
    );
  }
  return item;
}

function fromSubmitted(
  value: unknown,
  validator: string,
  source: Source,
  into: EntryBuffer | undefined,
): SubmittedDecision {
  const fields = recordFields(value, 'decision');
  if (fields.validator !== ABSENT) {
    throw invalid(
      'field "validator": is set by the ledger from the authenticated caller, never sent',
    );
  }
  fields.validator = validator;
  if (fields.v === ABSENT) fields.v = DECISION_VERSION;
  const decision = parseFields(fields, source);
  return { decision, entry: encodeChecked(decision, into) };
}

function requireBytes(bytes: unknown, subject: string): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new InputError('malformed_cbor', `CBOR ${subject} must be bytes, got ${describe(bytes)}`);
  }
}

function decodeWith(decoder: Decoder, bytes: Uint8Array, subject: 'entry' | 'body'): unknown {
  try {
    scanItems(bytes);
    // A fresh view: cbor-x caches a DataView as a property of the array it is given.
    return decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch (cause) {
    // Well-formed CBOR that declog never writes is a non-canonical entry.
    if (cause instanceof ScanError && cause.kind === 'disallowed' && subject === 'entry') {
      throw notCanonical(cause.message);
    }
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InputError('malformed_cbor', `malformed CBOR ${subject}: ${detail}`, { cause });
  }
}

function notCanonical(detail: string): InputError {
  return new InputError(
    'non_canonical',
    `entry is not in the canonical form of RFC 8949 section 4.2.1: ${detail}`,
  );
}

function firstDifference(canonical: Uint8Array, bytes: Uint8Array): string {
  let i = 0;
  while (i < canonical.length && canonical[i] === bytes[i]) i++;
  return `it differs from its re-encoding at byte ${i} (${bytes.length} bytes, canonical ${canonical.length})`;
}

function encodeChecked(d: Decision, into?: EntryBuffer): Uint8Array {
  const map: Record<string, unknown> = {};
  for (const field of CBOR_KEY_ORDER) {
    const value = d[field];
    if (value !== undefined) map[field] = typeof value === 'number' ? cborUint(value) : value;
  }
  // cbor-x reuses its output buffer, so copy before the next encode overwrites it.
  const encoded = encoder.encode(map);
  if (encoded.length > MAX_ENTRY_SIZE) throw tooLarge(encoded.length);
  return into ? into.copy(encoded) : new Uint8Array(encoded);
}

/** Converts n above 2^32-1 to a bigint, which cbor-x writes as major type 0 with 0x1b, not as a float64. */
function cborUint(n: number): number | bigint {
  return n <= MAX_UINT32 ? n : BigInt(n);
}

function tooLarge(size: number): InputError {
  return new InputError(
    'entry_too_large',
    `entry is ${size} bytes encoded, more than the limit of ${MAX_ENTRY_SIZE}`,
  );
}

/** A record's fields by name, each ABSENT when the record does not have it. */
type Fields = Record<Field, unknown>;

/**
 * Returns fields that are all ABSENT. Every Fields object has the same
 * properties in the same order, so reading one by name stays fast.
 */
function absentFields(): Fields {
  return {
    v: ABSENT,
    id: ABSENT,
    time: ABSENT,
    decision: ABSENT,
    reason: ABSENT,
    iss: ABSENT,
    aud: ABSENT,
    key_domain: ABSENT,
    kid: ABSENT,
    alg: ABSENT,
    tenant: ABSENT,
    rp: ABSENT,
    validator: ABSENT,
    policy: ABSENT,
    token_hash: ABSENT,
  };
}

/** Reads the own fields of a plain object or of a Map with text keys, and rejects unknown names. */
function recordFields(value: unknown, subject: string): Fields {
  const fields = absentFields();
  const unknown: string[] = [];
  if (value instanceof Map) {
    for (const [key, field] of value) addField(fields, unknown, subject, key, field);
  } else {
    if (!isPlainObject(value)) throw invalid(`${subject} must be a map, got ${describe(value)}`);
    // Object.keys lists the own enumerable names, as Object.entries does, without a pair per field.
    for (const key of Object.keys(value)) addField(fields, unknown, subject, key, value[key]);
  }
  if (unknown.length > 0) throw unknownFields(unknown);
  return fields;
}

/** Sets the field named `key`, or adds `key` to `unknown` when no field has that name. */
function addField(
  fields: Fields,
  unknown: string[],
  subject: string,
  key: unknown,
  value: unknown,
): void {
  if (typeof key !== 'string') {
    throw invalid(`${subject} keys must be text strings, got ${describe(key)}`);
  }
  if (FIELDS.has(key)) fields[key as Field] = value;
  else unknown.push(key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function unknownFields(names: string[]): InputError {
  const quoted = names.slice(0, 5).map((name) => describe(name));
  const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
  const noun = names.length === 1 ? 'field' : 'fields';
  return invalid(`unknown ${noun} ${quoted.join(', ')}${more}`);
}

/** Checks every field against the schema and builds the decision in table order. */
function parseFields(fields: Fields, source: Source): Decision {
  const get = (field: Field) => fieldValue(fields, field, source);
  const d: Decision = {
    v: parseVersion(get('v'), source),
    id: parseId(get('id')),
    time: parseTime(get('time'), source),
    decision: parseVerdict(get('decision')),
    reason: parseReason(get('reason')),
    iss: parseText('iss', get('iss'), MAX_TEXT_BYTES),
    aud: parseText('aud', get('aud'), MAX_TEXT_BYTES),
    key_domain: parseKeyDomain(get('key_domain')),
    kid: parseText('kid', get('kid'), MAX_TEXT_BYTES),
    rp: parseText('rp', get('rp'), MAX_TEXT_BYTES),
    validator: parseText('validator', get('validator'), MAX_VALIDATOR_BYTES),
  };
  checkReasonMatches(d);
  setOptionalText(d, 'alg', get('alg'));
  setOptionalText(d, 'tenant', get('tenant'));
  setOptionalText(d, 'policy', get('policy'));
  const hash = get('token_hash');
  if (hash !== ABSENT) d.token_hash = parseTokenHash(hash, source);
  return d;
}

const ABSENT = Symbol('absent');

/** Returns the field's value, or ABSENT for a missing optional field. A missing required field raises. */
function fieldValue(fields: Fields, field: Field, source: Source): unknown {
  const value = fields[field];
  if (value !== ABSENT && !(source.undefinedIsAbsent && value === undefined)) return value;
  if (OPTIONAL.has(field)) return ABSENT;
  throw invalid(`field "${field}": is required`);
}

function parseVersion(value: unknown, source: Source): 1 {
  if (uintValue(value, source) !== DECISION_VERSION) {
    fail('v', `must be the record version ${DECISION_VERSION}`, describe(value));
  }
  return DECISION_VERSION;
}

function parseId(value: unknown): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    fail(
      'id',
      'must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (a UUID or ULID)',
      describe(value),
    );
  }
  return value;
}

function parseTime(value: unknown, source: Source): number {
  const time = uintValue(value, source);
  if (time === undefined) {
    fail(
      'time',
      'must be an unsigned integer (Unix milliseconds) of at most 2^53-1',
      describe(value),
    );
  }
  return time;
}

/** Returns the value as a safe non-negative integer, or undefined. A bigint counts where the source allows it. */
function uintValue(value: unknown, source: Source): number | undefined {
  const n = typeof value === 'bigint' && source.bigints ? bigintToNumber(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function bigintToNumber(value: bigint): number | undefined {
  return value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function parseVerdict(value: unknown): 'accept' | 'reject' {
  if (value !== 'accept' && value !== 'reject')
    fail('decision', 'must be "accept" or "reject"', describe(value));
  return value;
}

function parseReason(value: unknown): string {
  const known = typeof value === 'string' && REASONS.includes(value);
  const custom =
    typeof value === 'string' &&
    value.length <= MAX_REASON_CHARS &&
    CUSTOM_REASON_PATTERN.test(value);
  if (!known && !custom) {
    const rule = `must be one of ${REASONS.join(', ')}, or "x-" then [a-z0-9_-] (at most ${MAX_REASON_CHARS} characters)`;
    fail('reason', rule, describe(value));
  }
  return value as string;
}

/** Checks that an accepted token has reason "ok" and that a rejected one has another reason. */
function checkReasonMatches(d: Decision): void {
  if (d.decision === 'accept' && d.reason !== 'ok') {
    fail('reason', 'must be "ok" when decision is "accept"', describe(d.reason));
  }
  if (d.decision === 'reject' && d.reason === 'ok') {
    fail('reason', 'must not be "ok" when decision is "reject"', describe(d.reason));
  }
}

function parseKeyDomain(value: unknown): string {
  if (typeof value !== 'string' || !KEY_DOMAIN_PATTERN.test(value)) {
    fail('key_domain', 'must match [a-z0-9][a-z0-9._-]{0,63}', describe(value));
  }
  return value;
}

/** Checks for a non-empty string of at most maxBytes of UTF-8, without controls, lone surrogates or U+FFFD. */
function parseText(field: Field, value: unknown, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    fail(field, 'must be a non-empty string', describe(value));
  }
  if (BAD_TEXT_PATTERN.test(value)) {
    fail(field, 'must not contain control characters, lone surrogates or U+FFFD', describe(value));
  }
  const size = value.length * 3 <= maxBytes ? value.length : utf8(value).length;
  if (size > maxBytes) {
    fail(field, `must be at most ${maxBytes} bytes in UTF-8`, `${size} bytes`);
  }
  return value;
}

function setOptionalText(d: Decision, field: 'alg' | 'tenant' | 'policy', value: unknown): void {
  if (value === ABSENT) return;
  if (value === null || value === undefined) {
    fail(
      field,
      'must be a non-empty string when present (omit an absent field, never null)',
      describe(value),
    );
  }
  d[field] = parseText(field, value, MAX_TEXT_BYTES);
}

/** Parses the SHA-256 of the token. Errors never echo the value, because a caller may have put the token here. */
function parseTokenHash(value: unknown, source: Source): Uint8Array {
  if (source.hashAs === 'hex') {
    if (typeof value !== 'string' || !HASH_HEX_PATTERN.test(value)) {
      const got = typeof value === 'string' ? `${value.length} characters` : kindOf(value);
      fail('token_hash', 'must be 64 lowercase hex characters (SHA-256 of the token)', got);
    }
    return fromHex(value, 'token_hash');
  }
  if (!(value instanceof Uint8Array) || value.length !== TOKEN_HASH_SIZE) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : kindOf(value);
    fail('token_hash', `must be ${TOKEN_HASH_SIZE} bytes (SHA-256 of the token)`, got);
  }
  return Uint8Array.from(value);
}

function fail(field: string, rule: string, got: string): never {
  throw invalid(`field "${field}": ${rule}, got ${got}`);
}

function invalid(message: string): InputError {
  return new InputError('invalid_decision', message);
}

/** Describes a value for an error message: strings quoted, escaped and cut to 40 characters. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return JSON.stringify(cut);
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  return kindOf(value);
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (value instanceof Uint8Array) return `a byte string of length ${value.length}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `a ${typeof value}`;
}

// Well-formedness scan of RFC 8949 section 3, run before cbor-x decodes.

/** The initial byte and argument of one CBOR data item (RFC 8949 section 3). */
interface Head {
  major: number;
  info: number;
  arg: number;
  start: number;
  end: number;
}

/** An array or map being scanned. A map counts keys and values as separate items. */
interface Container {
  remaining: number;
  keys?: Set<string>;
}

const MAX_NESTING = 8;
/** Tag of a uint8 typed array (RFC 8746 section 2), which cbor-x writes around Uint8Array by default. */
const TAG_UINT8_ARRAY = 64;
const SIMPLE_FALSE = 20;
const SIMPLE_UNDEFINED = 23;

/**
 * Walks the data items of `bytes` (RFC 8949 section 3) without building
 * values. It allows integers, floats, definite-length strings, arrays and
 * maps, false, true, null, undefined, and tag 64 around a byte string. It
 * rejects other tags, indefinite lengths, other simple values, duplicate
 * string or integer map keys, nesting deeper than MAX_NESTING and trailing
 * bytes. So the cbor-x extensions (records, packed values, shared
 * references) never see untrusted input, and no later key silently replaces
 * an earlier one. Each item takes at least one byte, so a forged count runs
 * into the end of the input.
 */
function scanItems(bytes: Uint8Array): void {
  const open: Container[] = [{ remaining: 1 }];
  let pos = 0;
  while (open.length > 0) {
    const container = open[open.length - 1]!;
    if (container.remaining === 0) {
      open.pop();
      continue;
    }
    container.remaining -= 1;
    // In a map of n pairs, keys come when 2n-1, 2n-3, ... items remain after them.
    const isKey = container.keys !== undefined && container.remaining % 2 === 1;
    const head = untag(readHead(bytes, pos), bytes);
    if (isKey) addKey(container.keys!, head, bytes);
    pos = skipItem(head, bytes, open);
  }
  if (pos !== bytes.length) {
    throw new ScanError('malformed', `${bytes.length - pos} bytes after the item`);
  }
}

/** Rejection by scanItems: bytes that are not CBOR, or CBOR that declog never accepts. */
class ScanError extends Error {
  constructor(
    readonly kind: 'malformed' | 'disallowed',
    message: string,
  ) {
    super(message);
  }
}

/** Reads the initial byte and its 0, 1, 2, 4 or 8 argument bytes (RFC 8949 section 3.1). */
function readHead(bytes: Uint8Array, pos: number): Head {
  if (pos >= bytes.length) throw truncatedAt(pos);
  const initial = bytes[pos]!;
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (info >= 28) {
    const byte = `0x${initial.toString(16).padStart(2, '0')}`;
    if (info === 31) throw disallowed(`indefinite length (initial byte ${byte})`, pos);
    throw new ScanError('malformed', `reserved initial byte ${byte} at offset ${pos}`);
  }
  const end = pos + 1 + (info < 24 ? 0 : 1 << (info - 24));
  if (end > bytes.length) throw truncatedAt(pos);
  let arg = info < 24 ? info : 0;
  // Above 2^53 the sum rounds, but such a length is past the end of any input either way.
  for (let i = pos + 1; i < end; i++) arg = arg * 256 + bytes[i]!;
  return { major, info, arg, start: pos, end };
}

/** Returns the head of the content of tag 64, the only tag allowed, or the head itself if untagged. */
function untag(head: Head, bytes: Uint8Array): Head {
  if (head.major !== 6) return head;
  if (head.arg !== TAG_UINT8_ARRAY) throw disallowed(`tag ${head.arg}`, head.start);
  const content = readHead(bytes, head.end);
  if (content.major !== 2) throw disallowed('tag 64 over an item that is not bytes', head.start);
  return content;
}

/** Records a string or integer map key, and rejects one already in the same map. */
function addKey(keys: Set<string>, head: Head, bytes: Uint8Array): void {
  const key = keyId(head, bytes);
  if (key === undefined) return;
  if (keys.has(key)) throw disallowed('duplicate map key', head.start);
  keys.add(key);
}

/** Returns a string that identifies a string or integer key by major type and value. */
function keyId(head: Head, bytes: Uint8Array): string | undefined {
  const { major, arg, start, end } = head;
  if (major === 0) return `+${arg}`;
  if (major === 1) return `-${arg}`;
  if (major !== 2 && major !== 3) return undefined;
  if (arg > bytes.length - end) throw truncatedAt(start);
  // One character per byte: keys of any length map one-to-one to strings.
  let id = major === 2 ? 'b' : 't';
  for (let i = end; i < end + arg; i++) id += String.fromCharCode(bytes[i]!);
  return id;
}

/** Skips the item's own bytes, returning the next offset, and opens the array or map it starts. */
function skipItem(head: Head, bytes: Uint8Array, open: Container[]): number {
  const { major, info, arg, start, end } = head;
  if (major === 2 || major === 3) {
    if (arg > bytes.length - end) throw truncatedAt(start);
    return end + arg;
  }
  if ((major === 4 || major === 5) && open.length > MAX_NESTING) {
    throw disallowed(`arrays and maps nested deeper than ${MAX_NESTING}`, start);
  }
  if (major === 4) open.push({ remaining: arg });
  if (major === 5) open.push({ remaining: 2 * arg, keys: new Set() });
  if (major === 7 && info <= 24 && (info < SIMPLE_FALSE || info > SIMPLE_UNDEFINED)) {
    throw disallowed(`simple value ${arg}`, start);
  }
  return end;
}

function disallowed(item: string, pos: number): ScanError {
  return new ScanError('disallowed', `${item} at offset ${pos}`);
}

function truncatedAt(pos: number): ScanError {
  return new ScanError('malformed', `input ends inside the item at offset ${pos}`);
}
