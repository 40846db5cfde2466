/**
 * Export bundles: a slice of the log that verifies offline. A bundle is one
 * CBOR map (RFC 8949) holding the signed checkpoint, the filter used, and
 * the entries with their indexes. In a filter bundle, each entry carries an
 * offline inclusion proof (c2sp.org/tlog-proof) against that checkpoint. In
 * a range bundle, the entries are all of [start, end) and the bundle carries
 * a completeness proof (range-proof.ts) instead, so no entry of the range
 * can be left out.
 *
 *     {"type": "declog-bundle/v1", "checkpoint": <signed note>,
 *      "filter": {...} | null,
 *      "range": {"start", "end", "left": [hash], "right": [hash]} | null,
 *      "entries": [{"index", "entry": bytes, "proof": <tlog-proof> | null}]}
 */
import { Decoder, Encoder } from 'cbor-x';
import { openCheckpoint, type Checkpoint } from '../checkpoint.js';
import { decisionToJSON, decodeDecision, type Decision } from '../decision.js';
import { DeclogError, InputError, VerificationError } from '../errors.js';
import { HASH_SIZE, leafHash } from '../hash.js';
import type { Verifier } from '../note.js';
import { parseTlogProof, type TlogProof } from '../tlog-proof.js';
import { verifyInclusion } from '../verify.js';
import { rootFromRange } from './range-proof.js';
import { bytesEqual, toHex } from '../encoding.js';

export const BUNDLE_TYPE = 'declog-bundle/v1';

/** Text filter fields a bundle may name, and the time bounds. */
const TEXT_FILTERS = ['kid', 'iss', 'aud', 'key_domain', 'tenant', 'rp', 'decision'] as const;

export interface BundleFilter {
  kid?: string;
  iss?: string;
  aud?: string;
  key_domain?: string;
  tenant?: string;
  rp?: string;
  decision?: string;
  /** Earliest decision time, Unix milliseconds, inclusive. */
  since?: number;
  /** Latest decision time, Unix milliseconds, inclusive. */
  until?: number;
}

export interface BundleEntry {
  index: number;
  entry: Uint8Array;
  /** c2sp.org/tlog-proof text (filter bundles), or null (range bundles). */
  proof: string | null;
}

export interface BundleRange {
  start: number;
  end: number;
  /** Compact range of [0, start), largest subtree first. */
  left: Uint8Array[];
  /** Right-hand siblings of the inclusion path of leaf end - 1, bottom-up. */
  right: Uint8Array[];
}

export interface Bundle {
  type: typeof BUNDLE_TYPE;
  checkpoint: string;
  filter: BundleFilter | null;
  range: BundleRange | null;
  entries: BundleEntry[];
}

const encoder = new Encoder({ useRecords: false, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** Encodes a bundle as CBOR. */
export function encodeBundle(bundle: Bundle): Uint8Array {
  return encoder.encode(bundle);
}

function malformed(reason: string): InputError {
  return new InputError('malformed_bundle', `malformed bundle: ${reason}`);
}

/** Decodes and shape-checks a bundle; signatures and proofs are checked by verifyBundle. */
export function decodeBundle(bytes: Uint8Array): Bundle {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (cause) {
    throw malformed(`not CBOR: ${(cause as Error).message}`);
  }
  const b = value as Record<string, unknown> | null;
  if (typeof b !== 'object' || b === null || b['type'] !== BUNDLE_TYPE) {
    throw malformed(`not a map with type ${BUNDLE_TYPE}`);
  }
  if (typeof b['checkpoint'] !== 'string') throw malformed('"checkpoint" is not text');
  if (!Array.isArray(b['entries'])) throw malformed('"entries" is not a list');
  return {
    type: BUNDLE_TYPE,
    checkpoint: b['checkpoint'],
    filter: checkFilter(b['filter']),
    range: b['range'] ? checkRange(b['range']) : null,
    entries: b['entries'].map(checkEntry),
  };
}

/**
 * Checks the filter a bundle claims: only the fields the verifier checks
 * each entry against, text values and integer time bounds. A claim the
 * verifier could not check would be printed as proved.
 */
function checkFilter(value: unknown): BundleFilter | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed('"filter" is not a map');
  const filter: BundleFilter = {};
  for (const [name, want] of Object.entries(value as Record<string, unknown>)) {
    if ((TEXT_FILTERS as readonly string[]).includes(name)) {
      if (typeof want !== 'string') throw malformed(`filter field ${name} is not text`);
      filter[name as (typeof TEXT_FILTERS)[number]] = want;
    } else if (name === 'since' || name === 'until') {
      filter[name] = count(want, `filter field ${name}`);
    } else {
      throw malformed(
        `filter field ${JSON.stringify(name.slice(0, 40))} is not one a bundle can prove`,
      );
    }
  }
  return filter;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${what} is not an integer from 0 to 2^53-1`);
  }
  return value;
}

function hashes(value: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(value)) throw malformed(`${what} is not a list`);
  return value.map((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
      throw malformed(`${what}[${i}] is not a ${HASH_SIZE}-byte hash`);
    }
    return new Uint8Array(h);
  });
}

function checkRange(value: unknown): BundleRange {
  const r = value as Record<string, unknown>;
  return {
    start: count(r['start'], 'range.start'),
    end: count(r['end'], 'range.end'),
    left: hashes(r['left'], 'range.left'),
    right: hashes(r['right'], 'range.right'),
  };
}

function checkEntry(value: unknown, i: number): BundleEntry {
  const e = value as Record<string, unknown> | null;
  if (typeof e !== 'object' || e === null) throw malformed(`entries[${i}] is not a map`);
  const entry = e['entry'];
  if (!(entry instanceof Uint8Array)) throw malformed(`entries[${i}].entry is not bytes`);
  const proof = e['proof'] ?? null;
  if (proof !== null && typeof proof !== 'string') throw malformed(`entries[${i}].proof`);
  return { index: count(e['index'], `entries[${i}].index`), entry: new Uint8Array(entry), proof };
}

/** What a verified bundle proves. */
export interface BundleReport {
  checkpoint: Checkpoint;
  signed: string;
  kind: 'filter' | 'range';
  filter: BundleFilter | null;
  range: { start: number; end: number } | null;
  entries: { index: number; decision: Decision }[];
}

/**
 * Verifies a bundle offline: the checkpoint's log signature and origin,
 * each entry's decoding and index order, then either each entry's
 * tlog-proof against the same checkpoint and the filter, or the range's
 * completeness proof. Throws VerificationError naming the first failure.
 */
export function verifyBundle(bytes: Uint8Array, log: Verifier): BundleReport {
  const bundle = decodeBundle(bytes);
  const signed = openCheckpoint(bundle.checkpoint, log);
  const { size } = signed.checkpoint;
  const entries = bundle.entries.map((e, i) => {
    if (e.index >= size) fail('invalid_proof', `entry ${e.index} is past tree size ${size}`);
    const prev = bundle.entries[i - 1];
    if (prev && prev.index >= e.index) fail('invalid_proof', `entry ${e.index} is out of order`);
    return { index: e.index, decision: decode(e) };
  });
  if (bundle.range) verifyRange(bundle, signed.checkpoint);
  else verifyEach(bundle, signed.checkpoint);
  return {
    checkpoint: signed.checkpoint,
    signed: signed.signed,
    kind: bundle.range ? 'range' : 'filter',
    filter: bundle.filter,
    range: bundle.range && { start: bundle.range.start, end: bundle.range.end },
    entries,
  };
}

function fail(code: 'invalid_proof' | 'entry_mismatch' | 'root_mismatch', reason: string): never {
  throw new VerificationError(code, `bundle does not verify: ${reason}`);
}

function decode(e: BundleEntry): Decision {
  try {
    return decodeDecision(e.entry);
  } catch (err) {
    return fail('entry_mismatch', `entry ${e.index} is not a decision: ${(err as Error).message}`);
  }
}

/**
 * Checks each entry's tlog-proof. Every proof must carry the bundle's
 * checkpoint verbatim, whose signature was verified once, so each entry
 * only needs its inclusion proof checked against that root.
 */
function verifyEach(bundle: Bundle, checkpoint: Checkpoint): void {
  for (const e of bundle.entries) {
    if (e.proof === null) fail('invalid_proof', `entry ${e.index} has no inclusion proof`);
    const proof = entryProof(e);
    if (proof.checkpoint !== bundle.checkpoint) {
      fail('invalid_proof', `entry ${e.index}: proof names another checkpoint`);
    }
    try {
      verifyInclusion(leafHash(e.entry), e.index, checkpoint.size, proof.proof, checkpoint.root);
    } catch (err) {
      if (!(err instanceof DeclogError)) throw err;
      fail('entry_mismatch', `entry ${e.index}: ${err.message}`);
    }
    const mismatch = filterMismatch(bundle.filter, decodeDecision(e.entry));
    if (mismatch) fail('entry_mismatch', `entry ${e.index} does not match the filter: ${mismatch}`);
  }
}

/** Parses an entry's tlog-proof, which must be for the entry's index. */
function entryProof(e: BundleEntry): TlogProof {
  let proof: TlogProof;
  try {
    proof = parseTlogProof(e.proof!);
  } catch (err) {
    if (!(err instanceof DeclogError)) throw err;
    return fail('invalid_proof', `entry ${e.index}: ${err.message}`);
  }
  if (proof.index !== e.index)
    fail('invalid_proof', `entry ${e.index}: proof is for ${proof.index}`);
  return proof;
}

function filterMismatch(filter: BundleFilter | null, d: Decision): string | undefined {
  if (!filter) return undefined;
  const json = decisionToJSON(d);
  for (const name of TEXT_FILTERS) {
    const want = filter[name];
    if (want !== undefined && json[name] !== want) return `${name} is not ${JSON.stringify(want)}`;
  }
  if (filter.since !== undefined && d.time < filter.since) return `time is before ${filter.since}`;
  if (filter.until !== undefined && d.time > filter.until) return `time is after ${filter.until}`;
  return undefined;
}

function verifyRange(bundle: Bundle, checkpoint: Checkpoint): void {
  const { start, end, left, right } = bundle.range!;
  const indexes = bundle.entries.map((e) => e.index);
  if (end - start !== indexes.length || indexes.some((index, i) => index !== start + i)) {
    fail(
      'invalid_proof',
      `range [${start}, ${end}) needs ${end - start} entries in order, the bundle has ${indexes.length}`,
    );
  }
  let root: Uint8Array;
  try {
    root = rootFromRange(
      left,
      start,
      bundle.entries.map((e) => leafHash(e.entry)),
      checkpoint.size,
      right,
    );
  } catch (err) {
    if (!(err instanceof DeclogError)) throw err;
    return fail('invalid_proof', `range [${start}, ${end}): ${err.message}`);
  }
  if (!bytesEqual(root, checkpoint.root)) {
    fail(
      'root_mismatch',
      `entries of range [${start}, ${end}) lead to root ${toHex(root)}, not the checkpoint's ${toHex(checkpoint.root)}`,
    );
  }
}
